// Soak (issue 14), two VMs on the user stack with corosync and `o2stack daemon` (corosync
// membership: a CPG group per lockspace, so each node joins and leaves its lockspaces on its own and
// POSIX locks are on; static membership puts every node in every lockspace and has no plocks
// across nodes), test fence agent: for O2STACK_SOAK_MINUTES (default 1 in `npm run test:vm`, so CI stays short; `npm run test:soak` runs 30)
// each node loops on its own clock: mount (a lockspace join, the peer's lockspace sees a member
// join), POSIX lock traffic on one shared file (fcntl F_SETLKW/F_UNLCK from three processes, both
// nodes at once: plocks replicated over the lockspace's group), a write, unmount (the lockspace
// leaves, the peer's recovers without fencing). Because the two loops drift, joins and leaves hit
// the other node's lockspace at every point of its own cycle: the membership of the lockspace
// group flaps all the time. Every minute the daemon's RSS and open fds are sampled and printed;
// at the end: no fence ran, no mount or unmount failed, and the daemon's RSS and fds did not grow
// (last minute against the first sample after warm-up).
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { nativeSystem } from '../../../lib/kernel/system.js';
import { request } from '../../../lib/stack/daemon/controlSocket.js';
import { selectStack } from '../../../lib/stack/select.js';
import { FENCE_OK_AGENT, corosyncPid, startCorosync, stopCorosync } from '../support/corosync.js';
import { awaitUserStackVolume, mkfsUserStack, mountLine as mountLineOf, within } from '../support/dlm.js';
import { realBackend, requireTestVm, waitFor } from '../support/kernel.js';
import { figure, startDaemonInBackground } from '../support/run.js';

const DISK = '/dev/vda';
const MNT = '/mnt/shared';
const SOCK = '/run/o2stack.sock';
const DLOG = '/tmp/o2stack-daemon.log';
const FENCE_LOG = '/tmp/o2stack-fence.log';
const me = Number(process.env.NODE);
const peer = 3 - me;
const minutes = Number(process.env.O2STACK_SOAK_MINUTES || 1);
const mountLine = () => mountLineOf(MNT);

interface Sample {
  minute: number;
  rssKb: number;
  /** the daemon's V8 heap in use (daemon-ctl status → memory), MB */
  heapMB: number;
  fds: number;
  cycles: number;
  plockOps: number;
}

function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}
const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

// Three processes take and drop an exclusive POSIX lock on one shared file for `seconds`; prints
// the number of lock+unlock pairs done (F_SETLKW waits for the peer node's holders too).
const PLOCK_LOOP = `
import fcntl, os, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
kids = []
for _ in range(3):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            n, end = 0, time.time() + seconds
            while time.time() < end:
                fcntl.lockf(fd, fcntl.LOCK_EX)
                fcntl.lockf(fd, fcntl.LOCK_UN)
                n += 1
            os.write(w, str(n).encode())
            os._exit(0)
        except BaseException as e:
            os.write(w, ("ERR %r" % e).encode())
            os._exit(1)
    os.close(w)
    kids.append((pid, r))
total, errors = 0, []
for pid, r in kids:
    got = os.read(r, 256).decode() or "ERR no answer"
    os.waitpid(pid, 0)
    if got.startswith("ERR"):
        errors.append(got)
    else:
        total += int(got)
print(total)
if errors:
    sys.stderr.write("; ".join(errors) + chr(10))
    sys.exit(1)
`;

let failed = false;

/** What to look at when a cycle fails or hangs: the daemon's view, hung tasks' kernel stacks, its log. */
async function diagnose(): Promise<void> {
  const ask = async (what: string, ...args: unknown[]) => {
    try {
      return JSON.stringify(await within(request(SOCK, what, ...(args as [])), 10_000, what));
    } catch (e) {
      return `(${(e as Error).message})`;
    }
  };
  console.log(`--- n${me} diagnose: lockspaces ${await ask('lockspaces')}`);
  console.log(`--- n${me} diagnose: plocks ${(await ask('plocks')).slice(0, 3000)}`);
  console.log(`--- n${me} diagnose: groups ${await ask('groups')}`);
  // tasks in D state and their kernel stacks (a mount(2) waiting for a join, an F_SETLKW, ...)
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!/\) D /.test(stat)) continue;
      console.log(`--- n${me} D-state task ${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}\n${readFileSync(`/proc/${pid}/stack`, 'utf8')}`);
    } catch {
      /* gone */
    }
  }
  console.log(`--- n${me} diagnose: daemon log (last 120 lines)\n${readFileSync(DLOG, 'utf8').split('\n').slice(-120).join('\n')}`);
}

describe(`soak: user stack, two VMs, ${minutes} min of mount/plocks/umount with drifting loops (this is n${me})`, function () {
  const k = realBackend();
  let daemonPid: number | undefined;

  before(function () {
    requireTestVm();
    assert.ok(me === 1 || me === 2, `NODE must be 1 or 2 (vm/run-two.sh), got ${process.env.NODE}`);
    assert.ok(Number.isFinite(minutes) && minutes >= 1 && minutes <= 240, `O2STACK_SOAK_MINUTES=${process.env.O2STACK_SOAK_MINUTES}: 1 to 240`);
    mkdirSync(MNT, { recursive: true });
    writeFileSync('/proc/sys/fs/ocfs2/nm/hb_ctl_path', '/bin/true');
    writeFileSync('/tmp/plock-loop.py', PLOCK_LOOP);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async function () {
    if (failed) await diagnose();
    if (mountLine()) await within(nativeSystem.umount(MNT), 120_000, 'cleanup umount').catch(() => undefined);
    if (daemonPid) {
      try {
        process.kill(daemonPid, 'SIGTERM');
      } catch {
        /* gone */
      }
      await waitFor(() => !existsSync(`/proc/${daemonPid}`), 20_000, 200);
    }
    if (corosyncPid()) await stopCorosync().catch((e: unknown) => console.log(String(e)));
  });

  it(me === 1 ? 'n1 makes the pcmk volume' : 'n2 sees the pcmk volume n1 made', async function () {
    if (me === 1) mkfsUserStack(DISK);
    else assert.ok(await awaitUserStackVolume(DISK, 120_000), 'no pcmk volume on /dev/vda within 120 s');
  });

  it('starts corosync (cluster demo, both nodes) and `o2stack daemon` on it (test fence agent)', async function () {
    this.timeout(300_000);
    assert.ok(await selectStack(k, nativeSystem, 'pcmk'));
    await startCorosync({ clusterName: 'demo' });
    daemonPid = await startDaemonInBackground(['--fence-agent', FENCE_OK_AGENT, '--socket', SOCK], DLOG, 180_000, { ...process.env, O2STACK_FENCE_LOG: FENCE_LOG });
  });

  it(`loops mount → plock traffic → write → umount for ${minutes} min; the daemon's RSS and fds do not grow`, async function () {
    this.timeout((minutes + 10) * 60_000);
    const pid = daemonPid!;
    const t0 = Date.now();
    const deadline = t0 + minutes * 60_000;
    const samples: Sample[] = [];
    let cycles = 0;
    let plockOps = 0;
    const failures: string[] = [];
    const sample = async () => {
      // RSS and fds first: the status request's own connection is an fd of the daemon for a while
      const s = { minute: Math.round((Date.now() - t0) / 60_000), rssKb: rssKb(pid), fds: fdCount(pid), cycles, plockOps };
      const memory = ((await request(SOCK, 'status')) as { memory?: { heapUsed: number } }).memory;
      samples.push({ ...s, heapMB: memory?.heapUsed ?? NaN });
    };
    await sample();
    let nextSample = t0 + 60_000;
    // n2 starts its loop 7 s later and its traffic lasts 3 s longer: the loops drift apart
    if (me === 2) await new Promise((r) => setTimeout(r, 7000));
    while (Date.now() < deadline && failures.length === 0) {
      try {
        await within(nativeSystem.mount(DISK, MNT, 'ocfs2', 'cluster_stack=pcmk'), 240_000, 'mount');
        const r = spawnSync('python3', ['/tmp/plock-loop.py', `${MNT}/plock-shared`, String(me === 1 ? 4 : 7)], { encoding: 'utf8', timeout: 90_000 });
        if (r.status !== 0) {
          failures.push(`cycle ${cycles}: plock loop: exit ${r.status ?? r.signal}: ${r.stderr.slice(0, 200)}`);
          failed = true;
          await diagnose();
        }
        else plockOps += Number(r.stdout.trim());
        writeFileSync(`${MNT}/cycle-n${me}`, `${cycles}\n`);
        execFileSync('sync');
        await within(nativeSystem.umount(MNT), 240_000, 'umount');
        cycles++;
      } catch (e) {
        failures.push(`cycle ${cycles}: ${(e as Error).message}`);
        failed = true;
        await diagnose();
        if (mountLine()) await within(nativeSystem.umount(MNT), 120_000, 'umount after a failure').catch(() => undefined);
      }
      if (Date.now() >= nextSample) {
        await sample();
        nextSample += 60_000;
      }
    }
    await sample();
    for (const s of samples) figure(`n${me} soak minute ${s.minute}: daemon RSS ${(s.rssKb / 1024).toFixed(1)} MB, heap used ${s.heapMB} MB, fds ${s.fds}, cycles ${s.cycles}, plock ops ${s.plockOps}`);
    const st = (await request(SOCK, 'status')) as { counters: { fences: number; deaths: number } };
    figure(`n${me} soak: ${cycles} cycles (mount, plocks, write, umount) in ${((Date.now() - t0) / 60_000).toFixed(1)} min, ${plockOps} plock lock+unlock pairs; fences ${st.counters.fences}, deaths ${st.counters.deaths}`);
    assert.deepEqual(failures, []);
    assert.ok(cycles >= minutes, `only ${cycles} cycles in ${minutes} min`);
    assert.ok(plockOps > 0, 'no plock traffic');
    assert.equal(st.counters.fences, 0, 'a clean leave never fences');
    assert.equal(st.counters.deaths, 0, 'nobody died');
    // growth: the last sample against the first after a minute of warm-up (JIT, first lockspace);
    // with fewer than three samples, against the first
    const base = samples.length >= 3 ? samples[1]! : samples[0]!;
    const last = samples[samples.length - 1]!;
    figure(`n${me} soak growth: RSS ${(base.rssKb / 1024).toFixed(1)} → ${(last.rssKb / 1024).toFixed(1)} MB, fds ${base.fds} → ${last.fds}`);
    assert.ok(last.fds <= base.fds + 2, `open fds grew: ${base.fds} → ${last.fds}`);
    assert.ok(last.rssKb <= base.rssKb * 1.25 + 8 * 1024, `RSS grew: ${base.rssKb} → ${last.rssKb} kB`);
    // say when we are done so the peer's last unmount does not race our daemon's exit
    writeFileSync('/tmp/soak-done', '');
  });

  it('both nodes finish before either daemon stops', async function () {
    this.timeout(600_000);
    // a marker on the volume: mount once more, leave ours, wait (bounded) for the peer's
    await within(nativeSystem.mount(DISK, MNT, 'ocfs2', 'cluster_stack=pcmk'), 240_000, 'final mount');
    writeFileSync(`${MNT}/soak-done-n${me}`, '');
    execFileSync('sync');
    const ok = await waitFor(() => existsSync(`${MNT}/soak-done-n${peer}`), 180_000, 1000);
    await within(nativeSystem.umount(MNT), 240_000, 'final umount');
    assert.ok(ok, `n${peer} did not finish`);
  });
});
