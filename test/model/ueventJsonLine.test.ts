// o2stack monitor --json builds each line by hand (ueventJsonLine) for speed: it must be exactly
// what safeJson gives for the event's object, for any strings the kernel or udev can send.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { safeJson } from '../../lib/cli/output.js';
import type { ReceivedUevent } from '../../lib/kernel/uevent.js';
import { ueventJsonLine } from '../../lib/model/uevent.js';

const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('a', '"', '\\', '\n', '\x1b', '\x7f', '\x85', '\u2028', '\ud800', '\udc00', 'é', '😀') }));

describe('model: uevent JSON lines (monitor --json)', function () {
  it('ueventJsonLine equals safeJson of the event object (any strings, optional subsystem and seqnum)', function () {
    fc.assert(
      fc.property(
        text,
        text,
        fc.option(text, { nil: undefined }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.constantFrom('kernel', 'udev'),
        fc.constantFrom('kernel', 'userspace'),
        fc.dictionary(text, text),
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        (action, devpath, subsystem, seqnum, source, sender, env, time) => {
          const ev = { action, devpath, subsystem, seqnum, source, sender, env } as unknown as ReceivedUevent;
          const want = safeJson({ time, action, devpath, subsystem: subsystem ?? null, seqnum: seqnum ?? null, source, sender, env }) + '\n';
          assert.equal(ueventJsonLine(ev, time), want);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
