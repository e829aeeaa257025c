// `o2stack monitor --json`'s fast path: native/uevent_jsonl.cc formats plain kernel datagrams into
// JSON lines itself. Whatever it formats must be byte for byte what the JavaScript path gives
// (lib/model/uevent.ts parseUevent + ueventJsonLine), whatever it refuses must be refused by the
// JavaScript filter too, and what it leaves to JavaScript (null) must still come out, in order.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { loadNative } from '../../lib/kernel/native.js';
import { UeventListener, compileUeventFilter, sendUeventForTest } from '../../lib/kernel/uevent.js';
import { encodeLibudev, encodeUevent, parseUevent, ueventJsonLine } from '../../lib/model/uevent.js';
import { synthUevent, synthUnavailable, waitFor } from '../support/uevents.js';

const native = loadNative().uevent!;
const SENDERS = ['userspace', 'kernel', 'udevd'];
type Filter = { subsystem?: string[]; action?: string[]; devpathPrefix?: string[] };

/** What the JavaScript path makes of a datagram: its line, 'filtered', or 'malformed'. */
function viaJs(d: Buffer, sender: number, sec: number, usec: number, filter: Filter): string {
  const p = parseUevent(d);
  if (p.malformed) return 'malformed';
  if (!compileUeventFilter(filter)(p)) return 'filtered';
  return ueventJsonLine({ ...p, sender: SENDERS[sender]! }, Number(`${sec}.${String(usec).padStart(6, '0')}`));
}

// strings near the edges of "plain": printable ASCII, and the bytes that must send a datagram to JS
const piece = fc.oneof(
  { weight: 20, arbitrary: fc.stringMatching(/^[A-Za-z0-9_/.:-]{1,12}$/) },
  { weight: 1, arbitrary: fc.constantFrom('"', '\\', '\x1b', '\x7f', 'é', '\u0085', '=', '@', '__proto__', '0', '12', ' ', '') },
);
const text = fc.array(piece, { minLength: 1, maxLength: 3 }).map((a) => a.join(''));
const key = fc.oneof({ weight: 5, arbitrary: fc.constantFrom('ACTION', 'DEVPATH', 'SUBSYSTEM', 'SEQNUM', 'MAJOR', 'MINOR', 'DEVNAME', 'LOCKSPACE') }, { weight: 2, arbitrary: text });
const seqnum = fc.oneof(fc.nat().map(String), fc.constantFrom('0', '007', '9007199254740991', '9007199254740992', '12345678901234567', 'x1', ''));
const datagram = fc.oneof(
  { weight: 4, arbitrary: fc.record({ action: fc.constantFrom('add', 'change', 'online', 'offline', 'remove', 'move', 'bad action', ''), devpath: fc.oneof(fc.constant('/devices/virtual/mem/null'), text.map((t) => `/kernel/dlm/${t}`), text), env: fc.array(fc.tuple(key, fc.oneof(text, seqnum)), { maxLength: 8 }) }).map(({ action, devpath, env }) => {
    // kernel layout, with the header's ACTION/DEVPATH sometimes repeated differently or missing
    const strings = [`${action}@${devpath}`, ...env.map(([k, v]) => `${k}=${v}`)];
    return Buffer.from(strings.join('\0') + '\0', 'utf8');
  }) },
  { weight: 2, arbitrary: fc.record({ action: fc.constantFrom('add', 'change'), devpath: text.map((t) => `/devices/${t}`), subsystem: text, seq: seqnum, extra: fc.dictionary(key, text, { maxKeys: 4 }) }).map(({ action, devpath, subsystem, seq, extra }) => encodeUevent(action, devpath, { SUBSYSTEM: subsystem, ...extra, SEQNUM: seq })) },
  { weight: 1, arbitrary: fc.dictionary(key, text, { maxKeys: 5 }).map((env) => encodeLibudev(env)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)) },
);
const list = (...options: string[][]) => fc.constantFrom(...options).map((a) => [...a]);
const filter: fc.Arbitrary<Filter> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.record({ subsystem: list(['mem'], ['dlm', 'block'], [], ['x']), action: list(['change'], ['add', 'online']), devpathPrefix: list(['/devices/'], ['/kernel/dlm/', '/x'], ['']) }, { requiredKeys: [] }) },
);

describe('kernel/uevent JSON lines made by the addon (native/uevent_jsonl.cc)', function () {
  it('formats only what the JavaScript path formats identically; filters only what it filters', function () {
    let formatted = 0;
    fc.assert(
      fc.property(datagram, fc.constantFrom(0, 1, 2), fc.nat({ max: 10_000_000 }), fc.nat({ max: 999_999 }), filter, (d, sender, sec, usec, f) => {
        const got = native.formatJsonLineForTest(d, sender, sec, usec, f);
        if (got === null) return; // left to the JavaScript path
        const want = viaJs(d, sender, sec, usec, f);
        if (got === 'filtered') assert.equal(want, 'filtered', `the addon filtered ${JSON.stringify(d.toString('latin1'))}`);
        else {
          formatted++;
          assert.equal(got, want, `datagram ${JSON.stringify(d.toString('latin1'))}`);
        }
      }),
      { numRuns: 20_000 },
    );
    assert.ok(formatted > 1000, `only ${formatted} of 20,000 generated datagrams were formatted by the addon: the fast path is not exercised`);
  });

  it("formats the kernel's usual datagrams itself (the fast path is the common path)", function () {
    const d = encodeUevent('change', '/devices/virtual/mem/null', { SUBSYSTEM: 'mem', MAJOR: '1', MINOR: '3', DEVNAME: 'null', SEQNUM: '4711' });
    const line = native.formatJsonLineForTest(d, 1, 12, 340500, {});
    assert.equal(line, '{"time":12.3405,"action":"change","devpath":"/devices/virtual/mem/null","subsystem":"mem","seqnum":4711,"source":"kernel","sender":"kernel","env":{"ACTION":"change","DEVPATH":"/devices/virtual/mem/null","SUBSYSTEM":"mem","MAJOR":"1","MINOR":"3","DEVNAME":"null","SEQNUM":"4711"}}\n');
    assert.equal(native.formatJsonLineForTest(encodeUevent('online', `/kernel/dlm/${'A'.repeat(32)}`, { SUBSYSTEM: 'dlm', LOCKSPACE: 'A'.repeat(32), SEQNUM: '9' }), 1, 5, 0, { subsystem: ['dlm'] })?.startsWith('{"time":5,"action":"online"'), true);
    assert.equal(native.formatJsonLineForTest(d, 1, 1, 0, { subsystem: ['dlm'] }), 'filtered');
  });

  describe('a jsonLines listener (real netlink socket)', function () {
    before(function () {
      const why = synthUnavailable();
      if (why) {
        console.log(`    skipping: ${why}`);
        this.skip();
      }
    });

    it('emits the lines of plain and non-plain datagrams in the order sent, the non-plain ones made in JavaScript', async function () {
      const l = new UeventListener({ acceptUserspace: true, jsonLines: true, filter: { devpathPrefix: '/devices/o2s-jsonl/' } });
      try {
        let text = '';
        l.on('lines', (b: Buffer) => (text += b.toString('utf8')));
        const id = randomUUID();
        const sent = [
          encodeUevent('add', '/devices/o2s-jsonl/a', { SUBSYSTEM: 'x', TEST_ID: id, SEQNUM: '1' }),
          encodeUevent('change', '/devices/o2s-jsonl/b', { SUBSYSTEM: 'x', TEST_ID: id, NOTE: 'caf\u00e9 "quoted"' }), // not plain
          encodeUevent('change', '/devices/elsewhere', { TEST_ID: id }), // filtered (in the addon)
          encodeUevent('remove', '/devices/o2s-jsonl/c', { TEST_ID: id, '1': 'numeric key' }), // not plain
          encodeUevent('remove', '/devices/o2s-jsonl/d', { TEST_ID: id }),
          Buffer.from('garbage without a NUL'), // malformed
        ];
        sendUeventForTest(sent);
        await waitFor(() => text.split('\n').length > 4, 5000, 'four lines');
        const lines = text.trimEnd().split('\n').map((s) => JSON.parse(s) as { devpath: string; sender: string; env: Record<string, string>; time: number });
        assert.deepEqual(lines.map((x) => x.devpath), ['/devices/o2s-jsonl/a', '/devices/o2s-jsonl/b', '/devices/o2s-jsonl/c', '/devices/o2s-jsonl/d']);
        assert.equal(lines[1]!.env.NOTE, 'caf\u00e9 "quoted"');
        assert.deepEqual(Object.keys(lines[2]!.env)[0], '1');
        assert.ok(lines.every((x) => x.sender === 'userspace' && x.time > 0));
        const s = l.stats();
        assert.equal(s.emitted, 4);
        assert.equal(s.filtered, 1);
        assert.equal(s.droppedMalformed, 1);
        assert.equal(s.linesFromAddon, 2, 'the two plain datagrams were formatted by the addon');
      } finally {
        l.close();
      }
    });

    it("a kernel uevent's line from the addon parses to the event the JavaScript listener sees", async function () {
      const fast = new UeventListener({ jsonLines: true, filter: { subsystem: 'mem' } });
      const slow = new UeventListener({ filter: { subsystem: 'mem' } });
      try {
        let text = '';
        fast.on('lines', (b: Buffer) => (text += b.toString('utf8')));
        const seen: unknown[] = [];
        slow.on('event', (ev: { env: Record<string, string> }) => seen.push(ev));
        const uuid = synthUevent({ FOO: 'bar' });
        await waitFor(() => text.includes(uuid) && seen.length > 0, 5000, 'the synthetic uevent on both listeners');
        const line = text.split('\n').find((s) => s.includes(uuid))!;
        const ev = seen.find((e) => (e as { env: Record<string, string> }).env.SYNTH_UUID === uuid) as { action: string; devpath: string; subsystem: string; seqnum: number; env: Record<string, string> };
        const got = JSON.parse(line) as typeof ev & { sender: string; source: string };
        assert.deepEqual({ action: got.action, devpath: got.devpath, subsystem: got.subsystem, seqnum: got.seqnum, env: got.env }, { action: ev.action, devpath: ev.devpath, subsystem: ev.subsystem, seqnum: ev.seqnum, env: ev.env });
        assert.equal(got.sender, 'kernel');
        assert.ok((fast.stats().emitted ?? 0) >= 1);
      } finally {
        fast.close();
        slow.close();
      }
    });

    it('refuses a list of filters and async iteration (it emits lines, not events)', function () {
      assert.throws(() => new UeventListener({ jsonLines: true, filter: [{ subsystem: 'a' }, { subsystem: 'b' }] }), /one filter/);
      const l = new UeventListener({ jsonLines: true });
      try {
        assert.throws(() => l.events(), /emits 'lines'/);
      } finally {
        l.close();
      }
    });
  });
});
