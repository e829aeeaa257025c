// /dev/dlm_plock through the real native surface, with a SOCK_SEQPACKET socketpair standing in for
// the device (it keeps records whole, as the device does): the daemon's side is a PlockDevice on
// one end, the "kernel" another PlockDevice on the other end. What is checked: the 64-byte layout
// both ways, batching, the per-fsid order of answers without `wait` (the kernel matches those to
// its oldest request), CLOSE requests that take no answer, errors shaped like fs errors.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { closeSync } from 'node:fs';
import { loadNative, type NativePlockHandle } from '../../lib/kernel/native.js';
import { answerInfo, decodePlockInfo, DLM_PLOCK_FL_CLOSE, encodePlockInfo, patchPlockAnswer, PLOCK_RECORD_BYTES, PlockDevice, plockSocketpairForTest, type PlockInfo, type PlockRequest } from '../../lib/kernel/plock.js';

const base: PlockInfo = {
  version: [1, 2, 0],
  optype: 1,
  ex: true,
  wait: false,
  flags: 0,
  pid: 4242,
  nodeid: 0,
  rv: 0,
  fsid: 0x8badf00d,
  number: 0x1234_5678_9abc_def0n,
  start: 0n,
  end: 0x7fffffffffffffffn,
  owner: 0xffff_8880_1234_5678n,
};

/** The native handle behind a PlockDevice (the test plays the kernel through it). */
function kernelHandle(d: PlockDevice): NativePlockHandle {
  return (d as unknown as { handle: NativePlockHandle }).handle;
}

/** Collects request batches until `n` records came. */
async function take(dev: PlockDevice, n: number): Promise<PlockRequest[]> {
  const got: PlockRequest[] = [];
  while (got.length < n) {
    const [batch] = (await once(dev, 'requests')) as [PlockRequest[]];
    got.push(...batch);
  }
  return got;
}

describe('kernel/plock: the dlm_plock record and device', function () {
  let daemon: PlockDevice | undefined;
  let kernel: PlockDevice | undefined;
  beforeEach(() => {
    const [a, b] = plockSocketpairForTest();
    daemon = new PlockDevice({ fd: a });
    kernel = new PlockDevice({ fd: b });
  });
  /** the kernel's side writes a request record */
  const kwrite = (rec: Buffer) => loadNative().plock!.write(kernelHandle(kernel!), rec);
  afterEach(() => {
    daemon?.close();
    kernel?.close();
  });

  it('encodes and decodes every field of struct dlm_plock_info (64 bytes, u64 exact)', function () {
    const b = encodePlockInfo({ ...base, nodeid: -3, rv: -11, wait: true, flags: 1 });
    assert.equal(b.length, PLOCK_RECORD_BYTES);
    const back = decodePlockInfo(b);
    assert.deepEqual(back, { ...base, nodeid: -3, rv: -11, wait: true, flags: 1 });
    // the fixed offsets of the uapi header: optype at 12, fsid at 28, number at 32, owner at 56
    assert.equal(b[12], 1);
    assert.equal(b.readUInt32LE(28), 0x8badf00d);
    assert.equal(b.readBigUInt64LE(32), base.number);
    assert.equal(b.readBigUInt64LE(56), base.owner);
    assert.throws(() => decodePlockInfo(Buffer.alloc(63)), RangeError);
  });

  it('an answer patched into the request\'s own bytes equals the answer encoded from its fields (rv; F_GETLK\'s conflict)', function () {
    const req: PlockInfo = { ...base, optype: 3, ex: false, pid: 77, nodeid: 5, fsid: 0xdeadbeef, number: 0xfedcba9876543210n, start: 12n, end: 0x7fffffffffffffffn, owner: 0x8000000000000001n };
    for (const [rv, fields] of [[0, undefined], [-11, undefined], [1, { ex: true, pid: -3, nodeid: 2, start: 5n, end: 9n }]] as const) {
      const want = encodePlockInfo(answerInfo(req, rv, fields));
      assert.deepEqual(patchPlockAnswer(encodePlockInfo(req), rv, fields), want);
    }
  });

  it('reads the kernel\'s requests in order and writes answers the other side reads whole', async function () {
    for (let i = 0; i < 5; i++) kwrite(encodePlockInfo({ ...base, pid: 100 + i, start: BigInt(i * 10), end: BigInt(i * 10 + 9) }));
    const reqs = await take(daemon!, 5);
    assert.deepEqual(reqs.map((r) => r.pid), [100, 101, 102, 103, 104]);
    assert.deepEqual(reqs.map((r) => r.seq), [0, 1, 2, 3, 4]);
    assert.ok(reqs.every((r) => r.answerable));
    for (const r of reqs) daemon!.answer(r, r.pid % 2 ? -11 : 0);
    const answers = await take(kernel!, 5);
    assert.deepEqual(answers.map((a) => [a.pid, a.rv, a.start]), reqs.map((r) => [r.pid, r.pid % 2 ? -11 : 0, r.start]));
    assert.equal(daemon!.counters.answers, 5);
    assert.equal(daemon!.stats()!.read, 5);
  });

  it('holds an answer without wait until every older one of its fsid is written (the kernel matches the oldest)', async function () {
    const w = (i: PlockInfo) => kwrite(encodePlockInfo(i));
    w({ ...base, pid: 1 }); // fsid A, no wait
    w({ ...base, pid: 2, fsid: 7 }); // another fsid
    w({ ...base, pid: 3 }); // fsid A
    w({ ...base, pid: 4, wait: true }); // a waiter: answered whenever
    const [r1, r2, r3, r4] = await take(daemon!, 4);
    assert.equal(daemon!.answer(r3!, 0), 0, 'r3 held behind r1');
    assert.equal(daemon!.answer(r4!, 0), 1, 'a waiter is written at once');
    assert.equal(daemon!.answer(r2!, 0), 1, 'another fsid is not held');
    assert.equal(daemon!.pendingOrdered(), 2);
    assert.equal(daemon!.answer(r1!, -11), 2, 'r1 releases r3');
    assert.equal(daemon!.pendingOrdered(), 0);
    const answers = await take(kernel!, 4);
    assert.deepEqual(answers.map((a) => a.pid), [4, 2, 1, 3]);
    assert.throws(() => daemon!.answer(r1!, 0), /no pending answer slot/);
  });

  it('a CLOSE request takes no answer; a GET answer carries the conflict but keeps number and owner', async function () {
    kwrite(encodePlockInfo({ ...base, optype: 2, flags: DLM_PLOCK_FL_CLOSE }));
    kwrite(encodePlockInfo({ ...base, optype: 3, ex: false }));
    const [close, get] = await take(daemon!, 2);
    assert.equal(close!.answerable, false);
    assert.equal(daemon!.answer(close!, 0), 0);
    assert.equal(daemon!.counters.closeRequests, 1);
    daemon!.answer(get!, 1, { ex: true, pid: 77, nodeid: 2, start: 5n, end: 9n });
    const [a] = await take(kernel!, 1);
    assert.deepEqual([a!.rv, a!.ex, a!.pid, a!.nodeid, a!.start, a!.end, a!.owner, a!.number, a!.optype], [1, true, 77, 2, 5n, 9n, base.owner, base.number, 3]);
  });

  it('the other side closing ends reading with an EOF error', async function () {
    kernel!.close();
    kernel = undefined;
    const [err] = (await once(daemon!, 'error')) as [Error & { code?: string; syscall?: string }];
    assert.equal(err.code, 'EOF');
    assert.equal(err.syscall, 'read');
  });

  it('errors: a missing device is ENOENT with syscall and path; a closed device refuses answers with EBADF', function () {
    assert.throws(
      () => new PlockDevice({ paths: ['/nonexistent/dlm_plock'] }),
      (e: Error & { code?: string; syscall?: string; path?: string; errno?: number }) => e.code === 'ENOENT' && e.syscall === 'open' && e.path === '/nonexistent/dlm_plock' && e.errno === -2,
    );
    const [a, b] = plockSocketpairForTest();
    const d = new PlockDevice({ fd: a });
    d.close();
    closeSync(b);
    assert.equal(d.open, false);
    assert.throws(() => d.answer({ ...base, wait: true, seq: 0, answerable: true }, 0), (e: Error & { code?: string }) => e.code === 'EBADF');
  });
});
