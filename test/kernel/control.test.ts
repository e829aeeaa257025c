// /dev/ocfs2_control client: exact T01 bytes and write sizes through the real native surface (a
// FIFO stands in for the device), the kernel's state machine and errors (a simulator), the
// guards, and the fd surviving GC.
import assert from 'node:assert/strict';
import { existsSync, readlinkSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import {
  ControlDevice,
  ControlGuardError,
  downHazard,
  encodeDown,
  encodeSetNode,
  encodeSetVersion,
  normalizeFsUuid,
  openControl,
  openControlDevices,
  userStackMounts,
  type DownHazard,
} from '../../lib/kernel/control.js';
import { KernelError } from '../../lib/kernel/errors.js';
import { loadNative } from '../../lib/kernel/native.js';
import { ControlKernelSim, makeFifoDevice, setPacketMode, type FifoDevice } from '../support/fakeControl.js';
import { collect, exitOf, spawnTsx } from '../support/uevents.js';

const UUID = '632A924FDD844190BDA93C0DF6B94899';
const DASHED = '632a924f-dd84-4190-bda9-3c0df6b94899';
const SAFE: DownHazard = { hazardous: false, reason: 'test: not fortified', configSource: 'test' };
const FORTIFIED: DownHazard = { hazardous: true, reason: 'test: CONFIG_FORTIFY_SOURCE=y', configSource: 'test' };
const MOUNTS_USER = [
  'proc /proc proc rw,relatime 0 0',
  '/dev/sdb1 /srv/shared\\040data ocfs2 rw,relatime,heartbeat=none,cluster_stack=pcmk,coherency=full 0 0',
].join('\n');
const MOUNTS_O2CB = '/dev/sdc1 /srv/o2 ocfs2 rw,relatime,heartbeat=local,coherency=full 0 0\n';

function guard(code: string, re?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof ControlGuardError, `expected ControlGuardError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    if (re) assert.match(e.message + ' ' + (e.hint ?? ''), re);
    return true;
  };
}

describe('kernel/control wire format', function () {
  it('encodes SETN, SETV and DOWN exactly (14, 11, 47 bytes)', function () {
    assert.equal(encodeSetNode(1).toString('latin1'), 'SETN 00000001\n');
    assert.equal(encodeSetNode(0x7fffffff).toString('latin1'), 'SETN 7FFFFFFF\n');
    assert.equal(encodeSetNode(255).length, 14);
    assert.equal(encodeSetVersion(1, 0).toString('latin1'), 'SETV 01 00\n');
    assert.equal(encodeSetVersion(0xab, 0xc).toString('latin1'), 'SETV AB 0C\n');
    assert.equal(encodeSetVersion(1, 0).length, 11);
    const d = encodeDown(UUID, 1);
    assert.equal(d.toString('latin1'), 'DOWN 632A924FDD844190BDA93C0DF6B94899 00000001\n');
    assert.equal(d.length, 47);
    assert.equal(encodeDown(DASHED, 0x1a).toString('latin1'), 'DOWN 632A924FDD844190BDA93C0DF6B94899 0000001A\n');
  });

  it('normalises dashed and lowercase UUIDs and refuses malformed ones', function () {
    assert.equal(normalizeFsUuid(DASHED), UUID);
    assert.equal(normalizeFsUuid(UUID.toLowerCase()), UUID);
    assert.equal(normalizeFsUuid(` ${UUID} `), UUID);
    for (const bad of ['', UUID.slice(1), UUID + '0', 'G' + UUID.slice(1), '632a924f-dd844190-bda9-3c0df6b94899', `${UUID}\n`.repeat(2), '{' + DASHED + '}']) {
      assert.throws(() => normalizeFsUuid(bad), guard('E_CONTROL_BAD_UUID'), bad);
    }
    assert.throws(() => normalizeFsUuid(42 as unknown as string), guard('E_CONTROL_BAD_UUID'));
  });

  it('refuses numbers that do not fit the fields', function () {
    for (const n of [-1, 0x80000000, 1.5, NaN, Infinity]) assert.throws(() => encodeSetNode(n), guard('E_CONTROL_BAD_NUMBER'), String(n));
    assert.throws(() => encodeSetVersion(256, 0), guard('E_CONTROL_BAD_NUMBER'));
    assert.throws(() => encodeSetVersion(1, -1), guard('E_CONTROL_BAD_NUMBER'));
    assert.throws(() => encodeDown(UUID, -1), guard('E_CONTROL_BAD_NUMBER'));
  });

  it('finds user-stack ocfs2 mounts (cluster_stack=) in /proc/mounts text', function () {
    assert.deepEqual(userStackMounts(MOUNTS_USER + '\n' + MOUNTS_O2CB), [{ device: '/dev/sdb1', mountpoint: '/srv/shared data', clusterStack: 'pcmk' }]);
    assert.deepEqual(userStackMounts(MOUNTS_O2CB), []);
    // o2cb mounts on newer kernels show cluster_stack=o2cb: still not the user stack
    assert.deepEqual(userStackMounts('/dev/sdd /mnt/x ocfs2 rw,relatime,heartbeat=local,cluster_stack=o2cb 0 0\n'), []);
    assert.deepEqual(userStackMounts(''), []);
  });
});

describe('kernel/control through the native surface (FIFO stand-in)', function () {
  let fifo: FifoDevice;
  const devices: ControlDevice[] = [];
  const open = (extra: Partial<Parameters<typeof ControlDevice.open>[0]> = {}) => {
    const d = ControlDevice.open({ path: fifo.path, mounts: () => '', hazard: () => SAFE, ...extra });
    devices.push(d);
    return d;
  };
  beforeEach(function () {
    fifo = makeFifoDevice();
  });
  afterEach(function () {
    for (const d of devices.splice(0)) d.close({ force: true });
    fifo.cleanup();
  });

  it('writes each message with one write(2) of its exact size (pipe packet mode)', function () {
    const d = open();
    const why = setPacketMode(d.fd);
    if (why) {
      console.log(`    skipping: cannot put the FIFO in packet mode (${why})`);
      this.skip();
    }
    d.handshake({ node: 2 });
    d.notifyNodeDown(DASHED, 3);
    d.notifyNodeDown(UUID.toLowerCase(), 0x7fffffff);
    const packets = fifo.drain().map((b) => b.toString('latin1'));
    assert.deepEqual(packets, [
      'T01\n',
      'SETN 00000002\n',
      'SETV 01 00\n',
      'DOWN 632A924FDD844190BDA93C0DF6B94899 00000003\n',
      'DOWN 632A924FDD844190BDA93C0DF6B94899 7FFFFFFF\n',
    ]);
    assert.deepEqual(packets.map((p) => p.length), [4, 14, 11, 47, 47]);
  });

  it('reads the offered protocols exactly once and never after the handshake', function () {
    const d = open();
    assert.deepEqual(d.readProtocols(), ['T01']);
    assert.throws(() => d.readProtocols(), guard('E_CONTROL_STATE', /re-reading/));
    d.selectProtocol();
    d.setVersion();
    d.setNode(5);
    assert.equal(d.state, 'valid');
    assert.equal(d.localNode, 5);
    assert.throws(() => d.readProtocols(), guard('E_CONTROL_STATE'));
    // handshake() on a VALID handle writes nothing more
    d.handshake({ node: 5 });
    assert.equal(Buffer.concat(fifo.drain()).toString('latin1'), 'T01\nSETV 01 00\nSETN 00000005\n');
    assert.throws(() => d.handshake({ node: 6 }), guard('E_CONTROL_STATE', /open a new handle/));
  });

  it('refuses a device that does not offer T01, writing nothing', function () {
    fifo.cleanup();
    fifo = makeFifoDevice('T02\n');
    const d = open();
    assert.throws(() => d.handshake({ node: 1 }), guard('E_CONTROL_PROTOCOL', /T02/));
    assert.deepEqual(fifo.drain(), []);
  });

  it('refuses DOWN for the local node, before the handshake, and with a malformed UUID; nothing is written', function () {
    const d = open();
    assert.throws(() => d.notifyNodeDown(UUID, 3), guard('E_CONTROL_STATE', /handshake/));
    d.handshake({ node: 3 });
    fifo.drain();
    assert.throws(() => d.notifyNodeDown(UUID, 3), guard('E_CONTROL_LOCAL_NODE', /BUG/));
    assert.throws(() => d.notifyNodeDown('not-a-uuid', 4), guard('E_CONTROL_BAD_UUID'));
    assert.throws(() => d.notifyNodeDown(UUID, -4), guard('E_CONTROL_BAD_NUMBER'));
    assert.deepEqual(fifo.drain(), []);
    d.notifyNodeDown(UUID, 4);
    assert.equal(Buffer.concat(fifo.drain()).length, 47);
    assert.equal(d.downs, 1);
  });

  it('FORTIFY guard: refuses DOWN on a hazardous kernel unless kernelFixed, explaining the bug and the alternative', function () {
    const d = open({ hazard: () => FORTIFIED });
    d.handshake({ node: 1 });
    fifo.drain();
    assert.throws(
      () => d.notifyNodeDown(UUID, 2),
      (e: unknown) => {
        assert.ok(e instanceof ControlGuardError);
        assert.equal(e.code, 'E_CONTROL_FORTIFY');
        assert.match(e.message, /FORTIFY/);
        assert.match(e.hint ?? '', /recover_callbacks/);
        assert.match(e.hint ?? '', /kernelFixed/);
        return true;
      },
    );
    assert.deepEqual(fifo.drain(), []);
    d.notifyNodeDown(UUID, 2, { kernelFixed: true });
    assert.equal(Buffer.concat(fifo.drain()).toString('latin1'), 'DOWN 632A924FDD844190BDA93C0DF6B94899 00000002\n');
  });

  it('the default hazard check uses this kernel config', function () {
    const d = open({ hazard: undefined });
    d.handshake({ node: 1 });
    const h = downHazard();
    if (h.hazardous) assert.throws(() => d.notifyNodeDown(UUID, 2), guard('E_CONTROL_FORTIFY'));
    else d.notifyNodeDown(UUID, 2);
  });

  it('close() refuses while user-stack volumes are mounted (the kernel would restart the machine), unless force', function () {
    let table = MOUNTS_USER;
    const d = open({ mounts: () => table });
    d.handshake({ node: 1 });
    assert.throws(
      () => d.close(),
      (e: unknown) => {
        assert.ok(e instanceof ControlGuardError);
        assert.equal(e.code, 'E_CONTROL_MOUNTED');
        assert.match(e.message, /restart the machine/);
        assert.match(e.message, /\/srv\/shared data/);
        return true;
      },
    );
    assert.equal(d.state, 'valid');
    assert.ok(existsSync(`/proc/self/fd/${d.fd}`));
    assert.ok(openControlDevices().includes(d));
    // o2cb ocfs2 mounts do not count
    table = MOUNTS_O2CB;
    const fd = d.fd;
    d.close();
    assert.equal(d.state, 'closed');
    assert.ok(!openControlDevices().includes(d));
    assert.ok(!existsSync(`/proc/self/fd/${fd}`) || !readlinkSync(`/proc/self/fd/${fd}`).endsWith('ocfs2_control'));
    d.close(); // idempotent
    assert.throws(() => d.notifyNodeDown(UUID, 2), guard('E_CONTROL_CLOSED'));
  });

  it('close() with force closes even with mounts; an unreadable mount table refuses', function () {
    const d = open({
      mounts: () => {
        throw new Error('EACCES /proc/mounts');
      },
    });
    d.handshake({ node: 1 });
    assert.throws(() => d.close(), guard('E_CONTROL_MOUNTED', /could not be read/));
    d.close({ force: true });
    assert.equal(d.state, 'closed');
    const e = open({ mounts: () => MOUNTS_USER });
    e.readProtocols();
    e.selectProtocol();
    assert.throws(() => e.close(), guard('E_CONTROL_MOUNTED'), 'past T01 the handle may be VALID');
    e.close({ force: true });
  });

  it('close() before T01 needs no mount check (a handle that never reached VALID is harmless)', function () {
    const d = open({ mounts: () => MOUNTS_USER });
    d.readProtocols();
    d.close();
    assert.equal(d.state, 'closed');
  });

  it('open errors are KernelErrors with a hint', function () {
    assert.throws(
      () => ControlDevice.open({ path: '/nonexistent/ocfs2_control' }),
      (e: unknown) => e instanceof KernelError && e.code === 'ENOENT' && e.syscall === 'open' && e.path === '/nonexistent/ocfs2_control' && /modprobe ocfs2_stack_user/.test(e.hint ?? ''),
    );
    if (!existsSync('/dev/ocfs2_control') && !existsSync('/dev/misc/ocfs2_control')) {
      assert.throws(() => ControlDevice.open(), (e: unknown) => e instanceof KernelError && e.code === 'ENOENT' && e.path === '/dev/ocfs2_control');
    }
  });

  it('native handles are type-tagged; writes are bounded; a closed handle gives EBADF', function () {
    const c = loadNative().control!;
    const u = loadNative().uevent!;
    assert.throws(() => c.write({} as never, 'T01\n'), TypeError);
    assert.throws(() => c.close(Object.create(null) as never), TypeError);
    const l = u.open({}, () => {});
    try {
      assert.throws(() => c.write(l as never, 'T01\n'), TypeError);
    } finally {
      u.close(l);
    }
    const h = c.open(fifo.path);
    assert.throws(() => c.write(h, Buffer.alloc(65, 0x41)), RangeError);
    assert.throws(() => c.write(h, ''), RangeError);
    assert.equal(c.read(h, 64).toString(), 'T01\n');
    assert.equal(c.write(h, 'abc'), 3);
    assert.deepEqual(c.info(h), { fd: c.info(h).fd, path: fifo.path, open: true, reads: 1, writes: 1 });
    assert.equal(c.close(h), true);
    assert.equal(c.close(h), false);
    assert.throws(() => c.write(h, 'x'), (e: unknown) => (e as { code?: string }).code === 'EBADF' && (e as { syscall?: string }).syscall === 'write');
  });
});

describe('kernel/control against the kernel state machine (simulator)', function () {
  const hazard = () => SAFE;

  it('maps kernel errors to KernelErrors with hints', function () {
    const k = new ControlKernelSim();
    const a = ControlDevice.open({ openIo: () => k.open(), mounts: () => '', hazard });
    a.readProtocols();
    a.selectProtocol();
    assert.throws(() => a.setVersion(2, 0), (e: unknown) => e instanceof KernelError && e.code === 'EINVAL' && /01 00/.test(e.hint ?? ''));
    assert.throws(() => a.setVersion(0, 0), (e: unknown) => e instanceof KernelError && e.code === 'ERANGE' && /major 0/.test(e.hint ?? ''));
    a.setVersion(1, 0);
    a.setNode(1);
    assert.equal(a.state, 'valid');
    assert.equal(k.thisNode, 1);
    // a second handle with a different node number: EINVAL, and the hint says to reopen
    const b = ControlDevice.open({ openIo: () => k.open(), mounts: () => '', hazard });
    assert.throws(() => b.handshake({ node: 2 }), (e: unknown) => e instanceof KernelError && e.code === 'EINVAL' && /close it and open a new one/.test(e.hint ?? ''));
    b.close({ force: true });
    a.close();
  });

  it('routes DOWN for mounted volumes; the guards keep the simulated kernel alive', function () {
    const k = new ControlKernelSim();
    k.connections.add(UUID);
    k.running = { major: 1, minor: 0 }; // set by the mount (version_lock) in NO_CONTROLD mode
    let mounts = MOUNTS_USER;
    const d = openControl({ openIo: () => k.open(), mounts: () => mounts, hazard, node: 1 });
    d.notifyNodeDown(DASHED, 2);
    d.notifyNodeDown('00000000000000000000000000000000', 3); // unknown volume: accepted, ignored
    assert.deepEqual(k.downs, [[UUID, 2]]);
    assert.throws(() => d.notifyNodeDown(UUID, 1), guard('E_CONTROL_LOCAL_NODE'));
    assert.throws(() => d.close(), guard('E_CONTROL_MOUNTED'));
    assert.equal(k.crashed, undefined);
    assert.equal(k.opened, 1);
    // what the guard prevents: a forced close with a connection reboots the machine
    d.close({ force: true });
    assert.match(k.crashed ?? '', /emergency_restart/);
    mounts = '';
  });

  it('openControl closes a handle whose handshake failed before VALID', function () {
    const k = new ControlKernelSim();
    const first = openControl({ openIo: () => k.open(), mounts: () => '', hazard, node: 1 });
    const before = openControlDevices().length;
    assert.throws(() => openControl({ openIo: () => k.open(), mounts: () => '', hazard, node: 2 }), (e: unknown) => e instanceof KernelError && e.code === 'EINVAL');
    assert.equal(openControlDevices().length, before);
    first.close();
    assert.equal(k.opened, 0);
    assert.equal(k.thisNode, -1);
  });
});

describe('kernel/control downHazard', function () {
  const files = (m: Record<string, string | Buffer>) => (p: string) => (p in m ? Buffer.from(m[p]) : undefined);

  it('is hazardous with CONFIG_FORTIFY_SOURCE=y in /boot/config-<release>', function () {
    const h = downHazard({ release: '6.1.0-56-amd64', readFile: files({ '/boot/config-6.1.0-56-amd64': 'CONFIG_X=y\nCONFIG_FORTIFY_SOURCE=y\n' }) });
    assert.equal(h.hazardous, true);
    assert.equal(h.configSource, '/boot/config-6.1.0-56-amd64');
    assert.match(h.reason, /__fortify_strlen/);
    assert.match(h.reason, /ocfs2_control_write/);
  });

  it('is safe when FORTIFY is not set, falling back to /proc/config.gz', function () {
    const h = downHazard({ release: 'r', readFile: files({ '/proc/config.gz': gzipSync('# CONFIG_FORTIFY_SOURCE is not set\n') }) });
    assert.deepEqual([h.hazardous, h.configSource], [false, '/proc/config.gz']);
    const y = downHazard({ release: 'r', readFile: files({ '/proc/config.gz': gzipSync('CONFIG_FORTIFY_SOURCE=y\n') }) });
    assert.equal(y.hazardous, true);
  });

  it('counts an unknown config as hazardous (and a corrupt config.gz as unknown)', function () {
    const h = downHazard({ release: 'r', readFile: files({ '/proc/config.gz': 'not gzip' }) });
    assert.equal(h.hazardous, true);
    assert.equal(h.configSource, undefined);
    assert.match(h.reason, /not found/);
  });

  it('reads this machine (the result matches its config)', function () {
    const h = downHazard();
    assert.equal(typeof h.hazardous, 'boolean');
    if (h.configSource === undefined) assert.equal(h.hazardous, true);
  });
});

describe('kernel/control fd lifetime', function () {
  it('GC of the native handle and of a ControlDevice never closes the fd', async function () {
    this.timeout(90000);
    const code = `
      import { readlinkSync, existsSync } from 'node:fs';
      import { loadNative } from './lib/kernel/native.js';
      import { ControlDevice, openControlDevices } from './lib/kernel/control.js';
      const c = loadNative().control;
      let collected = false;
      const reg = new FinalizationRegistry(() => { collected = true; });
      let fd;
      (() => { const h = c.open('/dev/null'); fd = c.info(h).fd; reg.register(h, 'h'); })();
      for (let i = 0; i < 50 && !collected; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
      const nativeOk = collected && existsSync('/proc/self/fd/' + fd) && readlinkSync('/proc/self/fd/' + fd) === '/dev/null';
      let dfd;
      (() => { const d = ControlDevice.open({ path: '/dev/null', mounts: () => '' }); dfd = d.fd; })();
      for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
      const heldOk = openControlDevices().length === 1 && readlinkSync('/proc/self/fd/' + dfd) === '/dev/null';
      // and an explicit close does close it
      openControlDevices()[0].close();
      const closedOk = !existsSync('/proc/self/fd/' + dfd) || readlinkSync('/proc/self/fd/' + dfd) !== '/dev/null';
      process.stdout.write(JSON.stringify({ collected, nativeOk, heldOk, closedOk }));
    `;
    const child = spawnTsx(code, ['--expose-gc']);
    const io = collect(child);
    const r = await exitOf(child, 60000);
    assert.equal(r.code, 0, io.err());
    assert.deepEqual(JSON.parse(io.out()), { collected: true, nativeOk: true, heldOk: true, closedOk: true });
  });
});
