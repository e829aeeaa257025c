// The binary plock request (lib/model/plockWire.ts): every request round-trips exactly, any other
// bytes are refused with a reason (never thrown on), JSON's u64 text is validated the same way,
// and a daemon that reads only JSON would not take the binary form for dlm_controld's protocol.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodePlockMessage, encodePlockJson } from '../../lib/model/plockSync.js';
import { decodePlockWire, encodePlockWire, isPlockWire, PLOCK_WIRE_BYTES, type PlockOp } from '../../lib/model/plockWire.js';

const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const op: fc.Arbitrary<PlockOp> = fc.record({
  type: fc.constant('plock' as const),
  op: fc.constantFrom('lock' as const, 'unlock' as const, 'get' as const, 'close' as const, 'cancel' as const),
  rid: u32,
  ex: fc.boolean(),
  wait: fc.boolean(),
  pid: u32,
  number: u64,
  start: u64,
  end: u64,
  owner: u64,
});

describe('model/plockWire: the binary plock request', function () {
  it('property: encode then decode gives the request and fsid back, 56 bytes, little endian', function () {
    fc.assert(
      fc.property(op, u32, (m, fsid) => {
        const b = encodePlockWire(m, fsid);
        assert.equal(b.length, PLOCK_WIRE_BYTES);
        assert.ok(isPlockWire(b));
        const d = decodePlockWire(b);
        assert.ok(d.ok, d.ok ? '' : d.why);
        assert.deepEqual(d.op, { ...m, fsid });
        // through the group-message decoder too (what the daemon calls on the delivered bytes)
        assert.deepEqual(decodePlockMessage(b), { ...m, fsid });
        assert.equal(Buffer.from(b).readBigUInt64LE(24), m.number);
      }),
      { numRuns: 500 },
    );
  });

  it('property: the JSON form round-trips too (u64s as decimal text)', function () {
    fc.assert(
      fc.property(op, (m) => {
        assert.deepEqual(decodePlockMessage(encodePlockJson('LS1', m)), { ...m, ls: 'LS1' });
        assert.deepEqual(decodePlockMessage(Buffer.from(encodePlockJson('LS1', m))), { ...m, ls: 'LS1' });
      }),
      { numRuns: 300 },
    );
  });

  it('refuses, with a reason, any other length, version, op, flags or reserved bytes', function () {
    const good = Buffer.from(encodePlockWire({ type: 'plock', op: 'lock', rid: 1, ex: true, wait: false, pid: 2, number: 3n, start: 4n, end: 5n, owner: 6n }, 7));
    const bad = (f: (b: Buffer) => Buffer, why: RegExp) => {
      const d = decodePlockWire(f(Buffer.from(good)));
      assert.equal(d.ok, false);
      if (!d.ok) assert.match(d.why, why);
      const m = decodePlockMessage(f(Buffer.from(good)));
      if (m !== undefined) assert.equal(m.type, 'plock-refused');
    };
    bad((b) => b.subarray(0, 55), /55 bytes/);
    bad((b) => Buffer.concat([b, Buffer.alloc(1)]), /57 bytes/);
    bad((b) => Buffer.concat([b, Buffer.alloc(1 << 20)]), /bytes, not 56/);
    bad((b) => b.subarray(0, 4), /no format version/);
    bad((b) => ((b[4] = 2), b), /format version 2/);
    bad((b) => ((b[5] = 0), b), /unknown op 0/);
    bad((b) => ((b[5] = 6), b), /unknown op 6/);
    bad((b) => ((b[6] = 4), b), /flags/);
    bad((b) => ((b[7] = 1), b), /flags/);
    bad((b) => ((b[21] = 1), b), /reserved/);
    bad((b) => ((b[2] = 0), b), /magic/);
  });

  it('property: arbitrary bytes never throw; with the magic they decode or are refused', function () {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (a, magic) => {
        const b = Buffer.from(a);
        if (magic && b.length >= 4) b.set([0x7b, 0, 0x50, 0x4c]);
        const m = decodePlockMessage(b);
        if (isPlockWire(b)) assert.ok(m && (m.type === 'plock' || m.type === 'plock-refused'));
      }),
      { numRuns: 1000 },
    );
  });

  it('a JSON request with a u64 that is not decimal text (or over 2^64-1) is refused, not thrown on later', function () {
    const base = JSON.parse(encodePlockJson('LS1', { type: 'plock', op: 'lock', rid: 1, ex: true, wait: false, pid: 2, number: 3n, start: 4n, end: 5n, owner: 6n })) as Record<string, unknown>;
    for (const [k, v] of [['number', 'abc'], ['start', '-1'], ['end', '18446744073709551616'], ['owner', '0x10'], ['number', '01'], ['rid', 1.5], ['pid', -1], ['op', 'steal']] as const) {
      assert.equal(decodePlockMessage(JSON.stringify({ ...base, [k]: v })), undefined, `${k}=${String(v)}`);
    }
    assert.equal(decodePlockMessage(JSON.stringify({ ...base, end: '18446744073709551615' }))?.type, 'plock');
  });

  it("starts with '{' and a NUL: a JSON-only daemon ignores it as one of ours, never takes it for dlm_controld's", function () {
    const b = encodePlockWire({ type: 'plock', op: 'unlock', rid: 9, ex: false, wait: false, pid: 1, number: 1n, start: 0n, end: 0n, owner: 1n }, 1);
    const text = Buffer.from(b).toString('utf8');
    // lib/model/dlmDaemon.ts: a message not starting with '{' is dlm_controld's protocol
    assert.ok(text.startsWith('{'));
    assert.ok(!text.startsWith('{"type":"plock'), "a previous daemon's plock decoder skips it");
    assert.throws(() => JSON.parse(text));
  });
});
