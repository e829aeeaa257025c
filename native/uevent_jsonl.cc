// See uevent_jsonl.h: the JSON line of a plain kernel uevent, equal byte for byte to what
// lib/model/uevent.ts's ueventJsonLine(parseUevent(...)) gives, or kFallback.
#include "uevent_jsonl.h"

#include <string.h>

#include <string_view>

namespace o2s {
namespace jsonl {
namespace {

constexpr size_t kMaxKeys = 256;  // lib/model/uevent.ts MAX_UEVENT_KEYS
constexpr uint64_t kMaxSafeInteger = 9007199254740991ULL;
const char* const kSenders[] = {"userspace", "kernel", "udevd"};

bool Printable(unsigned char c) { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'; }

bool IsLetterOrUnderscore(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

bool AnyEqual(const std::vector<std::string>& list, std::string_view v) {
  for (const auto& s : list)
    if (v == s) return true;
  return false;
}

bool AnyPrefix(const std::vector<std::string>& list, std::string_view v) {
  for (const auto& s : list)
    if (v.substr(0, s.size()) == s) return true;
  return false;
}

void Quoted(std::string* out, std::string_view s) {
  out->push_back('"');
  out->append(s.data(), s.size());
  out->push_back('"');
}

}  // namespace

Outcome FormatLine(const char* data, size_t n, uint8_t sender, uint64_t sec, uint32_t usec, const Filter& filter, std::string* out) {
  // kernel form only: "ACTION@DEVPATH\0" then KEY=VALUE\0 pairs, the last byte NUL
  if (n < 2 || data[n - 1] != '\0' || (n >= 8 && memcmp(data, "libudev", 8) == 0)) return kFallback;
  if (sender > 2) return kFallback;
  // split into strings; every byte printable, no empty string
  std::string_view strings[kMaxKeys + 1];
  size_t count = 0;
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = static_cast<unsigned char>(data[i]);
    if (c == 0) {
      if (i == start || count == kMaxKeys + 1) return kFallback;
      strings[count++] = std::string_view(data + start, i - start);
      start = i + 1;
    } else if (!Printable(c)) {
      return kFallback;
    }
  }
  // the header: ACTION@/DEVPATH, ACTION of letters and '_'
  std::string_view header = strings[0];
  size_t at = header.find('@');
  if (at == std::string_view::npos || at == 0) return kFallback;
  std::string_view action = header.substr(0, at);
  std::string_view devpath = header.substr(at + 1);
  for (char c : action)
    if (!IsLetterOrUnderscore(c)) return kFallback;
  if (devpath.empty() || devpath[0] != '/') return kFallback;
  // the pairs
  std::string_view keys[kMaxKeys];
  std::string_view values[kMaxKeys];
  size_t pairs = count - 1;
  std::string_view subsystem, seqnum;
  bool haveSubsystem = false, haveSeqnum = false;
  for (size_t p = 0; p < pairs; p++) {
    std::string_view s = strings[p + 1];
    size_t eq = s.find('=');
    if (eq == std::string_view::npos || eq == 0) return kFallback;
    std::string_view key = s.substr(0, eq);
    if ((key[0] >= '0' && key[0] <= '9') || key == "__proto__") return kFallback;
    for (size_t q = 0; q < p; q++)
      if (keys[q] == key) return kFallback;
    keys[p] = key;
    values[p] = s.substr(eq + 1);
    if (key == "ACTION" && values[p] != action) return kFallback;
    if (key == "DEVPATH" && values[p] != devpath) return kFallback;
    if (key == "SUBSYSTEM") subsystem = values[p], haveSubsystem = true;
    if (key == "SEQNUM") seqnum = values[p], haveSeqnum = true;
  }
  // the filter (lib/kernel/uevent.ts compileUeventFilter, one filter)
  if ((filter.hasSubsystems && (!haveSubsystem || !AnyEqual(filter.subsystems, subsystem))) || (filter.hasActions && !AnyEqual(filter.actions, action)) ||
      (filter.hasDevpathPrefixes && !AnyPrefix(filter.devpathPrefixes, devpath)))
    return kFiltered;
  // the line
  out->append("{\"time\":");
  out->append(std::to_string(sec));
  if (usec != 0) {
    char frac[8];
    int len = 6;
    for (int i = 5; i >= 0; i--, usec /= 10) frac[i] = static_cast<char>('0' + usec % 10);
    while (frac[len - 1] == '0') len--;  // Number('12.340000') prints as 12.34
    out->push_back('.');
    out->append(frac, static_cast<size_t>(len));
  }
  out->append(",\"action\":");
  Quoted(out, action);
  out->append(",\"devpath\":");
  Quoted(out, devpath);
  out->append(",\"subsystem\":");
  if (haveSubsystem)
    Quoted(out, subsystem);
  else
    out->append("null");
  out->append(",\"seqnum\":");
  // parseSeqnum: 1 to 16 digits and a safe integer, printed as a number (no leading zeros)
  bool seqOk = haveSeqnum && !seqnum.empty() && seqnum.size() <= 16;
  uint64_t seq = 0;
  for (size_t i = 0; seqOk && i < seqnum.size(); i++) {
    if (seqnum[i] < '0' || seqnum[i] > '9') seqOk = false;
    else seq = seq * 10 + static_cast<uint64_t>(seqnum[i] - '0');
  }
  if (seqOk && seq <= kMaxSafeInteger)
    out->append(std::to_string(seq));
  else
    out->append("null");
  out->append(",\"source\":\"kernel\",\"sender\":\"");
  out->append(kSenders[sender]);
  out->append("\",\"env\":{");
  for (size_t p = 0; p < pairs; p++) {
    if (p > 0) out->push_back(',');
    Quoted(out, keys[p]);
    out->push_back(':');
    Quoted(out, values[p]);
  }
  out->append("}}\n");
  return kFormatted;
}

}  // namespace jsonl
}  // namespace o2s
