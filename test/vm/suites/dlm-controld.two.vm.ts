// Issue 8's reference run on the real kernel, two VMs (vm/run-two.sh: n1 = 192.0.2.1,
// n2 = 192.0.2.2, NODE=1|2, one shared /dev/vda): the user stack with Debian's corosync 3.1.7 and
// dlm_controld 4.2.0 as the control daemon (no o2stack daemon), the same steps and figures as
// user-stack.two so the two compare line by line. n1 makes a pcmk volume (cluster "demo" =
// corosync's cluster_name); both select the user stack, start corosync (knet, two_node, token
// 3000 ms: corosync's default) and dlm_controld (startup fencing off, post_join_delay 0,
// `fence_all` = test/vm/support/fence-ok.sh, an agent that logs and succeeds: the real fencing
// path, with its result broadcast on dlm:controld, rather than enable_fencing=0), mount with
// mount(2) `cluster_stack=pcmk` and read each other's file. Then n2 dies with the volume mounted
// and a cluster flock held: its suite ends and its VM powers off at once (poweroff -f: no umount,
// no lockspace leave, corosync gone without a goodbye). n1's corosync loses it after the token
// timeout; dlm_controld stops the lockspace, removes n2's comm, runs the agent, restarts the
// lockspace; the kernel replays n2's journal and n1 writes again. Figures: "o2stack-figure:".
// Beside dlm_controld, on both nodes, `o2stack daemon` runs in its tracking mode (started before
// the timed steps; lib/stack/daemon/tracking.ts): it sees dlm_controld and leaves fs/dlm to it
// (`--standalone` is refused with the fix), and tracks the volume: `o2stack groups --json` shows
// nodes 1, 2 on both once mounted, and 1 on n1 after n2's death; it never writes fs/dlm (no
// 'configured' or 'ops' in its log) and leaves its daemon group on SIGTERM (before the join
// benchmark, which it would otherwise watch).
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

import { nativeSystem } from '../../../lib/kernel/system.js';
import { selectStack } from '../../../lib/stack/select.js';
import { request } from '../../../lib/stack/daemon/controlSocket.js';
import { FENCE_OK_AGENT, DLM_CONTROLD_LOG, benchLockspaceJoins, clusterLogs, corosyncPid, dlmControldPid, joinTimes, median, startCorosync, startDlmControld, stopCorosync, stopDlmControld } from '../support/corosync.js';
import { awaitUserStackVolume, mkfsUserStack, mountLine as mountLineOf, within } from '../support/dlm.js';
import { answersPing, realBackend, requireTestVm, waitFor } from '../support/kernel.js';
import { plockBench } from '../support/plockBench.js';
import { announceDeathHoldingFlock, awaitDeathAnnounced, cli, figure, readDaemonLog, sh, startDaemonInBackground } from '../support/run.js';

const DISK = '/dev/vda';
const MNT = '/mnt/shared';
const FENCE_LOG = '/tmp/o2stack-fence.log';
const C = '/sys/kernel/config/dlm/cluster';
const me = Number(process.env.NODE);
const peer = 3 - me;
const mountLine = () => mountLineOf(MNT);
const SOCK = '/run/o2stack.sock';
const DLOG = '/tmp/o2stack-daemon.log';

const daemonLog = () => readDaemonLog(DLOG);
type GroupRow = { uuid: string; nodes: number[]; state: string };
const groups = async () => (await request(SOCK, 'groups')) as GroupRow[];
const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const dlmTool = (...args: string[]) => spawnSync('dlm_tool', args, { encoding: 'utf8', timeout: 20_000 });

/** dlm_controld's debug log (-D): "SECONDS message" lines, SECONDS on its monotonic clock. */
const dlmLog = (): { s: number; msg: string }[] =>
  existsSync(DLM_CONTROLD_LOG)
    ? readFileSync(DLM_CONTROLD_LOG, 'utf8')
        .split('\n')
        .map((l) => /^(\d+) (.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ s: Number(m[1]), msg: m[2]! }))
    : [];

describe(`user stack with corosync + dlm_controld (the reference), two VMs (this is n${me})`, function () {
  const k = realBackend();
  let uuid = '';
  let failed = false;
  let trackerPid: number | undefined;

  before(function () {
    requireTestVm();
    assert.ok(me === 1 || me === 2, `NODE must be 1 or 2 (vm/run-two.sh), got ${process.env.NODE}`);
    mkdirSync(MNT, { recursive: true });
    // the kernel's umount helper: nothing to stop for the user stack
    writeFileSync('/proc/sys/fs/ocfs2/nm/hb_ctl_path', '/bin/true');
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async function () {
    if (me === 2 && !failed) return; // n2 dies with everything running: that is the test
    if (failed) {
      console.log(await clusterLogs());
      console.log(execFileSync('dmesg', { encoding: 'utf8' }).split('\n').filter((l) => /dlm|ocfs2|JBD2/i.test(l)).slice(-40).join('\n'));
      if (existsSync(DLOG)) console.log(readFileSync(DLOG, 'utf8').split('\n').slice(-60).join('\n'));
    }
    if (trackerPid !== undefined && pidAlive(trackerPid)) {
      process.kill(trackerPid, 'SIGTERM');
      await waitFor(() => !pidAlive(trackerPid!), 20_000);
    }
    if (mountLine()) await within(nativeSystem.umount(MNT), 60_000, 'cleanup umount').catch(() => undefined);
    if (dlmControldPid()) await stopDlmControld().catch((e: unknown) => console.log(String(e)));
    if (corosyncPid()) await stopCorosync().catch((e: unknown) => console.log(String(e)));
  });

  if (me === 1) {
    it('n1 makes the pcmk volume (mkfs.ocfs2 --cluster-stack=pcmk --cluster-name=demo)', function () {
      uuid = mkfsUserStack(DISK);
      assert.match(uuid, /^[0-9A-F]{32}$/);
    });
  } else {
    it('n2 sees the pcmk volume n1 made', async function () {
      uuid = (await awaitUserStackVolume(DISK, 120_000)) ?? '';
      assert.ok(uuid, 'no pcmk volume on /dev/vda within 120 s');
    });
  }

  it('selects the user stack, starts corosync (cluster demo) and dlm_controld; configfs is filled', async function () {
    this.timeout(300_000); // the peer VM may boot and start much later (up to 120 s is waited for)
    const r = await selectStack(k, nativeSystem, 'pcmk');
    assert.ok(r, 'selectStack');
    assert.equal(k.read('/sys/fs/ocfs2/cluster_stack'), 'pcmk\n');
    const cs = await startCorosync({ clusterName: 'demo' });
    figure(`n${me} corosync start -> 2 members quorate: ${cs.ms} ms`);
    const d = await startDlmControld(FENCE_OK_AGENT, { ...process.env, O2STACK_FENCE_LOG: FENCE_LOG });
    figure(`n${me} dlm_controld ready (dlm_tool status answers) ${d.ms} ms after spawn`);
    // dlm_controld writes the comms once the protocol is agreed with the peer's daemon
    const comms = await waitFor(() => (k.tryList(`${C}/comms`) ?? []).map((e) => e.name).sort().join(',') === '1,2', 120_000, 200);
    assert.ok(comms, `comms: ${JSON.stringify(k.tryList(`${C}/comms`))}`);
    assert.equal(k.read(`${C}/cluster_name`).trim(), 'demo');
    assert.equal(k.read(`${C}/recover_callbacks`), '1\n');
    assert.equal(k.read(`${C}/comms/${me}/local`), '1\n');
    assert.equal(k.read(`${C}/comms/${peer}/local`), '0\n');
    // the daemon CPG must be complete (fence_in_progress_unknown cleared) before a join can start
    const ready = await waitFor(() => {
      const s = dlmTool('status');
      return s.status === 0 && !/fence_init/.test(s.stdout) && /node 1 M/.test(s.stdout) && /node 2 M/.test(s.stdout);
    }, 120_000, 500);
    assert.ok(ready, `dlm_tool status: ${dlmTool('status').stdout}`);
  });

  it('`o2stack daemon --standalone` beside dlm_controld: refused (exit 1) with the fix, touching nothing', function () {
    const comms = JSON.stringify(k.tryList(`${C}/comms`));
    const r = cli(['daemon', '--standalone', '--socket', SOCK]);
    assert.equal(r.code, 1, `exit ${r.code}\n${r.out}${r.err}`);
    assert.match(r.err, new RegExp(`dlm_controld is running \\(pid ${dlmControldPid()}, seen in /proc/${dlmControldPid()}/comm\\): fs/dlm is left to it, --standalone does not start beside it`));
    assert.match(r.err, /systemctl stop dlm/);
    assert.ok(!existsSync(SOCK), 'the refused daemon left a control socket');
    assert.equal(JSON.stringify(k.tryList(`${C}/comms`)), comms);
  });

  it('`o2stack daemon` beside dlm_controld starts in tracking mode (one line says so): READY, status mode beside-dlm_controld', async function () {
    const t0 = Date.now();
    trackerPid = await startDaemonInBackground(['--socket', SOCK], DLOG, 120_000);
    figure(`n${me} o2stack daemon (tracking beside dlm_controld) ready ${Date.now() - t0} ms after spawn (node start under TCG included)`);
    const mode = daemonLog().filter((l) => l.event === 'mode');
    assert.equal(mode.length, 1, readFileSync(DLOG, 'utf8'));
    assert.match(mode[0]!.msg, new RegExp(`dlm_controld is running \\(pid ${dlmControldPid()}, .*\\): tracking beside it`));
    const st = (await request(SOCK, 'status')) as { mode: string; dlmControld: { pid: number; running: boolean }; membership: string; localNodeId: number; quorate: boolean; cluster: string };
    assert.equal(st.mode, 'beside-dlm_controld');
    assert.deepEqual([st.dlmControld.pid, st.dlmControld.running], [dlmControldPid(), true]);
    assert.equal(st.membership, 'corosync');
    assert.equal(st.localNodeId, me);
    assert.equal(st.quorate, true);
    assert.equal(st.cluster, 'demo');
    await assert.rejects(request(SOCK, 'node-down 2'), /dlm_controld owns recovery/);
  });

  it('mounts /dev/vda with mount(2) cluster_stack=pcmk: dlm_controld answers the join', async function () {
    const t0 = Date.now();
    await within(nativeSystem.mount(DISK, MNT, 'ocfs2', 'cluster_stack=pcmk'), 180_000, 'mount');
    figure(`n${me} mount took ${Date.now() - t0} ms (includes waiting for the peer's join)`);
    assert.match(mountLine() ?? '', /ocfs2 .*cluster_stack=pcmk/);
    const j = joinTimes(execFileSync('dmesg', { encoding: 'utf8' }), uuid);
    assert.ok(j.onlineToEventDone !== undefined, 'no "joining the lockspace group" / "group event done" lines in dmesg');
    figure(`n${me} lockspace online -> event_done ${j.onlineToEventDone} ms, -> join complete ${j.onlineToJoined} ms (kernel printk times)`);
    const ls = dlmTool('ls');
    assert.equal(ls.status, 0, ls.stderr);
    assert.match(ls.stdout, new RegExp(`name\\s+${uuid}`));
    assert.ok(await waitFor(() => /members\s+1 2\b/.test(dlmTool('ls').stdout), 60_000, 500), `dlm_tool ls: ${dlmTool('ls').stdout}`);
  });

  it('writes a file and reads the one the peer wrote', async function () {
    writeFileSync(`${MNT}/from-n${me}.txt`, `written on n${me}\n`);
    execFileSync('sync');
    const ok = await waitFor(() => {
      try {
        return readFileSync(`${MNT}/from-n${peer}.txt`, 'utf8') === `written on n${peer}\n`;
      } catch {
        return false;
      }
    }, 120_000, 500);
    assert.ok(ok, `did not read n${peer}'s file`);
    // the tracking daemon counts the volume once dlm_controld has both nodes in its member list
    const both = await waitFor(async () => JSON.stringify(await groups()) === JSON.stringify([{ uuid, nodes: [1, 2], state: 'running' }]), 60_000, 300);
    assert.ok(both, `groups: ${JSON.stringify(await groups())}`);
    const g = cli(['groups', '--json', '--socket', SOCK]);
    assert.equal(g.code, 0, g.err);
    assert.deepEqual(JSON.parse(g.out), { groups: [{ uuid, nodes: [1, 2], state: 'running' }] });
    writeFileSync(`${MNT}/done-n${me}`, '');
    execFileSync('sync');
    assert.ok(await waitFor(() => existsSync(`${MNT}/done-n${peer}`), 120_000, 500), 'peer did not finish');
  });

  it('POSIX lock benchmark (dlm_controld serves /dev/dlm_plock): lock+unlock pairs/s, n1 alone, then both nodes on one byte', async function () {
    this.timeout(600_000);
    const r = await plockBench({ mnt: MNT, me, peer, label: 'dlm_controld' });
    if (me === 1) assert.ok(r && r.uncontended! > 0 && r.contended > 0, JSON.stringify(r));
  });

  if (me === 2) {
    it('n2 now dies with the volume mounted, holding a cluster flock (the VM powers off when this suite ends)', async function () {
      assert.ok(await announceDeathHoldingFlock(MNT, 180_000), 'n1 never said it was watching');
      console.log('n2: READY_TO_DIE (volume mounted, corosync and dlm_controld running)');
    });
    return;
  }

  it('n1: n2 dies; corosync drops it, dlm_controld fences it and restarts the lockspace; the journal is replayed; writable again', async function () {
    const { announced, flockBusy } = await awaitDeathAnnounced(MNT, 120_000);
    assert.ok(announced, 'n2 never announced its death');
    assert.ok(flockBusy, 'the flock n2 holds was free on n1 (not a cluster lock?)');
    const tAnnounced = Date.now();
    // n2's VM powers off right after its suite: gone when it stops answering ping
    const gone = await waitFor(() => !answersPing('192.0.2.2'), 120_000, 100);
    assert.ok(gone, 'n2 still answers ping 120 s after it announced its death');
    const tGone = Date.now();
    const s0 = Number(/daemon now (\d+)/.exec(dlmTool('status').stdout)?.[1] ?? NaN);
    // n2 died holding the flock: taking it (and writing under it) waits for recovery
    const w = await sh(`flock -x ${MNT}/lockfile -c "echo 'written on n1 after n2 died' > ${MNT}/after-death.txt && sync"`, 150_000);
    const tWritable = Date.now();
    const s1 = Number(/daemon now (\d+)/.exec(dlmTool('status').stdout)?.[1] ?? NaN);
    const log = dlmLog();
    const at = (re: RegExp) => log.find((l) => re.test(l.msg));
    const fenceReq = at(/fence request 2\b/);
    const fenceRes = at(/fence result 2\b.*result 0/);
    const restart = log.filter((l) => l.msg.includes(`${uuid} start_kernel`)).pop();
    const dmesg = execFileSync('dmesg', { encoding: 'utf8' });
    console.log(dmesg.split('\n').filter((l) => /dlm|ocfs2|JBD2/i.test(l)).slice(-25).join('\n'));
    console.log(log.filter((l) => /fence|node 2|nodedown|left|start_kernel|stop_kernel|del_configfs|quorum/.test(l.msg)).slice(-30).map((l) => `dlm_controld: ${l.s} ${l.msg}`).join('\n'));
    assert.ok(w.ok, `write after n2's death failed or hung: ${w.out}`);
    assert.ok(fenceReq, 'dlm_controld never asked to fence node 2');
    assert.ok(fenceRes, 'no successful fence result for node 2');
    assert.ok(restart, 'no lockspace restart (start_kernel) in the log');
    assert.match(readFileSync(FENCE_LOG, 'utf8'), /node=2\n/);
    assert.match(dmesg, /End replay journal|Recovering node 2|recover/i);
    figure(`n2 stopped answering ping -> n1 writable: ${tWritable - tGone} ms (n2 announced its death ${tGone - tAnnounced} ms before it was gone)`);
    figure(`dlm_controld clock (1 s resolution): gone ~${s0} s, fence request ${fenceReq.s} s, fence result ${fenceRes.s} s, lockspace restarted ${restart.s} s, writable ~${s1} s`);
    assert.equal(k.tryList(`${C}/comms/2`), undefined, "n2's comm is still there");
    assert.ok(await waitFor(() => /members\s+1\s*$/m.test(dlmTool('ls').stdout), 30_000, 500), `dlm_tool ls: ${dlmTool('ls').stdout}`);
    assert.equal(readFileSync(`${MNT}/after-death.txt`, 'utf8'), 'written on n1 after n2 died\n');
    assert.equal(readFileSync(`${MNT}/from-n2.txt`, 'utf8'), 'written on n2\n');
  });

  it('n1: the tracking daemon shows the volume on node 1 only, wrote nothing to fs/dlm, and leaves its daemon group on SIGTERM', async function () {
    const one = await waitFor(async () => JSON.stringify(await groups()) === JSON.stringify([{ uuid, nodes: [1], state: 'running' }]), 30_000, 300);
    assert.ok(one, `groups: ${JSON.stringify(await groups())}`);
    const g = cli(['groups', '--json', '--socket', SOCK]);
    assert.equal(g.code, 0, g.err);
    assert.deepEqual(JSON.parse(g.out), { groups: [{ uuid, nodes: [1], state: 'running' }] });
    const log = daemonLog();
    const left = log.find((l) => l.event === 'group' && l.uuid === uuid && Array.isArray(l.left) && (l.left as number[]).includes(2));
    assert.ok(left, 'no group event with node 2 leaving');
    console.log(log.filter((l) => /group|members|joined|left|quorum|daemon-group|dlm_controld/.test(l.event)).map((l) => `o2stack daemon (tracking): ${l.t} ${l.event} ${l.msg}`).join('\n'));
    // the standalone daemon's fs/dlm work would show as these events: none beside dlm_controld
    const wrote = log.filter((l) => ['configured', 'ops', 'ops-failed', 'monitor', 'adopt'].includes(l.event));
    assert.deepEqual(wrote, [], 'the tracking daemon worked on fs/dlm');
    assert.ok(!log.some((l) => l.event === 'dlm_controld-gone'), 'dlm_controld was seen gone');
    const st = (await request(SOCK, 'status')) as { dlmControld: { running: boolean }; counters: { joined: number; controldLost: number } };
    assert.deepEqual([st.dlmControld.running, st.counters.controldLost, st.counters.joined], [true, 0, 1]);
    const pid = trackerPid!;
    process.kill(pid, 'SIGTERM');
    assert.ok(await waitFor(() => !pidAlive(pid), 20_000), 'the tracking daemon did not exit on SIGTERM within 20 s');
    trackerPid = undefined;
    assert.ok(daemonLog().some((l) => l.event === 'group-leave'), 'no daemon-group leave in its log');
    assert.ok(daemonLog().some((l) => l.event === 'stop' && l.msg === 'daemon stopped'));
    assert.ok(!existsSync(SOCK), 'the control socket is left behind');
  });

  it('n1: join benchmark, 5 lockspaces joined and left with dlm_tool (one member): online -> event_done per join', async function () {
    const samples = await benchLockspaceJoins(5);
    for (const x of samples) assert.ok(x.onlineToEventDone !== undefined, `no kernel join lines for ${x.lockspace}`);
    const list = (k: 'onlineToEventDone' | 'onlineToJoined' | 'wallMs') => samples.map((x) => x[k]).join(', ');
    figure(`n1 join benchmark (dlm_tool join, 1 member, 5 joins): online -> event_done median ${median(samples.map((x) => x.onlineToEventDone))} ms [${list('onlineToEventDone')}], -> join complete median ${median(samples.map((x) => x.onlineToJoined))} ms [${list('onlineToJoined')}], dlm_tool join wall median ${median(samples.map((x) => x.wallMs))} ms`);
    assert.doesNotMatch(dlmTool('ls').stdout, /o2bench/, 'a benchmark lockspace was left behind');
  });

  it('n1 unmounts alone: dlm_controld answers the offline; the lockspace is gone; both daemons stop', async function () {
    const t0 = Date.now();
    await within(nativeSystem.umount(MNT), 60_000, 'umount');
    figure(`n1 umount after recovery took ${Date.now() - t0} ms`);
    assert.equal(mountLine(), undefined);
    assert.ok(await waitFor(() => (k.tryList('/sys/kernel/dlm') ?? []).length === 0, 10_000));
    assert.doesNotMatch(dlmTool('ls').stdout, new RegExp(uuid));
    await stopDlmControld();
    await stopCorosync();
    assert.equal(dlmControldPid(), undefined);
    assert.equal(corosyncPid(), undefined);
  });
});
