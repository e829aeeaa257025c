// UeventListener against this machine's kernel: synthetic uevents from sysfs, and datagrams
// injected by the addon's test-only sender. Needs root (skipped, saying why, otherwise).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readlinkSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { loadNative } from '../../lib/kernel/native.js';
import { UeventListener, UeventOverflowError, sendUeventForTest, type ReceivedUevent } from '../../lib/kernel/uevent.js';
import { dlmLockspaceEvent, encodeLibudev, encodeUevent } from '../../lib/model/uevent.js';
import { SYNTH_DEVICE, collect, exitOf, spawnTsx, synthUevent, synthUnavailable, waitFor } from '../support/uevents.js';

const LS = '632A924FDD844190BDA93C0DF6B94899';

describe('kernel/uevent UeventListener (real netlink socket)', function () {
  const listeners: UeventListener[] = [];
  const open = (o: ConstructorParameters<typeof UeventListener>[0] = {}) => {
    const l = new UeventListener(o);
    listeners.push(l);
    return l;
  };
  const collectEvents = (l: UeventListener, uuid?: string) => {
    const got: ReceivedUevent[] = [];
    l.on('event', (ev: ReceivedUevent) => {
      if (uuid === undefined || ev.env.SYNTH_UUID === uuid || ev.env.TEST_ID === uuid) got.push(ev);
    });
    return got;
  };

  before(function () {
    const why = synthUnavailable();
    if (why) {
      console.log(`    skipping real-kernel uevent tests: ${why}`);
      this.skip();
    }
  });
  afterEach(function () {
    for (const l of listeners.splice(0)) l.close();
  });

  it('receives a kernel uevent and parses it exactly', async function () {
    const l = open();
    const got: ReceivedUevent[] = [];
    l.on('event', (ev: ReceivedUevent) => got.push(ev));
    const uuid = synthUevent({ FOO: 'bar', ANSWER: '42' });
    await waitFor(() => got.some((e) => e.env.SYNTH_UUID === uuid), 5000, 'the synthetic uevent');
    const ev = got.find((e) => e.env.SYNTH_UUID === uuid)!;
    assert.equal(ev.action, 'change');
    assert.equal(ev.devpath, '/devices/virtual/mem/null');
    assert.equal(ev.subsystem, 'mem');
    assert.equal(ev.source, 'kernel');
    assert.equal(ev.sender, 'kernel');
    assert.equal(typeof ev.seqnum, 'number');
    assert.equal(ev.env.SEQNUM, String(ev.seqnum));
    assert.equal(ev.env.SYNTH_ARG_FOO, 'bar');
    assert.equal(ev.env.SYNTH_ARG_ANSWER, '42');
    assert.equal(ev.env.DEVNAME, 'null');
    assert.deepEqual(Object.keys(ev.env).slice(0, 3), ['ACTION', 'DEVPATH', 'SUBSYSTEM']);
    const s = l.stats();
    assert.ok(s.received >= 1 && s.emitted >= 1 && s.open);
    assert.equal(s.refed, false, 'unref by default');
    assert.ok(s.receiveBufferBytes >= 1 << 20, `receive buffer ${s.receiveBufferBytes}`);
  });

  it('filters by subsystem, action and devpath prefix', async function () {
    const all = open();
    const mem = open({ filter: { subsystem: 'mem', action: ['change'], devpathPrefix: '/devices/virtual/mem/' } });
    const block = open({ filter: { subsystem: 'block' } });
    const add = open({ filter: { action: 'add' } });
    const other = open({ filter: [{ devpathPrefix: '/kernel/' }, { subsystem: 'net' }] });
    const uuid = randomUUID();
    const gAll = collectEvents(all, uuid);
    const gMem = collectEvents(mem, uuid);
    const gBlock = collectEvents(block, uuid);
    const gAdd = collectEvents(add, uuid);
    const gOther = collectEvents(other, uuid);
    synthUevent({ F: '1' }, 'change', uuid);
    await waitFor(() => gAll.length === 1 && gMem.length === 1, 5000, 'events on the unfiltered and matching listeners');
    // the others saw the datagram (it was received and filtered), then it went nowhere
    await waitFor(() => block.stats().filtered >= 1 && add.stats().filtered >= 1 && other.stats().filtered >= 1, 2000, 'filtered counts');
    assert.equal(gBlock.length + gAdd.length + gOther.length, 0);
  });

  it('drops userspace datagrams by default and counts them; accepts them with acceptUserspace', async function () {
    const strict = open();
    const lax = open({ acceptUserspace: true, filter: { subsystem: 'dlm' } });
    const gStrict: ReceivedUevent[] = [];
    strict.on('event', (e: ReceivedUevent) => e.subsystem === 'dlm' && gStrict.push(e));
    const gLax = collectEvents(lax);
    const before = strict.stats().droppedSpoofed;
    sendUeventForTest(encodeUevent('online', `/kernel/dlm/${LS}`, { SUBSYSTEM: 'dlm', LOCKSPACE: LS, SEQNUM: '1' }));
    await waitFor(() => gLax.length === 1, 5000, 'the injected dlm event on the accepting listener');
    await waitFor(() => strict.stats().droppedSpoofed === before + 1, 2000, 'the spoofed count');
    assert.equal(gStrict.length, 0);
    const ev = gLax[0];
    assert.equal(ev.sender, 'userspace');
    assert.deepEqual(dlmLockspaceEvent(ev), { action: 'online', lockspace: LS, releaseRecover: false, seqnum: 1 });
    // a real kernel event still comes through the strict listener
    const got = collectEvents(strict);
    const uuid = synthUevent();
    await waitFor(() => got.some((e) => e.env.SYNTH_UUID === uuid), 5000, 'a kernel event after the spoof');
  });

  it('treats udevd re-broadcasts on group 2 as udev only when asked for group 2', async function () {
    const kernelOnly = open();
    const withUdev = open({ udev: true, filter: { subsystem: 'block' } });
    const id = randomUUID();
    const gUdev = collectEvents(withUdev, id);
    const gK = collectEvents(kernelOnly, id);
    sendUeventForTest(encodeLibudev({ ACTION: 'add', DEVPATH: '/devices/virtual/block/loop9', SUBSYSTEM: 'block', DEVNAME: '/dev/loop9', SEQNUM: '5', TEST_ID: id }), 2);
    await waitFor(() => gUdev.length === 1, 5000, 'the libudev message');
    assert.equal(gUdev[0].sender, 'udevd');
    assert.equal(gUdev[0].source, 'udev');
    assert.equal(gUdev[0].env.DEVNAME, '/dev/loop9');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(gK.length, 0, 'a kernel-group listener does not see group 2');
    // a libudev-shaped datagram sent to the KERNEL group by userspace is a spoof
    const before = withUdev.stats().droppedSpoofed;
    sendUeventForTest(encodeLibudev({ ACTION: 'add', DEVPATH: '/x', SUBSYSTEM: 'block', TEST_ID: id }), 1);
    await waitFor(() => withUdev.stats().droppedSpoofed === before + 1, 2000, 'the spoof on group 1');
  });

  it('drops malformed datagrams, counts them and never throws', async function () {
    const l = open({ acceptUserspace: true });
    const malformed: string[] = [];
    l.on('malformed', (m: { reason: string }) => malformed.push(m.reason));
    const got = collectEvents(l);
    const before = l.stats().droppedMalformed;
    const bad = [
      Buffer.from('no at sign\0A=b\0'),
      Buffer.from('add@/x'), // no NUL
      Buffer.from('add@/x\0NOEQUALS\0'),
      Buffer.alloc(20000, 0x41), // longer than the native buffer: truncated, dropped natively
      Buffer.from('libudev\0garbage'),
    ];
    sendUeventForTest(bad);
    const id = randomUUID();
    sendUeventForTest(encodeUevent('change', '/devices/test', { SUBSYSTEM: 'test', TEST_ID: id }));
    await waitFor(() => got.some((e) => e.env.TEST_ID === id), 5000, 'the good datagram after the bad ones');
    assert.equal(l.stats().droppedMalformed - before, bad.length);
    assert.deepEqual(malformed.sort(), ['bad-libudev-header', 'bad-pair', 'no-at', 'no-nul']);
  });

  it('a burst of thousands of kernel uevents loses none', async function () {
    this.timeout(60000);
    const N = 5000;
    const l = open({ filter: { subsystem: 'mem', devpathPrefix: SYNTH_DEVICE.slice('/sys'.length) } });
    const tag = randomUUID().slice(0, 8);
    const seen = new Set<string>();
    l.on('event', (e: ReceivedUevent) => {
      if (e.env.SYNTH_ARG_BURST === tag) seen.add(e.env.SYNTH_UUID);
    });
    const sent: string[] = [];
    // Synchronous writes: the loop cannot drain while they run, so the whole burst sits in the
    // socket's receive queue. That is the worst case for loss.
    for (let i = 0; i < N; i++) sent.push(synthUevent({ BURST: tag, I: String(i) }));
    await waitFor(() => seen.size === N, 30000, `${N} events (have ${seen.size})`);
    for (const u of sent) assert.ok(seen.has(u));
    const s = l.stats();
    assert.equal(s.overflows, 0);
    assert.ok(s.wakeups < N, `batched: ${s.wakeups} wake-ups for ${N} events`);
  });

  it("reports overflow (ENOBUFS) as an 'overflow' event unless noEnobufs", async function () {
    const tiny = open({ acceptUserspace: true, receiveBufferBytes: 4096 });
    const silent = open({ acceptUserspace: true, receiveBufferBytes: 4096, noEnobufs: true });
    const overflows: { count: number; total: number }[] = [];
    tiny.on('overflow', (o: { count: number; total: number }) => overflows.push(o));
    let silentOverflow = 0;
    silent.on('overflow', () => silentOverflow++);
    // 300 datagrams while the loop is blocked: far more than 8 KiB of queue.
    const msgs = Array.from({ length: 300 }, (_, i) => encodeUevent('change', '/devices/flood', { SUBSYSTEM: 'test', I: String(i) }));
    sendUeventForTest(msgs);
    await waitFor(() => overflows.length > 0, 5000, 'an overflow event');
    assert.ok(tiny.stats().overflows >= 1);
    assert.equal(overflows[0].total, overflows[0].count);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(silentOverflow, 0);
    assert.equal(silent.stats().overflows, 0);
    assert.ok(silent.stats().received < 300, 'the silent listener did lose datagrams');
  });

  it('iterates with for await, and ends when closed', async function () {
    const l = open({ filter: { subsystem: 'mem' } });
    const uuids = [synthUevent(), synthUevent(), synthUevent()];
    const seen: string[] = [];
    for await (const ev of l) {
      if (uuids.includes(ev.env.SYNTH_UUID)) seen.push(ev.env.SYNTH_UUID);
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen, uuids);
    assert.ok(l.isOpen, 'breaking out does not close the listener');
    const it = l.events();
    setTimeout(() => l.close(), 20);
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });

  it('the iterator fails with E_UEVENT_OVERFLOW when its bounded queue overflows', async function () {
    const l = open({ acceptUserspace: true, filter: { subsystem: 'test' } });
    const it = l.events({ maxQueued: 10 });
    sendUeventForTest(Array.from({ length: 50 }, (_, i) => encodeUevent('change', '/devices/q', { SUBSYSTEM: 'test', I: String(i) })));
    await waitFor(() => l.stats().emitted === 50, 5000, '50 events');
    for (let i = 0; i < 10; i++) assert.equal((await it.next()).value?.env.I, String(i));
    await assert.rejects(it.next(), (e: unknown) => e instanceof UeventOverflowError && e.reason === 'queue' && e.lost === 40);
  });

  it('the iterator reports a kernel overflow in sequence', async function () {
    const l = open({ acceptUserspace: true, receiveBufferBytes: 4096 });
    const it = l.events();
    sendUeventForTest(Array.from({ length: 300 }, (_, i) => encodeUevent('change', '/devices/o', { SUBSYSTEM: 'test', I: String(i) })));
    let events = 0;
    let err: unknown;
    for (let i = 0; i < 400; i++) {
      try {
        await it.next();
        events++;
      } catch (e) {
        err = e;
        break;
      }
    }
    assert.ok(err instanceof UeventOverflowError && err.reason === 'kernel', String(err));
    assert.ok(events < 300);
  });

  it('close() closes the socket fd and is idempotent; ref/unref after close are no-ops', function () {
    const l = open();
    const fd = (loadNative().uevent!.stats as (h: unknown) => { fd: number })((l as unknown as { handle: unknown }).handle).fd;
    assert.ok(fd >= 0);
    const link = readlinkSync(`/proc/self/fd/${fd}`);
    assert.match(link, /^socket:\[\d+\]$/);
    l.ref();
    assert.equal(l.stats().refed, true);
    l.close();
    l.close();
    l.ref();
    l.unref();
    assert.equal(l.stats().open, false);
    assert.equal(l.stats().refed, false);
    // gone, or the number reused by something else
    const after = existsSync(`/proc/self/fd/${fd}`) ? readlinkSync(`/proc/self/fd/${fd}`) : undefined;
    assert.notEqual(after, link);
  });

  it('native handles are type-tagged', function () {
    const u = loadNative().uevent!;
    assert.throws(() => u.close({} as never), TypeError);
    assert.throws(() => u.stats(Object.create(null) as never), TypeError);
    const c = loadNative().control!;
    assert.throws(() => u.close(c as never), TypeError);
    assert.throws(() => new UeventListener({ receiveBufferBytes: 10 }), RangeError);
    assert.throws(() => new UeventListener({ kernel: false }), TypeError);
  });

  describe('process lifetime', function () {
    this.timeout(90000);
    const child = (body: string) => `
      import { UeventListener } from './lib/kernel/uevent.js';
      ${body}
    `;
    const run = async (body: string, ms: number) => {
      const c = spawnTsx(child(body));
      const io = collect(c);
      const r = await exitOf(c, ms);
      return { ...r, out: io.out(), err: io.err() };
    };

    it('an unref\'d listener does not keep the process alive', async function () {
      const r = await run(`const l = new UeventListener(); l.on('event', () => {}); process.stdout.write('open\\n');`, 60000);
      assert.equal(r.timedOut, false, 'process did not exit');
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, 'open\n');
    });

    it('a ref\'d listener keeps it alive (no timers) until close()', async function () {
      const id = randomUUID();
      const c = spawnTsx(
        child(`
        const l = new UeventListener({ ref: true, acceptUserspace: true, filter: { subsystem: 'lifetime-test' } });
        l.on('event', (e) => { process.stdout.write('got ' + e.env.ID + '\\n'); l.close(); });
        process.stdout.write('open\\n');`),
      );
      const io = collect(c);
      const exit = exitOf(c, 60000);
      await waitFor(() => io.out() === 'open\n', 50000, 'the child listener');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(c.exitCode, null, 'the child exited although its listener is ref\'d');
      sendUeventForTest(encodeUevent('change', '/devices/lifetime', { SUBSYSTEM: 'lifetime-test', ID: id }));
      const r = await exit;
      assert.equal(r.timedOut, false, 'close() did not release the loop');
      assert.equal(r.code, 0, io.err());
      assert.equal(io.out(), `open\ngot ${id}\n`);
    });

    it('an exception thrown by an event handler is an uncaught exception of the process (not swallowed)', async function () {
      const c = spawnTsx(
        child(`
        const l = new UeventListener({ ref: true, acceptUserspace: true, filter: { subsystem: 'throw-test' } });
        l.on('event', () => { throw new Error('boom from handler'); });
        process.stdout.write('open\\n');`),
      );
      const io = collect(c);
      const exit = exitOf(c, 60000);
      await waitFor(() => io.out() === 'open\n', 50000, 'the child listener');
      sendUeventForTest(encodeUevent('change', '/devices/throw', { SUBSYSTEM: 'throw-test' }));
      const r = await exit;
      assert.equal(r.timedOut, false);
      assert.equal(r.code, 1);
      assert.match(io.err(), /boom from handler/);
    });

    it('a ref\'d listener that is never closed does keep the process alive', async function () {
      const c = spawnTsx(child(`new UeventListener().ref(); process.stdout.write('open\\n');`));
      const io = collect(c);
      const exit = exitOf(c, 60000);
      await waitFor(() => io.out() === 'open\n', 50000, 'the child listener');
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(c.exitCode, null, `the child exited: ${io.err()}`);
      process.kill(c.pid!, 'SIGTERM');
      const r = await exit;
      assert.equal(r.signal, 'SIGTERM');
    });
  });

  it('works inside a Worker (the env\'s own loop), and the worker exits cleanly without close()', async function () {
    this.timeout(20000);
    const addon = new URL('../../build/Release/ocfs2_stack.node', import.meta.url).pathname;
    const uuid = randomUUID();
    const w = new Worker(
      `
      const { parentPort } = require('node:worker_threads');
      const a = require(${JSON.stringify(addon)});
      const h = a.uevent.open({}, (bufs) => {
        for (const b of bufs) if (b.toString('latin1').includes(${JSON.stringify(uuid)})) parentPort.postMessage('got');
      });
      a.uevent.ref(h);
      parentPort.postMessage('ready');
      `,
      { eval: true },
    );
    const msgs: string[] = [];
    w.on('message', (m: string) => msgs.push(m));
    await waitFor(() => msgs.includes('ready'), 10000, 'the worker');
    synthUevent({}, 'change', uuid);
    await waitFor(() => msgs.includes('got'), 5000, 'the event in the worker');
    // terminate without close(): the async cleanup hook must close the uv handle, or Node aborts
    const code = await w.terminate();
    assert.equal(code, 1);
  });
});
