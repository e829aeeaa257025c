// Issue 12 items 1 and 3 on the real kernel, two VMs sharing /dev/vda (n1 = 192.0.2.1, n2 =
// 192.0.2.2), both running the o2cb cluster 'demo' with `o2stack start`:
//   - start mounts ocfs2_dlmfs on /dlm (idempotent), status and doctor show it;
//   - `o2stack helpers install` refuses to replace ocfs2-tools' /sbin/mount.ocfs2 (the guests run
//     the host's root, where Debian's ocfs2-tools is installed) without --replace-ocfs2-tools,
//     and with it puts our helper there; `helpers remove` at the end puts ocfs2-tools' file back
//     byte for byte;
//   - n1: an fstab line with _netdev, `mount -a -t ocfs2 -v`: mounted through our helper (its -v
//     lines) with heartbeat started; `mount -o remount` goes through it without a second
//     heartbeat; `umount` stops heartbeat (the kernel runs our hb-ctl);
//   - n2, n1 mounted: `fsck.ocfs2 -y` refuses because the volume is in use in the cluster, which it
//     learns through its lock on /dlm (`fsck.ocfs2 -n` takes no cluster lock: it reads, exit 0);
//   - n2, n1 online and unmounted: `tunefs.ocfs2 -L` fails to lock without /dlm, and succeeds
//     once `o2stack start` has mounted it again; n1 reads the new label;
//   - n1, user stack: a pcmk volume through plain `mount -t ocfs2`: refused with the fix (exit 32,
//     at once) without a control daemon; with `o2stack daemon` running it mounts with
//     cluster_stack=pcmk. `o2stack stop` unmounts /dlm.
// The VMs pass flags over the link (test/vm/support/flags.ts).
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { inspectVolume } from '../../../lib/kernel/blockdev.js';
import { o2nm } from '../../../lib/model/paths.js';
import { runCli } from '../../support/runCli.js';
import { FlagBoard } from '../support/flags.js';
import { mkfsUserStack } from '../support/dlm.js';
import { realBackend, requireTestVm, vmNode, waitFor } from '../support/kernel.js';
import { figure, spawnDaemonInBackground } from '../support/run.js';

const DISK = '/dev/vda';
const MNT = '/mnt/shared';
const CONF = '/tmp/mount-helper.conf';
const HELPER = '/sbin/mount.ocfs2';
const DLOG = '/tmp/o2stack-daemon.log';
const me = Number(process.env.NODE);

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const mountLine = (dir: string) => readFileSync('/proc/self/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === dir);

/** A command with a time limit, without blocking the event loop (the flag server answers meanwhile). */
function run(cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((res) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      out += `(still running after ${timeoutMs} ms: killed)`;
    }, timeoutMs);
    c.on('close', (code) => {
      clearTimeout(t);
      res({ code, out, ms: Date.now() - t0 });
    });
  });
}

async function cli(args: string[]) {
  const r = await runCli(args);
  return { ...r, json: r.out.trim().startsWith('{') ? JSON.parse(r.out) : undefined };
}

describe(`mount -t ocfs2 through o2stack's mount.ocfs2, and dlmfs (two VMs, this is n${me})`, function () {
  const flags = new FlagBoard(me);
  let toolsSha = '';
  let uuid = '';
  let daemon: ChildProcess | undefined;

  before(async function () {
    requireTestVm();
    vmNode(2);
    await flags.serve();
    mkdirSync(MNT, { recursive: true });
    const node = (n: number) => `node:\n\tip_port = 7777\n\tip_address = 192.0.2.${n}\n\tnumber = ${n}\n\tname = n${n}\n\tcluster = demo\n`;
    writeFileSync(CONF, `cluster:\n\tnode_count = 2\n\tname = demo\n\n${node(1)}\n${node(2)}`);
  });

  after(function () {
    flags.close();
    if (daemon?.pid && daemon.exitCode === null) {
      try {
        process.kill(daemon.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
  });

  it('o2stack start brings the cluster up and mounts ocfs2_dlmfs on /dlm; a second start changes nothing; status and doctor show it', async function () {
    const s = await cli(['start', '--json', '--config', CONF]);
    assert.equal(s.code, 0, s.err + s.out);
    assert.ok(s.json.actions.includes('mount -t ocfs2_dlmfs ocfs2_dlmfs /dlm'), s.json.actions.join('; '));
    assert.match(mountLine('/dlm') ?? '', /^ocfs2_dlmfs \/dlm ocfs2_dlmfs /);
    const again = await cli(['start', '--json', '--config', CONF]);
    assert.equal(again.json.alreadyRunning, true, again.out);
    assert.equal(readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => l.includes(' ocfs2_dlmfs ')).length, 1);
    const st = await cli(['status', '--json']);
    assert.deepEqual(st.json.dlmfs, { mounted: true, dirs: ['/dlm'], domains: [] });
    const doc = await cli(['doctor', '--json', '--config', CONF]);
    const check = (doc.json.checks as { id: string; status: string; message: string }[]).find((c) => c.id === 'dlmfs');
    assert.equal(check?.status, 'ok', JSON.stringify(check));
  });

  if (me === 1) {
    it('n1 makes an o2cb volume for cluster demo', async function () {
      execFileSync('mkfs.ocfs2', ['-q', '-F', '-b', '4K', '-C', '4K', '-N', '4', '-J', 'size=8M', '-L', 'OLDLABEL', '--cluster-stack=o2cb', '--cluster-name=demo', DISK], { input: 'y\n', stdio: 'pipe' });
      uuid = inspectVolume(DISK).superblock.uuid;
      flags.raise('mkfs');
    });

    it('helpers install refuses ocfs2-tools\' mount.ocfs2 without --replace-ocfs2-tools, installs with it; the kernel runs our hb-ctl at unmount', async function () {
      toolsSha = sha(HELPER);
      const no = await cli(['helpers', 'install']);
      assert.equal(no.code, 1, no.out + no.err);
      assert.match(no.err, /ocfs2-tools' mount\.ocfs2 \(package ocfs2-tools\): not replaced/);
      assert.match(no.err, /fix: o2stack helpers install --replace-ocfs2-tools/);
      assert.equal(sha(HELPER), toolsSha, 'left as it was');
      const yes = await cli(['helpers', 'install', '--replace-ocfs2-tools', '--json']);
      assert.equal(yes.code, 0, yes.err + yes.out);
      assert.equal(yes.json.realPath, '/usr/sbin/mount.ocfs2', 'merged /usr: the file lives in /usr/sbin');
      assert.match(readFileSync(HELPER, 'utf8'), /^#!\/bin\/sh\n# o2stack-helper: mount\.ocfs2/);
      assert.equal(sha('/var/lib/o2stack/helpers/mount.ocfs2.orig'), toolsSha);
      const hb = await cli(['hb-ctl', '--install', '--json']);
      assert.equal(hb.code, 0, hb.err);
    });

    it('fstab with _netdev, mount -a -t ocfs2: mounted through our helper with heartbeat started', async function () {
      this.timeout(300_000);
      writeFileSync('/etc/fstab', `# mount-helper suite\n${DISK} ${MNT} ocfs2 _netdev,noatime 0 0\n`);
      const r = await run('mount', ['-a', '-t', 'ocfs2', '-v'], 240_000);
      figure(`mount -a -t ocfs2 through o2stack's helper: ${r.ms} ms`);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /mount\.ocfs2: heartbeat started on vda in [\d.]+ s/);
      assert.match(r.out, /mount\.ocfs2: mounted \/dev\/vda \([0-9A-F]{32}\), o2cb volume of cluster 'demo' \(heartbeat=local\), on \/mnt\/shared .*\(o2stack\)/);
      assert.match(r.out, /not passed to the kernel: _netdev/);
      const line = mountLine(MNT) ?? '';
      assert.match(line, /^\/dev\/vda \/mnt\/shared ocfs2 .*noatime/);
      assert.match(line, /heartbeat=local/);
      assert.equal(readFileSync(o2nm.regionAttr('demo', uuid, 'dev'), 'utf8'), 'vda\n');
      writeFileSync(`${MNT}/hello.txt`, 'mounted by mount -a\n');
    });

    it('mount -o remount goes through the helper and starts no second heartbeat', async function () {
      this.timeout(240_000);
      const pid = readFileSync(o2nm.regionAttr('demo', uuid, 'pid'), 'utf8');
      const r = await run('mount', ['-v', '-o', 'remount,nosuid', MNT], 180_000);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /mount\.ocfs2: remounted \/dev\/vda on \/mnt\/shared with heartbeat=local .*heartbeat left as it runs/);
      assert.match(mountLine(MNT) ?? '', /nosuid/);
      assert.equal(readFileSync(o2nm.regionAttr('demo', uuid, 'pid'), 'utf8'), pid, 'the same o2hb thread');
      const regions = realBackend().list(o2nm.heartbeat('demo')).filter((e) => e.type === 'dir');
      assert.deepEqual(regions.map((e) => e.name), [uuid]);
      flags.raise('mounted');
    });

    it('(n2 runs fsck.ocfs2 -n and -y meanwhile) then umount stops heartbeat', async function () {
      this.timeout(400_000);
      assert.ok(await flags.awaitFlag(2, 'fsck-done', 360_000), 'n2 did not finish its fsck');
      const r = await run('umount', [MNT], 120_000);
      assert.equal(r.code, 0, r.out);
      assert.ok(await waitFor(() => !existsSync(o2nm.region('demo', uuid)), 30_000), 'heartbeat region still there after umount');
      flags.raise('unmounted');
    });

    it('n1 reads the label n2 wrote with tunefs.ocfs2', async function () {
      this.timeout(400_000);
      assert.ok(await flags.awaitFlag(2, 'tuned', 360_000), 'n2 did not finish tunefs');
      execFileSync('blockdev', ['--flushbufs', DISK]);
      assert.equal(inspectVolume(DISK).superblock.label, 'NEWLABEL');
      flags.raise('label-read');
    });

    it('o2stack stop unmounts /dlm and unregisters the cluster', async function () {
      const t = await cli(['stop', '--json']);
      assert.equal(t.code, 0, t.err + t.out);
      assert.equal(t.json.actions.at(-1), 'umount /dlm (ocfs2_dlmfs)');
      assert.equal(mountLine('/dlm'), undefined);
      assert.equal(existsSync(o2nm.cluster('demo')), false);
    });

    it('user stack: plain mount -t ocfs2 without a control daemon is refused at once (exit 32) with the fix', async function () {
      uuid = mkfsUserStack(DISK);
      const sel = await cli(['select', 'pcmk']);
      assert.equal(sel.code, 0, sel.err);
      const r = await run('mount', ['-t', 'ocfs2', DISK, MNT], 120_000);
      figure(`mount -t ocfs2 refused without a daemon in ${r.ms} ms`);
      assert.equal(r.code, 32, r.out);
      assert.match(r.out, /no control daemon runs to answer its lockspace join/);
      assert.match(r.out, /fix: start one first: systemctl start o2stack-daemon \(or o2stack daemon/);
      assert.equal(mountLine(MNT), undefined);
      assert.equal(realBackend().tryList('/sys/kernel/dlm')?.filter((e) => e.type === 'dir').length ?? 0, 0, 'no lockspace was created');
    });

    it('user stack: with o2stack daemon running, mount -t ocfs2 adds cluster_stack=pcmk and mounts; umount', async function () {
      this.timeout(300_000);
      writeFileSync('/tmp/members', 'n1=1@192.0.2.1\n');
      daemon = await spawnDaemonInBackground(['--members', '/tmp/members', '--node-id', '1', '--cluster', 'demo', '--fence-manual'], DLOG, 110_000);
      const r = await run('mount', ['-t', 'ocfs2', '-v', '-o', 'noatime', DISK, MNT], 110_000);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /user-stack volume \(cluster_stack=pcmk\)/);
      assert.match(mountLine(MNT) ?? '', /cluster_stack=pcmk/);
      writeFileSync(`${MNT}/user.txt`, 'user stack\n');
      const u = await run('umount', [MNT], 60_000);
      assert.equal(u.code, 0, u.out);
    });

    it('helpers remove puts ocfs2-tools\' mount.ocfs2 back byte for byte', async function () {
      if (daemon?.pid) process.kill(daemon.pid, 'SIGTERM');
      const r = await cli(['helpers', 'remove']);
      assert.equal(r.code, 0, r.err + r.out);
      assert.equal(sha(HELPER), toolsSha);
      assert.equal(existsSync('/var/lib/o2stack/helpers/mount.ocfs2.orig'), false);
    });
  } else {
    it('n2, n1 mounted: fsck.ocfs2 -y refuses because the volume is in use in the cluster (its lock through /dlm); -n reads without locking', async function () {
      this.timeout(500_000);
      assert.ok(await flags.awaitFlag(1, 'mounted', 450_000), 'n1 did not mount');
      execFileSync('blockdev', ['--flushbufs', DISK]);
      // -n opens the volume read-only, and fsck.ocfs2 takes the cluster lock only to write: it
      // checks without asking the cluster (measured: exit 0, "is clean")
      const ro = await run('fsck.ocfs2', ['-n', DISK], 110_000);
      console.log(`      fsck.ocfs2 -n (exit ${ro.code}, ${ro.ms} ms): ${ro.out.split('\n').filter(Boolean).slice(-1)[0]}`);
      const rw = await run('fsck.ocfs2', ['-y', DISK], 110_000);
      console.log(`      fsck.ocfs2 -y (exit ${rw.code}, ${rw.ms} ms):\n${rw.out.replace(/^/gm, '        | ')}`);
      flags.raise('fsck-done');
      assert.equal(ro.code, 0, ro.out);
      assert.notEqual(rw.code, 0, rw.out);
      assert.match(rw.out, /while locking down the cluster/);
      assert.doesNotMatch(rw.out, /dlmfs|Unable to access cluster service|while initializing the DLM/i);
      assert.doesNotMatch(rw.out, /Checking OCFS2 filesystem/, 'it never started checking');
    });

    it('n2, n1 online and unmounted: tunefs.ocfs2 -L cannot lock without /dlm, and succeeds once o2stack start mounted it again', async function () {
      this.timeout(500_000);
      assert.ok(await flags.awaitFlag(1, 'unmounted', 450_000), 'n1 did not unmount');
      execFileSync('blockdev', ['--flushbufs', DISK]);
      const u = await run('umount', ['/dlm'], 30_000);
      assert.equal(u.code, 0, u.out);
      const without = await run('tunefs.ocfs2', ['-L', 'NOLOCK', DISK], 110_000);
      console.log(`      tunefs.ocfs2 without /dlm (exit ${without.code}):\n${without.out.replace(/^/gm, '        | ')}`);
      assert.notEqual(without.code, 0, without.out);
      const s = await cli(['start', '--json', '--config', CONF]);
      assert.equal(s.code, 0, s.err);
      assert.deepEqual(s.json.actions, ['mount -t ocfs2_dlmfs ocfs2_dlmfs /dlm']);
      const r = await run('tunefs.ocfs2', ['-L', 'NEWLABEL', DISK], 110_000);
      figure(`tunefs.ocfs2 -L with /dlm: ${r.ms} ms`);
      assert.equal(r.code, 0, r.out);
      assert.equal(inspectVolume(DISK).superblock.label, 'NEWLABEL');
      flags.raise('tuned');
    });

    it('n2 stays up until n1 has read the label (its flags answer over the link)', async function () {
      this.timeout(300_000);
      assert.ok(await flags.awaitFlag(1, 'label-read', 240_000), 'n1 did not read the label');
    });
  }
});
