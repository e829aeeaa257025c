// Issue 7 on the real kernel (Debian 6.1, one VM, a user-stack volume on /dev/vda): the dlm
// lockspace uevents as UeventListener delivers them, the lockspace join and leave answered through
// NativeBackend (docs/kernel-interfaces.md#fs-dlm-configfs, docs/user-stack-daemon.md#lockspace-sequence:
// what dlm_controld would do for one node), and /dev/ocfs2_control through ControlDevice in legacy
// WITH_CONTROLD mode (docs/kernel-interfaces.md#dev-ocfs2_control): the handshake that a
// recover_callbacks=0 mount needs, the ESRCH without it, and the guards (local-node DOWN,
// malformed UUID, the FORTIFY DOWN hazard, close while mounted).
//
// Order matters: NO_CONTROLD mounts first, then legacy mode (recover_callbacks is read when a
// lockspace is created, none exists in between), and the mount that fails with ESRCH last.
// Figures (online event -> event_done written, mount and umount times) are printed with an
// "o2stack-figure:" prefix.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import type { NativeBackend } from '../../../lib/kernel/backend.js';
import { ControlDevice, ControlGuardError, controlHint, downHazard, openControl } from '../../../lib/kernel/control.js';
import { nativeSystem } from '../../../lib/kernel/system.js';
import { UeventListener } from '../../../lib/kernel/uevent.js';
import { isDlmOffline, isDlmOnline } from '../../../lib/model/uevent.js';
import { DLMC, DlmEventLog, NODE, configureDlm, joinOps, leaveOps, lockspaceId, mkfsUserStack, mountLine as mountLineOf, within } from '../support/dlm.js';
import { expectCodeAsync, realBackend, requireTestVm } from '../support/kernel.js';

const DISK = '/dev/vda';
const MNT = '/mnt/x';
const OTHER_NODE = 2;

/** A promise plus whether it has settled yet. */
function track<T>(p: Promise<T>): { p: Promise<T>; settled: () => boolean } {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  return { p, settled: () => done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ms = (a: bigint, b: bigint) => Number(b - a) / 1e6;
const mountLine = () => mountLineOf(MNT);
const dmesg = () => execFileSync('dmesg', { encoding: 'utf8' });
const figure = (s: string) => console.log(`o2stack-figure: ${s}`);

function expectGuard(fn: () => unknown, code: string): ControlGuardError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ControlGuardError, `expected ControlGuardError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ControlGuardError ${code}, but the call succeeded`);
}

describe('dlm lockspace uevents and /dev/ocfs2_control on the real kernel (user stack, one VM)', function () {
  let k: NativeBackend;
  let uuid: string;
  let listener: UeventListener;
  // `o2stack monitor --json`'s path: the addon formats the kernel's datagrams into JSON lines
  let jsonListener: UeventListener;
  let jsonText = '';
  let log: DlmEventLog;
  let ctl: ControlDevice | undefined;

  before(function () {
    requireTestVm();
    if (!existsSync(DISK)) throw new Error(`${DISK} is missing: this suite needs a blank disk (test/vm/run-suites.ts attaches one)`);
    k = realBackend();
    uuid = mkfsUserStack(DISK);
    assert.match(uuid, /^[0-9A-F]{32}$/);
    mkdirSync(MNT, { recursive: true });
    listener = new UeventListener({ kernel: true });
    jsonListener = new UeventListener({ kernel: true, jsonLines: true, filter: { subsystem: 'dlm' } });
    jsonListener.on('lines', (b: Buffer) => (jsonText += b.toString('utf8')));
    log = new DlmEventLog(listener, k);
  });

  after(async function () {
    // a test failed with the volume mounted: unmount first (answering the leave), because the
    // process exiting with a VALID control handle while mounted makes the kernel reboot the VM
    if (log && mountLine()) {
      log.auto = true;
      await within(nativeSystem.umount(MNT), 30_000, 'cleanup umount').catch(() => undefined);
    }
    try {
      ctl?.close();
    } catch {
      /* refused: still mounted */
    }
    listener?.close();
    jsonListener?.close();
  });

  describe('NO_CONTROLD (recover_callbacks = 1): the join and leave answered by hand', function () {
    it('selects the user stack and configures fs/dlm through NativeBackend (monitor open first)', function () {
      configureDlm(k, 1);
      assert.equal(k.read('/sys/fs/ocfs2/cluster_stack'), 'pcmk\n');
      assert.equal(k.read(`${DLMC}/cluster_name`), 'demo\n');
      assert.equal(k.read(`${DLMC}/recover_callbacks`), '1\n');
      assert.equal(k.read(`${DLMC}/comms/${NODE}/nodeid`), `${NODE}\n`);
      assert.equal(k.read(`${DLMC}/comms/${NODE}/addr_list`), 'AF_INET\t127.0.0.1\n');
      assert.deepEqual(k.tryList('/sys/kernel/dlm') ?? [], []);
    });

    it('the mount waits on the online uevent (LOCKSPACE = the volume UUID) until our answer, then completes', async function () {
      const from = log.entries.length;
      const t0 = process.hrtime.bigint();
      const m = track(nativeSystem.mount(DISK, MNT, 'ocfs2', 'cluster_stack=pcmk'));
      const online = await log.wait('online', uuid, from, 60_000);
      // the event exactly as the kernel sent it
      const ev = online.raw;
      assert.equal(ev.action, 'online');
      assert.equal(ev.devpath, `/kernel/dlm/${uuid}`);
      assert.equal(ev.subsystem, 'dlm');
      assert.equal(ev.env.LOCKSPACE, uuid);
      assert.equal(ev.env.ACTION, 'online');
      assert.equal(ev.sender, 'kernel');
      assert.equal(ev.source, 'kernel');
      assert.equal(typeof ev.seqnum, 'number');
      assert.ok(isDlmOnline(ev));
      assert.deepEqual(online.dlm, { action: 'online', lockspace: uuid, releaseRecover: false, seqnum: ev.seqnum });
      // 'add' comes first, with a lower sequence number
      const add = log.entries.slice(from).find((e) => e.dlm.action === 'add' && e.dlm.lockspace === uuid);
      assert.ok(add, 'no add uevent before online');
      assert.ok(add.dlm.seqnum! < online.dlm.seqnum!, `add ${add.dlm.seqnum} online ${online.dlm.seqnum}`);
      assert.ok(existsSync(`/sys/kernel/dlm/${uuid}/event_done`));
      // nobody answered: the mount must still be blocked in the kernel
      await sleep(1500);
      assert.equal(m.settled(), false, 'the mount finished before the online uevent was answered');
      assert.equal(mountLine(), undefined);
      const a0 = process.hrtime.bigint();
      const r = k.batch(joinOps(uuid));
      const a1 = process.hrtime.bigint();
      assert.equal(r.completed, 6);
      await within(m.p, 60_000, 'the mount after the join was answered');
      const t1 = process.hrtime.bigint();
      const line = mountLine();
      assert.ok(line, 'not in /proc/mounts');
      assert.match(line, /^\/dev\/vda \/mnt\/x ocfs2 .*cluster_stack=pcmk/);
      assert.equal(k.read('/sys/fs/ocfs2/active_cluster_plugin'), 'user\n');
      assert.equal(k.read(`${DLMC}/spaces/${uuid}/nodes/${NODE}/nodeid`), `${NODE}\n`);
      assert.equal(k.read(`/sys/kernel/dlm/${uuid}/id`), `${lockspaceId(uuid)}\n`);
      figure(`manual join: the 6 writes took ${ms(a0, a1).toFixed(2)} ms; mount returned ${ms(a1, t1).toFixed(1)} ms after event_done; online event ${ms(t0, online.at).toFixed(1)} ms after mount(2) started`);
    });

    it('a file written on the mounted volume reads back', function () {
      writeFileSync(`${MNT}/hello.txt`, 'hello from the user stack\n');
      execFileSync('sync');
      assert.equal(readFileSync(`${MNT}/hello.txt`, 'utf8'), 'hello from the user stack\n');
    });

    it('the umount waits on the offline uevent until our answer, then the lockspace is removed', async function () {
      const from = log.entries.length;
      const t0 = process.hrtime.bigint();
      const u = track(nativeSystem.umount(MNT));
      const off = await log.wait('offline', uuid, from, 60_000);
      assert.equal(off.raw.devpath, `/kernel/dlm/${uuid}`);
      assert.equal(off.raw.env.LOCKSPACE, uuid);
      assert.ok(isDlmOffline(off.raw));
      assert.deepEqual(off.dlm, { action: 'offline', lockspace: uuid, releaseRecover: false, seqnum: off.raw.seqnum });
      await sleep(1500);
      assert.equal(u.settled(), false, 'the umount finished before the offline uevent was answered');
      const a0 = process.hrtime.bigint();
      assert.equal(k.batch(leaveOps(uuid)).completed, 3);
      await within(u.p, 60_000, 'the umount after the leave was answered');
      const t1 = process.hrtime.bigint();
      assert.equal(mountLine(), undefined);
      const rm = await log.wait('remove', uuid, from, 10_000);
      assert.ok(rm.dlm.seqnum! > off.dlm.seqnum!);
      assert.equal(existsSync(`/sys/kernel/dlm/${uuid}`), false);
      assert.equal(k.tryList(`${DLMC}/spaces/${uuid}`), undefined);
      assert.equal(k.read('/sys/fs/ocfs2/active_cluster_plugin'), '');
      figure(`manual leave: umount returned ${ms(a0, t1).toFixed(1)} ms after our answer began; offline event ${ms(t0, off.at).toFixed(1)} ms after umount(2) started`);
    });

    it("the same dlm uevents as JSON lines made by the addon (monitor --json's path) equal the parsed events", function () {
      const raws = log.entries.filter((e) => e.dlm.lockspace === uuid).map((e) => e.raw);
      assert.deepEqual(raws.map((r) => r.action), ['add', 'online', 'offline', 'remove']);
      const lines = jsonText.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown> & { seqnum: number; time: number });
      for (const r of raws) {
        const line = lines.find((l) => l.seqnum === r.seqnum);
        assert.ok(line, `no JSON line for ${r.action} (seqnum ${r.seqnum}) in:\n${jsonText}`);
        const { time, ...rest } = line;
        assert.ok(time > 0);
        assert.deepEqual(rest, { action: r.action, devpath: r.devpath, subsystem: r.subsystem, seqnum: r.seqnum, source: r.source, sender: r.sender, env: r.env });
      }
      const n = jsonListener.stats();
      assert.equal(n.emitted, lines.length);
      assert.ok(n.emitted >= 4 && n.droppedMalformed === 0);
      assert.equal(n.linesFromAddon, n.emitted, "the kernel's dlm uevents are plain: every line was made by the addon");
    });

    it('answered from the event handler: online -> event_done latency and mount/umount times (3 cycles)', async function () {
      log.auto = true;
      try {
        for (let i = 0; i < 3; i++) {
          const from = log.entries.length;
          const t0 = process.hrtime.bigint();
          await within(nativeSystem.mount(DISK, MNT, 'ocfs2', 'cluster_stack=pcmk'), 60_000, 'mount');
          const t1 = process.hrtime.bigint();
          const on = await log.wait('online', uuid, from, 1000);
          assert.equal(on.answerError, undefined, String(on.answerError));
          assert.ok(on.answeredAt);
          assert.equal(readFileSync(`${MNT}/hello.txt`, 'utf8'), 'hello from the user stack\n');
          await within(nativeSystem.umount(MNT), 60_000, 'umount');
          const t2 = process.hrtime.bigint();
          const off = await log.wait('offline', uuid, from, 1000);
          assert.equal(off.answerError, undefined, String(off.answerError));
          assert.ok(off.answeredAt);
          figure(
            `cycle ${i + 1}: online -> event_done ${ms(on.at, on.answeredAt).toFixed(2)} ms, mount ${ms(t0, t1).toFixed(1)} ms; ` +
              `offline -> event_done ${ms(off.at, off.answeredAt).toFixed(2)} ms, umount ${ms(t1, t2).toFixed(1)} ms`,
          );
        }
        await log.wait('remove', uuid, log.entries.length - 1, 10_000).catch(() => undefined);
        assert.equal(mountLine(), undefined);
      } finally {
        log.auto = false;
      }
    });
  });

  describe('legacy WITH_CONTROLD (recover_callbacks = 0): /dev/ocfs2_control through ControlDevice', function () {
    before(function () {
      if (!log) this.skip();
    });

    it('recover_callbacks 0 is set while no lockspace exists', async function () {
      await waitGone(`/sys/kernel/dlm/${uuid}`, 10_000);
      assert.deepEqual(k.tryList('/sys/kernel/dlm') ?? [], []);
      k.write(`${DLMC}/recover_callbacks`, '0');
      assert.equal(k.read(`${DLMC}/recover_callbacks`), '0\n');
    });

    it('after the handshake (T01, SETN 1, SETV 01 00) the mount succeeds in WITH_CONTROLD mode', async function () {
      ctl = openControl({ node: NODE });
      assert.equal(ctl.state, 'valid');
      assert.equal(ctl.localNode, NODE);
      assert.equal(ctl.path, '/dev/ocfs2_control');
      const before = dmesg().length;
      log.auto = true;
      try {
        const t0 = process.hrtime.bigint();
        await within(nativeSystem.mount(DISK, MNT, 'ocfs2', 'cluster_stack=pcmk'), 60_000, 'legacy mount');
        figure(`legacy mount (handshaken control handle, join answered in the handler) ${ms(t0, process.hrtime.bigint()).toFixed(1)} ms`);
      } finally {
        log.auto = false;
      }
      assert.ok(mountLine(), 'not in /proc/mounts');
      assert.match(dmesg().slice(before), /older version of dlm_controld/, 'the kernel did not take the WITH_CONTROLD path');
      assert.equal(readFileSync(`${MNT}/hello.txt`, 'utf8'), 'hello from the user stack\n');
      writeFileSync(`${MNT}/legacy.txt`, 'legacy\n');
    });

    it('DOWN for the local node and DOWN with a malformed UUID are refused before the kernel sees them', function () {
      const c = ctl!;
      const local = expectGuard(() => c.notifyNodeDown(uuid, NODE), 'E_CONTROL_LOCAL_NODE');
      assert.match(local.message, /own number/);
      expectGuard(() => c.notifyNodeDown('not-a-uuid', OTHER_NODE), 'E_CONTROL_BAD_UUID');
      expectGuard(() => c.notifyNodeDown(uuid.slice(1), OTHER_NODE), 'E_CONTROL_BAD_UUID');
      assert.equal(c.downs, 0);
      assert.equal(c.state, 'valid');
    });

    it('DOWN for another node is refused on this FORTIFY kernel, with the explanation', function () {
      const bootConfig = `/boot/config-${release()}`;
      const seen = [bootConfig, '/proc/config.gz'].filter((p) => existsSync(p));
      const h = downHazard();
      assert.equal(h.hazardous, true, h.reason);
      if (seen.length === 0) {
        // what this guest sees: the host's /boot, no IKCONFIG
        assert.equal(h.configSource, undefined);
        assert.match(h.reason, /was not found/);
      } else {
        assert.equal(h.configSource, seen[0]);
        assert.match(h.reason, /CONFIG_FORTIFY_SOURCE=y/);
      }
      assert.match(h.reason, /__fortify_strlen/);
      const e = expectGuard(() => ctl!.notifyNodeDown(uuid, OTHER_NODE), 'E_CONTROL_FORTIFY');
      assert.ok(e.message.includes(h.reason), e.message);
      assert.match(e.hint ?? '', /recover_callbacks/);
      assert.equal(ctl!.downs, 0);
      console.log(`o2stack-note: the guest sees ${seen.length ? seen.join(', ') : 'no kernel config'}; guard: ${e.message.slice(0, 160)}...`);
    });

    it('close() refuses while mounted; after the umount it closes', async function () {
      const c = ctl!;
      const e = expectGuard(() => c.close(), 'E_CONTROL_MOUNTED');
      assert.match(e.message, /\/mnt\/x/);
      assert.equal(c.state, 'valid');
      log.auto = true;
      try {
        await within(nativeSystem.umount(MNT), 60_000, 'legacy umount');
      } finally {
        log.auto = false;
      }
      assert.equal(mountLine(), undefined);
      c.close();
      assert.equal(c.state, 'closed');
      ctl = undefined;
    });

    it('without a VALID handle the mount fails with ESRCH (the join answered); the lockspace it leaves behind gives EEXIST next time', async function () {
      await waitGone(`/sys/kernel/dlm/${uuid}`, 10_000);
      const from = log.entries.length;
      const before = dmesg().length;
      log.auto = true;
      let err;
      try {
        err = await expectCodeAsync(within(nativeSystem.mount(DISK, MNT, 'ocfs2', 'cluster_stack=pcmk'), 60_000, 'mount without control'), 'ESRCH');
      } finally {
        log.auto = false;
      }
      assert.equal(err.errno, -3);
      assert.match(controlHint('ESRCH', 'mount') ?? '', /left its dlm lockspace .* EEXIST/);
      assert.equal(mountLine(), undefined);
      // the kernel joined the lockspace first, then found no control daemon
      const on = await log.wait('online', uuid, from, 1000);
      assert.ok(on.answeredAt);
      assert.match(dmesg().slice(before), /Userspace control daemon is not present/);
      const events = log.entries.slice(from).map((e) => e.dlm.action);
      const leaked = existsSync(`/sys/kernel/dlm/${uuid}`);
      console.log(`o2stack-note: after ESRCH, dlm events ${events.join(',')}; lockspace left behind: ${leaked}`);
      assert.ok(!events.includes('offline') && leaked, `expected the failed mount to leave its lockspace (events ${events.join(',')})`);
      await expectCodeAsync(within(nativeSystem.mount(DISK, MNT, 'ocfs2', 'cluster_stack=pcmk'), 30_000, 'second mount'), 'EEXIST');
      assert.match(controlHint('EEXIST', 'mount') ?? '', /left it behind/);
    });
  });
});

async function waitGone(path: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (existsSync(path)) {
    if (Date.now() > end) throw new Error(`${path} still exists after ${timeoutMs} ms`);
    await sleep(100);
  }
}
