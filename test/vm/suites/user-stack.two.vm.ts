// Issue 8 on the real kernel, two VMs (vm/run-two.sh: n1 = 192.0.2.1, n2 = 192.0.2.2, NODE=1|2, one
// shared /dev/vda): the user stack with `o2stack daemon` as the fs/dlm control daemon (no
// dlm_controld). n1 makes a pcmk volume; both select the user stack, run the daemon in the
// background with the static membership n1=1@192.0.2.1, n2=2@192.0.2.2 and the test fence agent,
// mount with mount(2) `cluster_stack=pcmk`, and each reads what the other wrote. Then n2 dies with
// the volume mounted: its suite ends and its VM powers off at once (poweroff -f: no umount, no
// lockspace leave). n1's daemon finds it dead (TCP liveness probe), stops the lockspace, runs the
// fence agent, removes n2's comm and membership and restarts the lockspace, so the kernel replays
// n2's journal; n1 writes again. Figures are printed with an "o2stack-figure:" prefix.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nativeSystem } from '../../../lib/kernel/system.js';
import { selectStack } from '../../../lib/stack/select.js';
import { request } from '../../../lib/stack/daemon/controlSocket.js';
import { awaitUserStackVolume, mkfsUserStack, mountLine as mountLineOf, within } from '../support/dlm.js';
import { answersPing, realBackend, requireTestVm, waitFor } from '../support/kernel.js';
import { announceDeathHoldingFlock, awaitDeathAnnounced, figure, readDaemonLog, root, sh, startDaemonInBackground } from '../support/run.js';

const DISK = '/dev/vda';
const MNT = '/mnt/shared';
const SOCK = '/run/o2stack.sock';
const DLOG = '/tmp/o2stack-daemon.log';
const FENCE_LOG = '/tmp/o2stack-fence.log';
const me = Number(process.env.NODE);
const peer = 3 - me;
const mountLine = () => mountLineOf(MNT);

const daemonLog = () => readDaemonLog(DLOG);

describe(`user stack with o2stack daemon, two VMs (this is n${me})`, function () {
  const k = realBackend();
  let daemonPid: number | undefined;
  let uuid = '';

  before(function () {
    requireTestVm();
    assert.ok(me === 1 || me === 2, `NODE must be 1 or 2 (vm/run-two.sh), got ${process.env.NODE}`);
    mkdirSync(MNT, { recursive: true });
    writeFileSync('/tmp/members', '# static membership for the test\nn1=1@192.0.2.1\nn2=2@192.0.2.2\n');
    // the kernel's umount helper: nothing to stop for the user stack
    writeFileSync('/proc/sys/fs/ocfs2/nm/hb_ctl_path', '/bin/true');
  });

  after(async function () {
    if (me === 2) return; // n2 dies with everything running: that is the test
    if (mountLine()) await within(nativeSystem.umount(MNT), 60_000, 'cleanup umount').catch(() => undefined);
    if (daemonPid) {
      try {
        process.kill(daemonPid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    console.log(readFileSync(DLOG, 'utf8').split('\n').slice(-60).join('\n'));
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

  it('selects the user stack and starts `o2stack daemon` in the background (READY, configfs filled)', async function () {
    const r = await selectStack(k, nativeSystem, 'pcmk');
    assert.ok(r, 'selectStack');
    assert.equal(k.read('/sys/fs/ocfs2/cluster_stack'), 'pcmk\n');
    const t0 = Date.now();
    daemonPid = await startDaemonInBackground(['--members', '/tmp/members', '--cluster', 'demo', '--fence-agent', join(root, 'test/vm/support/fence-ok.sh'), '--socket', SOCK, '--probe-dead', '4000'], DLOG, 120_000, { ...process.env, O2STACK_FENCE_LOG: FENCE_LOG });
    figure(`n${me} daemon ready ${Date.now() - t0} ms after spawn (node start under TCG included)`);
    const C = '/sys/kernel/config/dlm/cluster';
    assert.equal(k.read(`${C}/cluster_name`), 'demo\n');
    assert.equal(k.read(`${C}/recover_callbacks`), '1\n');
    assert.equal(k.read(`${C}/comms/${me}/addr_list`), `AF_INET\t192.0.2.${me}\n`);
    assert.equal(k.read(`${C}/comms/${peer}/addr_list`), `AF_INET\t192.0.2.${peer}\n`);
    const st = (await request(SOCK, 'status')) as { localNodeId: number; nodes: { nodeid: number; state: string }[] };
    assert.equal(st.localNodeId, me);
    assert.deepEqual(st.nodes.map((n) => n.state), ['up', 'up']);
  });

  it('mounts /dev/vda with mount(2) cluster_stack=pcmk: the daemon answers the join', async function () {
    // the peer's daemon must be up too (its comm must exist on our side already: it does, static)
    const t0 = Date.now();
    await within(nativeSystem.mount(DISK, MNT, 'ocfs2', 'cluster_stack=pcmk'), 180_000, 'mount');
    figure(`n${me} mount took ${Date.now() - t0} ms (includes waiting for the peer's join)`);
    assert.match(mountLine() ?? '', /ocfs2 .*cluster_stack=pcmk/);
    const ls = (await request(SOCK, 'lockspaces')) as { name: string; state: string; members: number[] }[];
    assert.deepEqual(ls.map((l) => [l.name, l.state, l.members]), [[uuid, 'running', [1, 2]]]);
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'lib/cli/main.ts'), 'lockspaces', '--socket', SOCK], { cwd: root, encoding: 'utf8' });
    assert.match(out, new RegExp(`${uuid}\\s+running\\s+members 1,2`));
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
    writeFileSync(`${MNT}/done-n${me}`, '');
    execFileSync('sync');
    assert.ok(await waitFor(() => existsSync(`${MNT}/done-n${peer}`), 120_000, 500), 'peer did not finish');
  });

  if (me === 2) {
    it('n2 now dies with the volume mounted, holding a cluster flock (the VM powers off when this suite ends)', async function () {
      assert.ok(await announceDeathHoldingFlock(MNT, 180_000), 'n1 never said it was watching');
      console.log('n2: READY_TO_DIE (volume mounted, daemon running)');
    });
    return;
  }

  it('n1: n2 dies; the daemon fences it, removes its comm and restarts the lockspace; the journal is replayed; writable again', async function () {
    const { announced, flockBusy } = await awaitDeathAnnounced(MNT, 120_000);
    assert.ok(announced, 'n2 never announced its death');
    assert.ok(flockBusy, 'the flock n2 holds was free on n1 (not a cluster lock?)');
    const tAnnounced = Date.now();
    // n2's VM powers off right after its suite: gone when it stops answering ping
    const gone = await waitFor(() => !answersPing('192.0.2.2'), 120_000, 100);
    assert.ok(gone, 'n2 still answers ping 120 s after it announced its death');
    const tGone = Date.now();
    // n2 died holding the flock: taking it (and writing under it) waits for recovery
    const w = await sh(`flock -x ${MNT}/lockfile -c "echo 'written on n1 after n2 died' > ${MNT}/after-death.txt && sync"`, 150_000);
    const tWritable = Date.now();
    await waitFor(() => daemonLog().some((l) => l.event === 'ops' && String(l.msg).startsWith('recover from node 2')), 60_000);
    const log = daemonLog();
    const at = (ev: string) => {
      const l = log.find((x) => x.event === ev);
      return l ? Date.parse(l.t) : undefined;
    };
    const dead = log.find((l) => l.event === 'probe-dead');
    const silentMs = Number(/for (\d+) ms/.exec(dead?.msg ?? '')?.[1] ?? 0);
    const tDead = at('probe-dead');
    const tFence = at('fence-result');
    const recovered = log.find((l) => l.event === 'ops' && String(l.msg).startsWith('recover from node 2'));
    const dmesg = execFileSync('dmesg', { encoding: 'utf8' });
    console.log(dmesg.split('\n').filter((l) => /dlm|ocfs2|JBD2/i.test(l)).slice(-25).join('\n'));
    assert.ok(w.ok, `write after n2's death failed or hung: ${w.out}`);
    assert.ok(dead, 'the daemon never found n2 dead');
    assert.ok(tFence, 'no fence result');
    assert.ok(recovered, 'no recovery ops');
    assert.match(readFileSync(FENCE_LOG, 'utf8'), /node=2\nfail_time=\d+\n/);
    assert.match(dmesg, /End replay journal|Recovering node 2|recover/i);
    const lastSeen = tDead! - silentMs;
    figure(`n2 stopped answering ping -> n1 writable: ${tWritable - tGone} ms (n2 announced its death ${tGone - tAnnounced} ms before it was gone)`);
    figure(`n2 last answered the probe -> declared dead ${silentMs} ms -> fenced +${tFence! - tDead!} ms -> recovery ops +${Date.parse(recovered.t) - tFence!} ms -> flock taken and file written +${tWritable - Date.parse(recovered.t)} ms; total last-seen -> writable ${tWritable - lastSeen} ms`);
    const ls = (await request(SOCK, 'lockspaces')) as { name: string; state: string; members: number[] }[];
    assert.deepEqual(ls.map((l) => [l.name, l.state, l.members]), [[uuid, 'running', [1]]]);
    assert.equal(k.tryList('/sys/kernel/config/dlm/cluster/comms/2'), undefined, "n2's comm is still there");
    assert.equal(readFileSync(`${MNT}/after-death.txt`, 'utf8'), 'written on n1 after n2 died\n');
    assert.equal(readFileSync(`${MNT}/from-n2.txt`, 'utf8'), 'written on n2\n');
  });

  it('n1 unmounts alone: the daemon answers the offline; the lockspace is gone', async function () {
    const t0 = Date.now();
    await within(nativeSystem.umount(MNT), 60_000, 'umount');
    figure(`n1 umount after recovery took ${Date.now() - t0} ms`);
    assert.equal(mountLine(), undefined);
    assert.ok(await waitFor(() => (k.tryList('/sys/kernel/dlm') ?? []).length === 0, 10_000));
    const ls = (await request(SOCK, 'lockspaces')) as unknown[];
    assert.deepEqual(ls, []);
    const st = (await request(SOCK, 'status')) as { counters: Record<string, number> };
    assert.equal(st.counters.joinsAnswered, 1);
    assert.equal(st.counters.leavesAnswered, 1);
    assert.equal(st.counters.fences, 1);
    const dump = (await request(SOCK, 'dump', 5000)) as { event: string }[];
    assert.ok(dump.some((e) => e.event === 'uevent-offline'));
  });
});
