// Issue 11's proof on the real kernel, three VMs (vm/run-cluster.sh 3: nK = 192.0.2.K, NODE=K, one
// shared /dev/vda): the user stack in production with corosync (votes 3, 1, 1: n1 keeps quorum as
// nodes are fenced away around it)
// and `o2stack daemon` on every node, in this order:
//   1. startup fencing: n1 and n2 form the cluster while n3 is "powered off" (it starts nothing
//      yet); after the post-join delay node 3 is fenced ONCE (by the lowest daemon in the group then) before the
//      first lockspace starts: n1's mount completes only after that fence. Then n3 boots its stack
//      and mounts.
//   2. POSIX locks across nodes: n1 holds an exclusive fcntl lock on bytes 0-99; n2's F_SETLK on
//      50-149 gets EAGAIN and its F_GETLK names n1's lock (a negative pid: another node's); n3's
//      F_SETLKW on 10-19 waits; a disjoint range is granted; `o2stack plocks` shows the same table
//      on all three; n1's holder goes and n3 is granted.
//   3. n3 dies holding that lock while n1 waits for it: the fence agent runs exactly once in the
//      whole cluster (n1's and n2's fence logs together hold one entry for node 3), both survivors
//      recover, n1's waiter is granted, both write; the time from n3's death to writable is printed.
//   4. corosync is SIGKILLed on n2: n2's daemon stops its lockspaces and exits non-zero (a write
//      there does not complete); n1 fences n2 once and keeps writing.
// Locks are taken by test/vm/support/plock.py. Flags between the VMs travel over the link
// (test/vm/support/flags.ts), never over the volume, which may be frozen.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nativeSystem } from '../../../lib/kernel/system.js';
import { request } from '../../../lib/stack/daemon/controlSocket.js';
import { selectStack } from '../../../lib/stack/select.js';
import { clusterLogs, corosyncPid, FENCE_OK_AGENT, startCorosync, stopCorosync } from '../support/corosync.js';
import { awaitUserStackVolume, mkfsUserStack, mountLine as mountLineOf, within } from '../support/dlm.js';
import { FlagBoard } from '../support/flags.js';
import { answersPing, realBackend, requireTestVm, vmNode, waitFor } from '../support/kernel.js';
import { cli, fenceRunsIn, figure, lockspaceRows, readDaemonLog, root, sh, spawnDaemonInBackground, type DaemonLogLine } from '../support/run.js';

const DISK = '/dev/vda';
const MNT = '/mnt/shared';
const SOCK = '/run/o2stack.sock';
const DLOG = '/tmp/o2stack-daemon.log';
const FENCE_LOG = '/tmp/o2stack-fence.log';
const PLOCK = join(root, 'test/vm/support/plock.py');
const FILE = `${MNT}/records.db`;
const POST_JOIN_DELAY_MS = 8000;
const me = Number(process.env.NODE);
const mountLine = () => mountLineOf(MNT);
const daemonLog = () => readDaemonLog(DLOG);
const tOf = (l: DaemonLogLine | undefined) => (l ? Date.parse(l.t) : undefined);
/** fence agent runs for `node` in this VM's fence log */
const fencesOf = (node: number) => fenceRunsIn(FENCE_LOG, node);
// n1 carries 3 of the 5 votes: it keeps quorum alone once n3 and then n2 are gone (corosync refuses
// last_man_standing with auto_tie_breaker in an odd-sized cluster); n2 + n3 alone would not
const VOTES = [3, 1, 1];

/** plock.py in the background with its output lines. */
function plock(cmd: 'hold' | 'wait', start: number, len: number, mode: 'ex' | 'sh'): { child: ChildProcess; line: (ms: number) => Promise<string | undefined> } {
  const child = spawn('python3', [PLOCK, cmd, FILE, String(start), String(len), mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, line: async (ms) => ((await waitFor(() => out.includes('\n'), ms, 50)) ? out.split('\n')[0] : undefined) };
}
function plockNow(cmd: 'try' | 'getlk', start: number, len: number, mode: 'ex' | 'sh'): string {
  try {
    return execFileSync('python3', [PLOCK, cmd, FILE, String(start), String(len), mode], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' }).trim();
  } catch (e) {
    return `failed or hung: ${(e as Error).message}`;
  }
}
type PlockTable = { locks: { number: string; lock: { nodeid: number; pid: number; start: string; end: string; mode: string } }[]; waiters: { number: string; lock: { nodeid: number; pid: number; start: string; end: string; mode: string } }[] }[];
const plockTable = async (uuid: string) => (await request(SOCK, `plocks ${uuid}`)) as PlockTable;
const lockspaces = () => lockspaceRows(SOCK);

describe(`user stack in production, three VMs: startup fencing, POSIX locks, one fencer, corosync loss (this is n${me})`, function () {
  const k = realBackend();
  const flags = new FlagBoard(me);
  let uuid = '';
  let daemon: ChildProcess | undefined;
  const children: ChildProcess[] = [];
  let failed = false;

  async function startDaemon(): Promise<void> {
    daemon = await spawnDaemonInBackground(['--fence-agent', FENCE_OK_AGENT, '--post-join-delay', String(POST_JOIN_DELAY_MS), '--socket', SOCK], DLOG, 120_000, { ...process.env, O2STACK_FENCE_LOG: FENCE_LOG });
  }

  function mount(): void {
    process.env.O2STACK_DAEMON_SOCKET = SOCK;
    const m = cli(['mount', '--json', DISK, MNT], 240_000);
    assert.equal(m.code, 0, `o2stack mount failed: ${m.out}${m.err}`);
  }

  before(async function () {
    requireTestVm();
    assert.equal(vmNode(3), me);
    mkdirSync(MNT, { recursive: true });
    writeFileSync('/proc/sys/fs/ocfs2/nm/hb_ctl_path', '/bin/true');
    await flags.serve();
  });

  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    failed = true;
    // said at once: the other VMs may wait a long time for this one's flags
    console.log(`n${me} FAILED: ${this.currentTest.title}: ${this.currentTest.err?.message ?? ''}`);
  });

  after(async function () {
    flags.close();
    if (me === 3 && !failed) {
      // n3 dies holding its lock: the holder keeps it (its stdin closed, it sleeps on), and nothing
      // here may keep this process, and so the VM, from ending
      for (const c of children) {
        c.stdin?.destroy();
        c.stdout?.destroy();
        c.unref();
      }
      return;
    }
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (failed) {
      console.log(await clusterLogs());
      if (existsSync(DLOG)) console.log(readFileSync(DLOG, 'utf8').split('\n').slice(-80).join('\n'));
    }
    // n3 dies with everything running; n2 is cut off (its volume frozen): that is the test
    if (me !== 1 && !failed) return;
    if (me === 1 && mountLine()) await within(nativeSystem.umount(MNT), 60_000, 'cleanup umount').catch(() => undefined);
    if (daemon?.pid && daemon.exitCode === null) {
      try {
        process.kill(daemon.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    if (corosyncPid()) await stopCorosync().catch((e: unknown) => console.log(String(e)));
  });

  it('the pcmk volume (n1 makes it) and the user stack selected', async function () {
    if (me === 1) uuid = mkfsUserStack(DISK);
    else {
      uuid = (await awaitUserStackVolume(DISK, 180_000)) ?? '';
      assert.ok(uuid, 'no pcmk volume on /dev/vda within 180 s');
    }
    assert.ok(await selectStack(k, nativeSystem, 'pcmk'));
  });

  // 1. startup fencing
  if (me !== 3) {
    it('n1 and n2 form the cluster without n3; node 3 is fenced once, by one of them, before the first lockspace starts', async function () {
      this.timeout(400_000);
      const cs = await startCorosync({ clusterName: 'demo', nodes: 3, waitMembers: 2, votes: VOTES, waitS: 240 });
      figure(`n${me} corosync: 2 of 3 members quorate after ${cs.ms} ms`);
      await startDaemon();
      assert.ok(daemonLog().some((l) => l.event === 'model' && /startup fencing: node 3 not seen/.test(l.msg)), 'no startup-fencing line');
      const t0 = Date.now();
      mount(); // waits for the startup fence: no lockspace starts before it
      figure(`n${me} mount with startup fencing pending: ${Date.now() - t0} ms (post-join delay ${POST_JOIN_DELAY_MS} ms)`);
      const log = daemonLog();
      // node 3 fenced as seen here, or (a daemon that joined the group after the fence) every node
      // already accounted for by the member that answered its join
      const fenced = log.find((l) => l.event === 'model' && /node 3 fenced/.test(l.msg)) ?? log.find((l) => l.event === 'startup-unseen' && /every node seen/.test(l.msg));
      const joined = log.find((l) => l.event === 'ops' && l.msg.startsWith(`join ${uuid} with members`));
      assert.ok(fenced, `node 3 was not fenced: ${JSON.stringify(log.filter((l) => /startup|fence/.test(l.event + l.msg)))}`);
      assert.ok(joined && tOf(joined)! >= tOf(fenced)!, `the lockspace started before node 3 was fenced: ${JSON.stringify([fenced, joined])}`);
      // by the lowest member of the daemon group when the post-join delay ran out: n1, or n2 when
      // its daemon was alone in the group then (n1's started later); once in all (next test)
      assert.ok(fencesOf(3) <= 1, `n${me}'s fence log: ${existsSync(FENCE_LOG) ? readFileSync(FENCE_LOG, 'utf8') : '(none)'}`);
      flags.raise(`fences3=${fencesOf(3)}`);
      flags.raise('mounted');
    });
    if (me === 1) {
      it('n1: the fence agent ran once in the whole cluster for node 3 (n1 + n2)', async function () {
        this.timeout(400_000);
        assert.ok(await flags.awaitFlag(2, 'mounted', 300_000), 'n2 never mounted');
        const n2 = (await flags.of(2)).find((f) => f.startsWith('fences3='));
        assert.equal(fencesOf(3) + Number(n2?.slice(8)), 1);
        flags.raise('startup-fenced');
      });
    }
  } else {
    it('n3 boots after it was fenced: starts corosync and the daemon, mounts', async function () {
      this.timeout(500_000);
      assert.ok(await flags.awaitFlag(1, 'startup-fenced', 420_000), 'n1 never finished startup fencing');
      await startCorosync({ clusterName: 'demo', nodes: 3, votes: VOTES, waitS: 120 });
      await startDaemon();
      mount();
      const ok = await waitFor(async () => JSON.stringify(await lockspaces()) === JSON.stringify([[uuid, 'running', [1, 2, 3]]]), 120_000, 300);
      assert.ok(ok, `lockspaces: ${JSON.stringify(await lockspaces())}`);
      flags.raise('mounted');
    });
  }

  // 2. POSIX locks across three nodes
  it('POSIX locks: n1 holds 0-99 ex; n2 EAGAIN and F_GETLK names it; n3 F_SETLKW waits; a disjoint range is granted; the same table on all three', async function () {
    this.timeout(400_000);
    for (const n of [1, 2, 3]) assert.ok(await flags.awaitFlag(n, 'mounted', 300_000), `n${n} never mounted`);
    if (me === 1) {
      writeFileSync(FILE, 'x'.repeat(4096));
      execFileSync('sync');
      const h = plock('hold', 0, 100, 'ex');
      children.push(h.child);
      assert.equal(await h.line(60_000), 'held');
      flags.raise(`n1-holds=${h.child.pid}`);
    }
    const holderFlag = async () => (await flags.of(1)).find((f) => f.startsWith('n1-holds='));
    assert.ok(await waitFor(async () => (await holderFlag()) !== undefined, 120_000, 300), 'n1 never took its lock');
    const holderPid = Number((await holderFlag())!.slice('n1-holds='.length));
    if (me === 2) {
      assert.equal(plockNow('try', 50, 100, 'ex'), 'EAGAIN');
      assert.equal(plockNow('getlk', 50, 100, 'sh'), `locked ex 0 100 -${holderPid}`, 'F_GETLK must name n1\'s lock (pid negative: another node)');
      assert.equal(plockNow('try', 300, 50, 'ex'), 'granted');
      flags.raise('n2-checked');
    }
    let waiter: ReturnType<typeof plock> | undefined;
    if (me === 3) {
      waiter = plock('wait', 10, 10, 'ex');
      children.push(waiter.child);
      assert.equal(await waiter.line(3000), undefined, 'n3 was granted a range n1 holds');
      flags.raise('n3-waiting');
    }
    // the same table everywhere once n2 checked and n3 waits
    assert.ok(await flags.awaitFlag(2, 'n2-checked', 180_000), 'n2 never checked');
    assert.ok(await flags.awaitFlag(3, 'n3-waiting', 180_000), 'n3 never waited');
    const shape = async () => {
      const t = (await plockTable(uuid))[0]!;
      return JSON.stringify({ locks: t.locks.map((l) => [l.lock.nodeid, l.lock.start, l.lock.end, l.lock.mode]), waiters: t.waiters.map((l) => [l.lock.nodeid, l.lock.start, l.lock.end, l.lock.mode]) });
    };
    const want = JSON.stringify({ locks: [[1, '0', '99', 'ex']], waiters: [[3, '10', '19', 'ex']] });
    assert.ok(await waitFor(async () => (await shape()) === want, 30_000, 300), `n${me}'s plock table: ${await shape()}`);
    flags.raise('table-ok');
    if (me === 3) {
      assert.ok(await flags.awaitFlag(1, 'n1-released', 180_000), 'n1 never released');
      const t0 = Date.now();
      const line = await waiter!.line(60_000);
      assert.match(line ?? '', /^granted \d+$/, `n3's waiter: ${line}`);
      figure(`n3's F_SETLKW granted ${Date.now() - t0} ms after n1 said it released (flag poll included)`);
      flags.raise('n3-granted');
    }
    if (me === 1) {
      for (const n of [2, 3]) assert.ok(await flags.awaitFlag(n, 'table-ok', 120_000), `n${n}'s table differs`);
      children[0]!.kill('SIGKILL'); // the holder goes: the kernel's CLOSE unlock
      flags.raise('n1-released');
      assert.ok(await flags.awaitFlag(3, 'n3-granted', 120_000), 'n3 was never granted');
    }
  });

  // 3. n3 dies holding a lock n1 waits for
  if (me === 3) {
    it('n3 dies holding 10-19 (its VM powers off when this suite ends)', async function () {
      this.timeout(300_000);
      assert.ok(await flags.awaitFlag(1, 'n1-waiting-on-n3', 180_000), 'n1 never started waiting');
      console.log('n3: READY_TO_DIE (volume mounted, lock held, corosync and o2stack daemon running)');
    });
    return;
  }

  it('n3 dies holding a lock n1 waits for: one fence in the cluster, both survivors recover, the waiter is granted, both write', async function () {
    this.timeout(400_000);
    if (me === 1) {
      const w = plock('wait', 10, 10, 'ex');
      children.push(w.child);
      assert.equal(await w.line(3000), undefined, 'granted while n3 holds it');
      flags.raise('n1-waiting-on-n3');
      const gone = await waitFor(() => !answersPing('192.0.2.3'), 240_000, 100);
      assert.ok(gone, 'n3 still answers ping');
      const tGone = Date.now();
      const line = await w.line(120_000);
      assert.match(line ?? '', /^granted \d+$/, `n1's waiter after n3's death: ${line}`);
      const wr = await sh(`echo after-n3 > ${MNT}/after-n3-n1 && sync`, 120_000);
      assert.ok(wr.ok, `n1's write after n3's death: ${wr.out}`);
      figure(`n3 stopped answering ping -> n1's waiter granted and n1 writable: ${Date.now() - tGone} ms`);
      flags.raise(`fences3b=${fencesOf(3)}`);
      assert.ok(await flags.awaitFlag(2, 'wrote-after-n3', 180_000), 'n2 never wrote after n3 died');
      const n2 = (await flags.of(2)).find((f) => f.startsWith('fences3b='));
      // startup fencing ran once before; the death adds exactly one more, on one node
      assert.equal(fencesOf(3) + Number(n2?.slice(9)), 2, `fence runs for node 3: n1 ${fencesOf(3)}, n2 ${n2}`);
      flags.raise('n3-checked');
    } else {
      assert.ok(await flags.awaitFlag(1, 'n1-waiting-on-n3', 180_000), 'n1 never waited');
      assert.ok(await waitFor(() => !answersPing('192.0.2.3'), 240_000, 100), 'n3 still answers ping');
      const wr = await sh(`echo after-n3 > ${MNT}/after-n3-n2 && sync`, 120_000);
      assert.ok(wr.ok, `n2's write after n3's death: ${wr.out}`);
      flags.raise(`fences3b=${fencesOf(3)}`);
      flags.raise('wrote-after-n3');
    }
    const ok = await waitFor(async () => JSON.stringify(await lockspaces()) === JSON.stringify([[uuid, 'running', [1, 2]]]), 60_000, 300);
    assert.ok(ok, `lockspaces: ${JSON.stringify(await lockspaces())}`);
  });

  // 4. corosync killed on n2
  if (me === 2) {
    it("n2's corosync is SIGKILLed: its daemon stops the lockspace and exits 1; a write here does not complete", async function () {
      this.timeout(300_000);
      assert.ok(await flags.awaitFlag(1, 'n3-checked', 240_000), 'n1 never finished checking n3\'s death');
      const pid = corosyncPid()!;
      process.kill(pid, 'SIGKILL');
      const d = daemon!;
      assert.ok(await waitFor(() => d.exitCode !== null, 60_000, 200), 'the daemon kept running without corosync');
      assert.equal(d.exitCode, 1);
      const lost = daemonLog().find((l) => l.event === 'membership-down');
      assert.ok(lost && /every lockspace stopped/.test(lost.msg), `no clear membership-lost line: ${JSON.stringify(lost)}`);
      // the write blocks in the kernel (uninterruptible: even SIGKILL waits): its child is left
      // unref'd with no pipes, so that it cannot keep this process, and the VM, alive
      const w = spawn('sh', ['-c', `echo cut-off > ${MNT}/from-cut-off-n2 && sync`], { stdio: 'ignore', detached: true });
      w.unref();
      const ended = await waitFor(() => w.exitCode !== null, 15_000, 200);
      assert.ok(!(ended && w.exitCode === 0), 'a write completed on a node without membership');
      flags.raise('n2-cut-off');
      // stay up (serving the flag) until n1 has seen it; n1 checks the rest without n2
      assert.ok(await flags.awaitFlag(1, 'saw-n2-cut-off', 240_000), 'n1 never saw n2 cut off');
    });
    return;
  }

  it('n1 fences n2 once (corosync gone there) and keeps writing', async function () {
    this.timeout(300_000);
    assert.ok(await flags.awaitFlag(2, 'n2-cut-off', 240_000), 'n2 never cut off');
    flags.raise('saw-n2-cut-off');
    const ok = await waitFor(() => fencesOf(2) >= 1 && (k.tryList('/sys/kernel/config/dlm/cluster/comms') ?? []).every((e) => e.name !== '2'), 120_000, 300);
    assert.ok(ok, `n2 not fenced/removed: fence log ${existsSync(FENCE_LOG) ? readFileSync(FENCE_LOG, 'utf8') : '(none)'}`);
    assert.equal(fencesOf(2), 1);
    const w = await sh(`echo after-n2 > ${MNT}/after-n2 && sync`, 120_000);
    assert.ok(w.ok, `n1's write after n2 was cut off: ${w.out}`);
    assert.ok(await waitFor(async () => JSON.stringify(await lockspaces()) === JSON.stringify([[uuid, 'running', [1]]]), 60_000, 300));
    // the lock holders have the file open: they go first, or the volume is busy
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    assert.ok(await waitFor(() => children.every((c) => c.exitCode !== null || c.signalCode !== null), 30_000, 100), 'a lock holder did not exit');
    await within(nativeSystem.umount(MNT), 60_000, 'umount');
  });
});
