// Fence agent faults on the real kernel (issue 14), two VMs, user stack with `o2stack daemon`
// (static membership). n1's fence agent fails the way real agents do: its first run prints garbage
// and exits 1, its second hangs (the daemon's --fence-timeout kills it), its third succeeds. n2
// dies holding a cluster flock with the volume mounted. On n1: while no fence has succeeded the
// lockspace stays stopped (the flock is never handed out, a write under it waits), the daemon
// says the node is failed and counts the failed rounds; the hung agent is killed by its pid (no
// process left); each failed round is retried after the delay; only after the agent's success is
// n2's comm removed, the lockspace restarted and the write done. fsck.ocfs2 -fn finds the volume
// clean afterwards.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { nativeSystem } from '../../../lib/kernel/system.js';
import { request } from '../../../lib/stack/daemon/controlSocket.js';
import { selectStack } from '../../../lib/stack/select.js';
import { awaitUserStackVolume, mkfsUserStack, mountLine as mountLineOf, within } from '../support/dlm.js';
import { answersPing, realBackend, requireTestVm, waitFor } from '../support/kernel.js';
import { announceDeathHoldingFlock, awaitDeathAnnounced, figure, readDaemonLog, sh, startDaemonInBackground } from '../support/run.js';

const DISK = '/dev/vda';
const MNT = '/mnt/shared';
const SOCK = '/run/o2stack.sock';
const DLOG = '/tmp/o2stack-daemon.log';
const AGENT = '/tmp/fence-flaky.sh';
const AGENT_LOG = '/tmp/fence-flaky.log';
const FENCE_TIMEOUT_MS = 4000;
const me = Number(process.env.NODE);
const peer = 3 - me;
const mountLine = () => mountLineOf(MNT);
const daemonLog = () => readDaemonLog(DLOG);

// run 1: garbage on stdout and stderr, exit 1; run 2: hangs (sleep 600, killed by the daemon);
// run 3 and later: success. Each run appends "run N pid P" and its stdin to the log.
const FLAKY = `#!/bin/sh
log=${AGENT_LOG}
n=$(( $(grep -c '^run ' "$log" 2>/dev/null || echo 0) + 1 ))
{ echo "run $n pid $$"; cat; } >> "$log"
case $n in
  1) printf '\\001\\377garbage \\033[31m%s\\n' "not=an=answer"; echo 'stack trace?' >&2; exit 1 ;;
  2) exec sleep 600 ;;
  *) exit 0 ;;
esac
`;

describe(`fence agent faults: garbage + exit 1, a hang, then success; user stack, two VMs (this is n${me})`, function () {
  const k = realBackend();
  let daemonPid: number | undefined;

  before(function () {
    requireTestVm();
    assert.ok(me === 1 || me === 2, `NODE must be 1 or 2 (vm/run-two.sh), got ${process.env.NODE}`);
    mkdirSync(MNT, { recursive: true });
    writeFileSync('/tmp/members', '# static membership for the test\nn1=1@192.0.2.1\nn2=2@192.0.2.2\n');
    writeFileSync('/proc/sys/fs/ocfs2/nm/hb_ctl_path', '/bin/true');
    writeFileSync(AGENT, FLAKY);
    chmodSync(AGENT, 0o755);
  });

  after(async function () {
    if (me === 2) return;
    if (mountLine()) await within(nativeSystem.umount(MNT), 60_000, 'cleanup umount').catch(() => undefined);
    if (daemonPid) {
      try {
        process.kill(daemonPid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    console.log(readFileSync(DLOG, 'utf8').split('\n').slice(-40).join('\n'));
  });

  it(me === 1 ? 'n1 makes the pcmk volume' : 'n2 sees the pcmk volume n1 made', async function () {
    if (me === 1) mkfsUserStack(DISK);
    else assert.ok(await awaitUserStackVolume(DISK, 120_000), 'no pcmk volume on /dev/vda within 120 s');
  });

  it(`starts the daemon (fence agent ${AGENT}, --fence-timeout ${FENCE_TIMEOUT_MS}) and mounts`, async function () {
    assert.ok(await selectStack(k, nativeSystem, 'pcmk'));
    daemonPid = await startDaemonInBackground(['--members', '/tmp/members', '--cluster', 'demo', '--fence-agent', AGENT, '--fence-timeout', String(FENCE_TIMEOUT_MS), '--socket', SOCK, '--probe-dead', '4000'], DLOG, 180_000);
    await within(nativeSystem.mount(DISK, MNT, 'ocfs2', 'cluster_stack=pcmk'), 240_000, 'mount');
    writeFileSync(`${MNT}/up-n${me}`, '');
    execFileSync('sync');
    assert.ok(await waitFor(() => existsSync(`${MNT}/up-n${peer}`), 240_000, 500), `n${peer} did not mount`);
  });

  if (me === 2) {
    it('n2 dies with the volume mounted, holding a cluster flock', async function () {
      assert.ok(await announceDeathHoldingFlock(MNT, 180_000), 'n1 never said it was watching');
      console.log('n2: READY_TO_DIE (volume mounted, daemon running)');
    });
    return;
  }

  it('n1: no recovery while the agent fails (garbage + exit 1) and hangs (killed at the time limit); recovery after its success', async function () {
    this.timeout(600_000);
    const { announced, flockBusy } = await awaitDeathAnnounced(MNT, 180_000);
    assert.ok(announced && flockBusy, `n2 did not announce its death holding the flock (announced ${announced}, busy ${flockBusy})`);
    assert.ok(await waitFor(() => !answersPing('192.0.2.2'), 120_000, 100), 'n2 still answers ping');
    const tGone = Date.now();
    // a write under n2's flock: waits for recovery
    const writer = sh(`flock -x ${MNT}/lockfile -c "echo 'written on n1 after n2 died' > ${MNT}/after-death.txt && sync"`, 300_000);
    let writerDone = false;
    void writer.then(() => (writerDone = true));

    // the first two rounds fail; meanwhile the lockspace stays stopped and the write waits
    const rounds = () => daemonLog().filter((l) => l.event === 'fence-result');
    assert.ok(await waitFor(() => rounds().length >= 2, 180_000, 200), `fewer than two fence rounds: ${JSON.stringify(rounds())}`);
    const [r1, r2] = rounds();
    assert.equal(r1!.ok, false, 'round 1 (garbage, exit 1) must fail');
    assert.match(String(r1!.msg), /FAILED \(exit 1,/);
    assert.equal(r2!.ok, false, 'round 2 (hang) must fail');
    assert.match(String(r2!.msg), new RegExp(`FAILED \\(timeout after ${FENCE_TIMEOUT_MS} ms`));
    const st = (await request(SOCK, 'status')) as { nodes: { nodeid: number; state: string }[]; counters: { fences: number } };
    const ls = (await request(SOCK, 'lockspaces')) as { state: string; members: number[] }[];
    figure(`while the agent failed: node 2 ${st.nodes.find((n) => n.nodeid === 2)?.state}, lockspace ${ls.map((l) => `${l.state} [${l.members}]`).join(', ')}, write done: ${writerDone}`);
    assert.equal(writerDone, false, 'the write under n2\'s flock finished before any fence succeeded');
    assert.notEqual(ls[0]?.state, 'running', 'the lockspace runs again without a successful fence');
    assert.ok(k.tryList('/sys/kernel/config/dlm/cluster/comms/2'), "n2's comm was removed without a successful fence");
    // the hung agent was killed by its pid: no `sleep 600` left
    const hungPid = Number(/^run 2 pid (\d+)$/m.exec(readFileSync(AGENT_LOG, 'utf8'))?.[1]);
    assert.ok(hungPid > 0, 'run 2 pid not logged');
    assert.ok(await waitFor(() => !existsSync(`/proc/${hungPid}`), 10_000, 100), `the hung agent (pid ${hungPid}) is still running`);

    // round 3 succeeds: recovery, and the write goes through
    const w = await writer;
    const tWritable = Date.now();
    assert.ok(w.ok, `the write after recovery failed: ${w.out}`);
    const all = rounds();
    assert.deepEqual(all.map((r) => r.ok), [false, false, true]);
    const agentRuns = readFileSync(AGENT_LOG, 'utf8').match(/^run \d+/gm) ?? [];
    assert.equal(agentRuns.length, 3, `the agent ran ${agentRuns.length} times`);
    assert.match(readFileSync(AGENT_LOG, 'utf8'), /node=2\nfail_time=\d+\n/);
    assert.ok(await waitFor(() => k.tryList('/sys/kernel/config/dlm/cluster/comms/2') === undefined, 30_000), "n2's comm still there after the fence");
    const after = (await request(SOCK, 'lockspaces')) as { state: string; members: number[] }[];
    assert.deepEqual(after.map((l) => [l.state, l.members]), [['running', [1]]]);
    figure(`fence rounds: ${all.map((r) => `${r.ok ? 'ok' : 'FAILED'} ${/\(([^)]*)\)/.exec(String(r.msg))?.[1] ?? ''}`).join('; ')}; n2 gone -> n1 writable ${tWritable - tGone} ms`);
    assert.equal(readFileSync(`${MNT}/after-death.txt`, 'utf8'), 'written on n1 after n2 died\n');
  });

  it('n1 unmounts; fsck.ocfs2 -fn finds the volume clean', async function () {
    await within(nativeSystem.umount(MNT), 120_000, 'umount');
    const r = execFileSync('fsck.ocfs2', ['-fn', DISK], { encoding: 'utf8', timeout: 300_000 });
    assert.doesNotMatch(r, /ERROR|corrupt/i, r);
  });
});
