// The bounded wait after a partition (issue 14), two VMs on corosync WITHOUT two_node (each alone is
// without quorum), `o2stack daemon --post-join-delay 10000` on both, the volume mounted on both:
//   1. n2 cuts its link. Neither side has quorum: nobody fences, both lockspaces stay stopped.
//   2. While cut off, n2's daemon is SIGKILLed (the kernel stops its lockspace: "no userland
//      control daemon"), then n2 brings the link back. corosync merges; n2 is back in n1's quorum
//      membership, but no daemon of n2 joins the daemon group: neither a merge (n1 would yield) nor
//      a new daemon (n2 would be fenced at once).
//   3. n1 waits at most the post-join delay for n2's daemon, then fences n2 as a node back without
//      a daemon (docs/user-stack-daemon.md#partition), restarts its lockspace with members [1] and
//      writes. Before the bounded wait, n1 waited for ever (only `daemon-ctl fence-ack` ended it).
// n2's volume stays frozen (its daemon is dead): its VM powers off with it mounted.
import { strict as assert } from 'node:assert';
import { type ChildProcess } from 'node:child_process';
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
const MERGE_WAIT_MS = 10_000;
const me = Number(process.env.NODE);
const daemonLog = () => readDaemonLog(DLOG);
const modelSaid = (re: RegExp) => daemonSaid(DLOG, re);
const fencesOf = (node: number) => fenceRunsIn(FENCE_LOG, node);
const fenceRuns = () => fenceRunsIn(FENCE_LOG);
const lockspaces = () => lockspaceRows(SOCK);

describe(`the wait for a returned node's daemon after a partition is bounded, two VMs without two_node (this is n${me})`, function () {
  const k = realBackend();
  const flags = new FlagBoard(me);
  let uuid = '';
  let daemon: ChildProcess | undefined;
  const run = watchFailures(me);

  before(async function () {
    requireTestVm();
    assert.equal(vmNode(2), me);
    mkdirSync(MNT, { recursive: true });
    writeFileSync('/proc/sys/fs/ocfs2/nm/hb_ctl_path', '/bin/true');
    await flags.serve();
  });

  after(async function () {
    this.timeout(180_000);
    flags.close();
    if (me === 2) await sh('ip link set eth0 up', 10_000);
    // n2's volume stays frozen (its daemon was killed): only n1 unmounts
    await tearDownUserStack({ failed: run.failed, logs: [DLOG, FENCE_LOG], ...(me === 1 ? { umount: MNT } : {}), ...(daemon?.pid !== undefined ? { daemonPid: daemon.pid } : {}) });
  });

  it('the pcmk volume (n1 makes it), corosync on both without two_node, the daemon with --post-join-delay 10000, mounted on both', async function () {
    this.timeout(600_000);
    uuid = await mountedEverywhere({ me, nodes: 2, k, flags, disk: DISK, mnt: MNT, sock: SOCK, daemonLog: DLOG, fenceLog: FENCE_LOG, corosync: { clusterName: 'demo', nodes: 2, waitS: 300, noTwoNode: true }, daemonArgs: ['--post-join-delay', String(MERGE_WAIT_MS)], onDaemon: (d) => (daemon = d) });
  });

  if (me === 2) {
    it('n2 cuts its link: no quorum, no fence; its daemon is SIGKILLed while cut off; the link comes back', async function () {
      this.timeout(300_000);
      flags.raise('cutting');
      await new Promise((r) => setTimeout(r, 3000));
      const cut = await sh('ip link set eth0 down', 10_000);
      assert.ok(cut.ok, cut.out);
      let tBack = 0;
      try {
        assert.ok(await waitFor(() => modelSaid(/quorum lost/) !== undefined, 60_000, 300), 'n2 never logged the quorum loss');
        assert.ok(await waitFor(() => modelSaid(/node 1 is dead/) !== undefined, 60_000, 300), 'n2 never saw node 1 go');
        // n1 needs as long to see node 2 go and lose quorum itself (it checks that on its own)
        await new Promise((r) => setTimeout(r, 15_000));
        assert.equal(fenceRuns(), 0, 'n2 fenced without quorum');
        process.kill(daemon!.pid!, 'SIGKILL');
        assert.ok(await waitFor(() => daemon!.exitCode !== null || daemon!.signalCode !== null, 30_000, 200), 'the daemon did not die');
        // the kernel notices its control daemon is gone and stops the lockspace
        await new Promise((r) => setTimeout(r, 5000));
      } finally {
        await sh('ip link set eth0 up', 10_000);
        tBack = Date.now();
      }
      writeFileSync('/tmp/link-back', String(tBack));
      figure('n2: daemon killed while cut off, link back');
    });

    it('n2 stays (no daemon) until n1 has fenced it and written', async function () {
      this.timeout(300_000);
      assert.ok(await flags.awaitFlag(1, 'done', 240_000), 'n1 never finished');
      flags.raise('saw-done');
      await new Promise((r) => setTimeout(r, 5000));
    });
    return;
  }

  it('n1: both sides without quorum during the split: nobody fenced, the lockspace stopped', async function () {
    this.timeout(180_000);
    assert.ok(await flags.awaitFlag(2, 'cutting', 120_000), 'n2 never cut its link');
    assert.ok(await waitFor(() => modelSaid(/quorum lost/) !== undefined, 60_000, 300), 'n1 never logged the quorum loss');
    assert.ok(await waitFor(() => modelSaid(/node 2 is dead/) !== undefined, 60_000, 300), 'n1 never saw node 2 go');
    assert.ok(await waitFor(async () => JSON.stringify(await lockspaces()) === JSON.stringify([[uuid, 'stopped', [1, 2]]]), 30_000, 300), `lockspaces: ${JSON.stringify(await lockspaces())}`);
    assert.equal(fenceRuns(), 0, 'n1 fenced without quorum');
  });

  it('n1: node 2 is back in the membership without its daemon; after the post-join delay it is fenced, the lockspace restarts with [1], n1 writes', async function () {
    this.timeout(300_000);
    const isBack = /node 2 is back in the membership, unfenced/;
    assert.ok(await waitFor(() => modelSaid(isBack) !== undefined, 240_000, 300), `n1 never saw node 2 back: ${JSON.stringify(daemonLog().filter((l) => l.event === 'model').slice(-10))}`);
    const back = modelSaid(isBack)!;
    const tBack = Date.parse(String(back.t));
    assert.equal(daemonLog().some((l) => l.event === 'stateful-merge'), false, 'n1 yielded: no daemon of n2 merged');
    const ok = await waitFor(async () => JSON.stringify(await lockspaces()) === JSON.stringify([[uuid, 'running', [1]]]), 120_000, 300);
    assert.ok(ok, `lockspaces: ${JSON.stringify(await lockspaces())}; log: ${JSON.stringify(daemonLog().slice(-10))}`);
    const w = await sh(`echo after-1 > ${MNT}/after-n1 && sync`, 60_000);
    assert.ok(w.ok, `n1's write: ${w.out}`);
    const over = modelSaid(/node 2 has been back in the membership for 10000 ms without its daemon/);
    assert.ok(over, 'no log line for the end of the wait');
    const waited = Date.parse(String(over.t)) - tBack;
    assert.ok(waited >= MERGE_WAIT_MS - 50 && waited < MERGE_WAIT_MS + 5000, `the wait lasted ${waited} ms`);
    assert.equal(fencesOf(2), 1, `fence log: ${existsSync(FENCE_LOG) ? readFileSync(FENCE_LOG, 'utf8') : '(none)'}`);
    assert.equal(fenceRuns(), 1);
    figure(`n1: node 2 back without a daemon -> fenced after ${waited} ms (post-join delay ${MERGE_WAIT_MS}), written ${Date.now() - tBack} ms after its return`);
    flags.raise('done');
    await flags.awaitFlag(2, 'saw-done', 60_000);
  });
});
