// Issue 14's partition fault on the real kernel, three VMs (vm/run-cluster.sh 3: nK = 192.0.2.K,
// one shared /dev/vda), corosync with one vote each (two of three are quorate) and `o2stack daemon`
// on every node, the volume mounted on all three. Then:
//   1. n3 cuts its own link (`ip link set eth0 down`) for CUT_MS. n3, alone and without quorum,
//      fences nobody and keeps its lockspace stopped; n1 and n2 keep quorum, fence node 3 once (the
//      test agent records and powers nothing, so n3 runs on) and write again.
//   2. n3 brings the link back: corosync merges the partition, and CPG reports each side's nodes
//      to the other as joining with reason nodeup (a stateful merge). The documented behaviour
//      (docs/user-stack-daemon.md#partition): n3, the side that was without quorum, yields — its
//      daemon logs `stateful-merge` and exits 1, having fenced nobody; n1 and n2 fail node 3 again
//      (it was "fenced" but kept its state), start nothing with it, fence it a second time once its
//      daemon has left, and go on writing with members 1,2.
// Flags between the VMs travel over the link (test/vm/support/flags.ts); while it is cut, each
// side checks on its own. n1 says 'done' last and serves its flags until the others have seen it.
// @vm-timeout 1200
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { FlagBoard } from '../support/flags.js';
import { mountedEverywhere } from '../support/mountedEverywhere.js';
import { realBackend, requireTestVm, vmNode, waitFor } from '../support/kernel.js';
import { daemonSaid, fenceRunsIn, figure, lockspaceRows, readDaemonLog, sh } from '../support/run.js';
import { tearDownUserStack, watchFailures } from '../support/teardown.js';

const DISK = '/dev/vda';
const MNT = '/mnt/shared';
const SOCK = '/run/o2stack.sock';
const DLOG = '/tmp/o2stack-daemon.log';
const FENCE_LOG = '/tmp/o2stack-fence.log';
// long enough for the majority to see node 3 go, fence it and write again under TCG
const CUT_MS = 90_000;
const me = Number(process.env.NODE);
const daemonLog = () => readDaemonLog(DLOG);
const modelSaid = (re: RegExp) => daemonSaid(DLOG, re);
/** fence agent runs for `node` in this VM's fence log */
const fencesOf = (node: number) => fenceRunsIn(FENCE_LOG, node);
const fenceRuns = () => fenceRunsIn(FENCE_LOG);
const lockspaces = () => lockspaceRows(SOCK);

/** n2 and n3 tell n1 they saw its 'done', and serve that long enough for n1 to read it. */
async function sawDone(): Promise<void> {
  board?.raise('saw-done');
  await new Promise((r) => setTimeout(r, 5000));
}
let board: FlagBoard | undefined;

describe(`a partition and its merge, three VMs on corosync: the side without quorum fences nobody and yields (this is n${me})`, function () {
  const k = realBackend();
  const flags = new FlagBoard(me);
  board = flags;
  let uuid = '';
  let daemon: ChildProcess | undefined;
  const run = watchFailures(me);

  before(async function () {
    requireTestVm();
    assert.equal(vmNode(3), me);
    mkdirSync(MNT, { recursive: true });
    writeFileSync('/proc/sys/fs/ocfs2/nm/hb_ctl_path', '/bin/true');
    await flags.serve();
  });

  after(async function () {
    this.timeout(180_000);
    flags.close();
    // n3 may still be cut off: its link comes back, so that its corosync can be stopped
    if (me === 3) await sh('ip link set eth0 up', 10_000);
    // n3's volume stays frozen (its daemon yielded): the VM powers off with it mounted
    await tearDownUserStack({ failed: run.failed, logs: [DLOG, FENCE_LOG], ...(me !== 3 ? { umount: MNT } : {}), ...(daemon?.pid !== undefined ? { daemonPid: daemon.pid } : {}) });
  });

  it('the pcmk volume (n1 makes it), the user stack, corosync on all three (one vote each), the daemon, mounted everywhere', async function () {
    this.timeout(600_000);
    uuid = await mountedEverywhere({ me, nodes: 3, k, flags, disk: DISK, mnt: MNT, sock: SOCK, daemonLog: DLOG, fenceLog: FENCE_LOG, corosync: { clusterName: 'demo', nodes: 3, waitMembers: 3, waitS: 300 }, onDaemon: (d) => (daemon = d) });
  });

  if (me === 3) {
    it('n3 cuts its link: without quorum it fences nobody and its lockspace stays stopped; then it brings the link back', async function () {
      this.timeout(CUT_MS + 120_000);
      // said before the cut, while the others can still read it
      flags.raise('cutting');
      await new Promise((r) => setTimeout(r, 3000));
      const tCut = Date.now();
      const cut = await sh('ip link set eth0 down', 10_000);
      assert.ok(cut.ok, cut.out);
      try {
        const lost = await waitFor(() => modelSaid(/quorum lost/) !== undefined, 60_000, 300);
        assert.ok(lost, 'n3 never logged the quorum loss');
        figure(`n3: link cut -> quorum lost logged ${Date.now() - tCut} ms`);
        const dead = await waitFor(() => [1, 2].every((n) => modelSaid(new RegExp(`node ${n} is dead`)) !== undefined), 60_000, 300);
        assert.ok(dead, 'n3 never saw nodes 1 and 2 go');
        assert.ok(await waitFor(async () => JSON.stringify(await lockspaces()) === JSON.stringify([[uuid, 'stopped', [1, 2, 3]]]), 30_000, 300), `lockspaces: ${JSON.stringify(await lockspaces())}`);
        // a write here must not complete: the lockspace is stopped (uninterruptible wait, so left
        // unref'd with no pipes: it must not keep this process, and the VM, alive)
        const wr = spawn('sh', ['-c', `echo cut-off > ${MNT}/cut-off-n3 && sync`], { stdio: 'ignore', detached: true });
        wr.unref();
        assert.ok(!(await waitFor(() => wr.exitCode !== null, 10_000, 200) && wr.exitCode === 0), 'a write completed on the side without quorum');
        // the rest of the cut: nothing may be fenced from here
        await new Promise((r) => setTimeout(r, Math.max(0, CUT_MS - (Date.now() - tCut))));
        assert.equal(fenceRuns(), 0, `n3 ran its fence agent without quorum: ${existsSync(FENCE_LOG) ? readFileSync(FENCE_LOG, 'utf8') : ''}`);
      } finally {
        await sh('ip link set eth0 up', 10_000);
      }
      figure(`n3: link back after ${Date.now() - tCut} ms`);
    });

    it('after the merge n3 yields: its daemon logs stateful-merge and exits 1, having fenced nobody', async function () {
      this.timeout(300_000);
      const t0 = Date.now();
      const d = daemon!;
      assert.ok(await waitFor(() => d.exitCode !== null, 240_000, 300), `the daemon did not exit after the merge: ${JSON.stringify(daemonLog().slice(-15))}`);
      figure(`n3: link back -> daemon exited ${Date.now() - t0} ms`);
      assert.equal(d.exitCode, 1);
      const y = daemonLog().find((l) => l.event === 'stateful-merge');
      assert.ok(y && /this node yields/.test(y.msg) && /fence this node/.test(y.msg), `no clear stateful-merge line: ${JSON.stringify(y)}`);
      assert.equal(fenceRuns(), 0, `n3 fenced after the merge: ${existsSync(FENCE_LOG) ? readFileSync(FENCE_LOG, 'utf8') : ''}`);
      flags.raise('yielded');
      // serve the flag until n1 has checked the rest
      assert.ok(await flags.awaitFlag(1, 'done', 300_000), 'n1 never finished');
      await sawDone();
    });
    return;
  }

  it('n1 and n2 keep quorum: node 3 fenced once (by n1, the lowest), members 1,2, both write', async function () {
    this.timeout(CUT_MS + 60_000);
    assert.ok(await flags.awaitFlag(3, 'cutting', 120_000), 'n3 never cut its link');
    const t0 = Date.now();
    const ok = await waitFor(async () => JSON.stringify(await lockspaces()) === JSON.stringify([[uuid, 'running', [1, 2]]]), 120_000, 300);
    assert.ok(ok, `lockspaces: ${JSON.stringify(await lockspaces())}`);
    const w = await sh(`echo during-${me} > ${MNT}/during-n${me} && sync`, 60_000);
    assert.ok(w.ok, `n${me}'s write during the partition: ${w.out}`);
    figure(`n${me}: link cut -> members 1,2 and written ${Date.now() - t0} ms`);
    assert.equal(fencesOf(3), me === 1 ? 1 : 0, `fence log: ${existsSync(FENCE_LOG) ? readFileSync(FENCE_LOG, 'utf8') : '(none)'}`);
    assert.equal(fenceRuns(), fencesOf(3), 'a node other than 3 was fenced');
  });

  it('after the merge: node 3 is failed again (stateful merge), nothing starts with it; once its daemon yielded it is fenced again; members 1,2, both write', async function () {
    this.timeout(400_000);
    const again = await waitFor(() => modelSaid(/node 3 .*merged back|merged back .*node 3|stateful merge/) !== undefined, 240_000, 300);
    assert.ok(again, `no merge line for node 3: ${JSON.stringify(daemonLog().filter((l) => l.event === 'model').slice(-15))}`);
    // the lockspace never runs with node 3 in it again
    const ls = JSON.stringify(await lockspaces());
    assert.ok(!ls.includes('[1,2,3]') || !ls.includes('running'), `running with node 3 after the merge: ${ls}`);
    assert.ok(await flags.awaitFlag(3, 'yielded', 300_000), 'n3 never yielded');
    const t0 = Date.now();
    const ok = await waitFor(async () => JSON.stringify(await lockspaces()) === JSON.stringify([[uuid, 'running', [1, 2]]]), 180_000, 300);
    assert.ok(ok, `lockspaces: ${JSON.stringify(await lockspaces())}`);
    const w = await sh(`echo after-${me} > ${MNT}/after-n${me} && sync`, 60_000);
    assert.ok(w.ok, `n${me}'s write after the merge: ${w.out}`);
    figure(`n${me}: n3 yielded -> members 1,2 and written ${Date.now() - t0} ms`);
    assert.equal(fencesOf(3), me === 1 ? 2 : 0, `fence log: ${existsSync(FENCE_LOG) ? readFileSync(FENCE_LOG, 'utf8') : '(none)'}`);
    assert.equal(fenceRuns(), fencesOf(3), 'a node other than 3 was fenced');
    flags.raise('checked');
    if (me === 1) {
      assert.ok(await flags.awaitFlag(2, 'checked', 240_000), 'n2 never finished its checks');
      flags.raise('done');
      // n1's flag server closes when its suite ends: keep it until the others have read 'done'
      for (const n of [2, 3]) await flags.awaitFlag(n, 'saw-done', 60_000);
    } else {
      assert.ok(await flags.awaitFlag(1, 'done', 300_000), 'n1 never finished');
      await sawDone();
    }
  });
});
