// The JSON line of a "plain" kernel uevent, written in C++ for `o2stack monitor --json` (150k
// events/s; parsing and formatting each event in JavaScript took ~10 µs of CPU, which capped it
// near 100k/s). The JavaScript path (lib/model/uevent.ts parseUevent + ueventJsonLine) stays the
// reference: this formats only datagrams whose line is certain to be the same byte for byte, and
// answers kFallback for every other one, which then takes the JavaScript path. Plain means:
// kernel wire form; every byte of every string printable ASCII other than '"' and '\\' (so no
// UTF-8 decoding and no JSON escape is involved); no empty string; an ACTION@/DEVPATH header; at
// most 256 KEY=VALUE pairs, no key starting with a digit (JavaScript orders integer-like keys
// first), no duplicate key, no `__proto__`; ACTION and DEVPATH, if present, equal to the header's.
// test/kernel/ueventJsonl.test.ts checks the equality on generated datagrams.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

namespace o2s {
namespace jsonl {

/** The monitor's filter: each list that is given must match (any of its values; an empty list matches nothing). */
struct Filter {
  bool hasSubsystems = false, hasActions = false, hasDevpathPrefixes = false;
  std::vector<std::string> subsystems;
  std::vector<std::string> actions;
  std::vector<std::string> devpathPrefixes;
};

enum Outcome { kFormatted, kFiltered, kFallback };

/**
 * Appends the JSON line (with its '\n') of the datagram data[0..n) to out, or leaves out as it
 * was. sender: 0 userspace, 1 kernel, 2 udevd; sec/usec: CLOCK_MONOTONIC at reception.
 */
Outcome FormatLine(const char* data, size_t n, uint8_t sender, uint64_t sec, uint32_t usec, const Filter& filter, std::string* out);

}  // namespace jsonl
}  // namespace o2s
