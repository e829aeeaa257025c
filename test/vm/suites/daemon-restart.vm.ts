// The control daemon killed (SIGKILL) with a user-stack volume mounted and written, then started
// again as systemd's Restart= (or its watchdog) would (issue 14), one VM, Debian's 6.1 kernel:
//   - when the daemon's /dev/dlm-monitor closes, the kernel stops every lockspace: a new lock (a
//     file created) waits, while the writer may go on with the locks its node already holds;
//   - the new daemon adopts the lockspace from configfs and sysfs and starts it again: the writer
//     goes on, no acknowledged (fsync'd) record is lost, POSIX locks are served, the next
//     unmount (lockspace leave) and mount (join) are answered;
// The one-node static membership runs its process groups in the daemon, so the restart here is the
// groups path (rejoin, barrier, control=1); the static path without groups (several static nodes,
// no plocks) restarts an adopted lockspace itself, covered by test/model/dlmDaemon.test.ts.
// Without either (the lockspace left stopped) the new file's lock below never comes.
//   - a POSIX lock granted by the killed daemon is not in the new one's table: the new daemon says
//     so (error plocks-unknown) with the holder's pid, read from /proc/locks and mountinfo;
//   - fsck.ocfs2 -fn finds the volume clean afterwards.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nativeSystem } from '../../../lib/kernel/system.js';
import { request } from '../../../lib/stack/daemon/controlSocket.js';
import { selectStack } from '../../../lib/stack/select.js';
import { mkfsUserStack, mountLine as mountLineOf, within } from '../support/dlm.js';
import { realBackend, requireTestVm, waitFor } from '../support/kernel.js';
import { cli, figure, readDaemonLog, root, sh, spawnDaemonInBackground } from '../support/run.js';

const DISK = '/dev/vda';
const MNT = '/mnt/shared';
const SOCK = '/run/o2stack.sock';
const DLOG = '/tmp/o2stack-daemon.log';
const ACKED = '/tmp/acked';
const DATA = `${MNT}/journal.log`;
const PLOCK = join(root, 'test/vm/support/plock.py');
const mountLine = () => mountLineOf(MNT);

// appends numbered records, fsync after each, and records the last acknowledged one on a local fs
const WRITER = `
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
i = 0
while True:
    os.write(fd, b"rec %08d\\n" % i)
    os.fsync(fd)
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(i))
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    i += 1
`;

const acked = () => (existsSync(ACKED) ? Number(readFileSync(ACKED, 'utf8')) : -1);

describe('the control daemon killed with a volume mounted and written, then started again (one VM)', function () {
  const k = realBackend();
  let uuid = '';
  let daemon: ChildProcess | undefined;
  let writer: ChildProcess | undefined;
  let holder: ChildProcess | undefined;

  async function startDaemon(): Promise<ChildProcess> {
    const d = await spawnDaemonInBackground(['--members', '/tmp/members', '--node-id', '1', '--cluster', 'demo', '--fence-manual', '--socket', SOCK], DLOG, 120_000, process.env, { append: true });
    daemon = d;
    return d;
  }

  before(async function () {
    requireTestVm();
    mkdirSync(MNT, { recursive: true });
    writeFileSync('/proc/sys/fs/ocfs2/nm/hb_ctl_path', '/bin/true');
    execFileSync('ip', ['addr', 'add', '192.0.2.1/32', 'dev', 'lo']);
    writeFileSync('/tmp/members', 'n1=1@192.0.2.1\n');
    writeFileSync('/tmp/writer.py', WRITER);
    writeFileSync(DLOG, '');
    uuid = mkfsUserStack(DISK);
    assert.ok(await selectStack(k, nativeSystem, 'pcmk'));
  });

  after(async function () {
    for (const c of [writer, holder]) if (c?.pid && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (mountLine()) await within(nativeSystem.umount(MNT), 60_000, 'cleanup umount').catch(() => undefined);
    if (daemon?.pid && daemon.exitCode === null) daemon.kill('SIGTERM');
    if (this.currentTest?.state === 'failed') console.log(readFileSync(DLOG, 'utf8').split('\n').slice(-60).join('\n'));
  });

  it('the daemon answers the mount; a writer appends fsync\'d records', async function () {
    await startDaemon();
    const m = cli(['mount', '--json', DISK, MNT], 180_000);
    assert.equal(m.code, 0, `${m.out}${m.err}`);
    writer = spawn('python3', ['/tmp/writer.py', DATA, ACKED], { stdio: 'ignore' });
    assert.ok(await waitFor(() => acked() >= 20, 60_000), `the writer did not get going (acked ${acked()})`);
  });

  it('SIGKILL: the kernel stops the lockspace; the restarted daemon adopts it, starts it again, and the writer goes on', async function () {
    // a POSIX lock granted by the daemon about to die: the next one cannot know it
    holder = spawn('python3', [PLOCK, 'hold', `${MNT}/held.lock`, '0', '10', 'ex'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    holder.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    assert.ok(await waitFor(() => out.includes('held'), 60_000), `the lock was not granted: ${out}`);
    const d = daemon!;
    const killedAt = Date.now();
    process.kill(d.pid!, 'SIGKILL');
    assert.ok(await waitFor(() => d.exitCode !== null || d.signalCode !== null, 10_000), 'the daemon did not die');
    const ackedAtKill = acked();
    // the kernel stopped the lockspace: a new lock (a new file's inode locks) waits for recovery;
    // the writer, whose locks this node already holds, may go on for a while
    const during = await sh(`touch ${MNT}/created-while-stopped`, 8000);
    assert.equal(during.ok, false, `a file was created with no control daemon: the lockspace was not stopped (${during.out})`);
    const stalled = acked();
    figure(`daemon SIGKILLed: a new file's lock waits (stopped lockspace); the writer, on locks it held, acknowledged ${stalled - ackedAtKill} record(s) in the 8 s after`);
    const restartAt = Date.now();
    await startDaemon();
    const adopted = readDaemonLog(DLOG).filter((l) => l.event === 'adopt' || /adopted/.test(String(l.msg)));
    assert.ok(adopted.length > 0, 'no adopt in the log');
    const after = await sh(`touch ${MNT}/created-after-restart`, 120_000);
    assert.ok(after.ok, `no new lock after the restart: the lockspace is still stopped (${after.out})`);
    assert.ok(await waitFor(() => acked() > stalled + 10, 120_000), `the writer did not go on after the restart (acked ${acked()}, ${stalled} before)`);
    // the lock held across the restart is named, with its pid (from the real /proc/locks and mountinfo)
    const unknown = readDaemonLog(DLOG).filter((l) => l.event === 'plocks-unknown').pop();
    assert.ok(unknown, 'no plocks-unknown error after the restart');
    assert.deepEqual(unknown.pids, [holder!.pid], unknown.msg);
    assert.deepEqual(unknown.dirs, [MNT]);
    const ls = (await request(SOCK, 'lockspaces')) as { name: string; state: string }[];
    assert.ok(ls.some((l) => l.name === uuid && l.state === 'running'), JSON.stringify(ls));
    figure(`daemon restart: ready ${Date.now() - restartAt} ms after its start, writer going again; ${Date.now() - killedAt} ms from the kill`);
  });

  it('after the restart: POSIX locks are served, the unmount (leave) and a new mount (join) are answered', async function () {
    const t = execFileSync('python3', [PLOCK, 'try', `${MNT}/p.lock`, '0', '10', 'ex'], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' }).trim();
    assert.equal(t, 'granted');
    holder!.kill('SIGKILL');
    assert.ok(await waitFor(() => holder!.exitCode !== null || holder!.signalCode !== null, 30_000, 100), 'the lock holder did not exit');
    writer!.kill('SIGKILL');
    assert.ok(await waitFor(() => writer!.exitCode !== null || writer!.signalCode !== null, 30_000, 100), 'the writer did not exit');
    const last = acked();
    await within(nativeSystem.umount(MNT), 120_000, 'umount after the restart');
    const m = cli(['mount', '--json', DISK, MNT], 180_000);
    assert.equal(m.code, 0, `${m.out}${m.err}`);
    // every acknowledged record is there, in order
    const lines = readFileSync(DATA, 'utf8').split('\n').filter(Boolean);
    assert.ok(lines.length >= last + 1, `${lines.length} records on disk, ${last + 1} acknowledged`);
    for (let i = 0; i <= last; i++) assert.equal(lines[i], `rec ${String(i).padStart(8, '0')}`, `record ${i}`);
    figure(`${last + 1} acknowledged records, all on disk after the daemon's SIGKILL and restart`);
    await within(nativeSystem.umount(MNT), 120_000, 'umount');
  });

  it('fsck.ocfs2 -fn: the volume is clean', function () {
    // the daemon still runs the cluster: fsck takes no cluster lock with -n (read only)
    const r = execFileSync('fsck.ocfs2', ['-fn', DISK], { encoding: 'utf8', timeout: 300_000 });
    assert.doesNotMatch(r, /ERROR|corrupt/i, r);
  });
});
