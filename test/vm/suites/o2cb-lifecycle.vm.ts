// The o2cb stack on one VM with a virtio disk (/dev/vda, blank): detect and select both stacks,
// start/stop twice, local heartbeat, mount/umount with the kernel running our hb-ctl at unmount,
// a failed mount leaving nothing behind, and the preflight's messages for mismatched volumes.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { o2nm } from '../../../lib/model/paths.js';
import { detectStack } from '../../../lib/stack/detect.js';
import { nativeSystem } from '../../../lib/kernel/system.js';
import { selectStack } from '../../../lib/stack/select.js';
import { runCli } from '../../support/runCli.js';
import { realBackend, requireTestVm } from '../support/kernel.js';
import { resetO2nm } from '../../contract/o2nm.contract.js';

const DISK = '/dev/vda';
const CONF = '/tmp/o2cb-lifecycle.conf';
const MNT = '/mnt/o2cb';
const HOST = readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();

/** mkfs.ocfs2 refuses a stack or cluster other than the running one: make those with the cluster stopped. */
async function mkfsStopped(stack: string, cluster: string): Promise<void> {
  const t = await cli(['stop', '--json']);
  assert.equal(t.code, 0, t.err);
  mkfs(stack, cluster);
  const s = await cli(['start', '--json', '--config', CONF]);
  assert.equal(s.code, 0, s.err);
}

function mkfs(stack: string, cluster: string, extra: string[] = []): void {
  execFileSync('mkfs.ocfs2', ['-q', '-F', '-b', '4K', '-C', '4K', '-N', '4', '-J', 'size=8M', '-L', 'vmtest', `--cluster-stack=${stack}`, `--cluster-name=${cluster}`, ...extra, DISK], { input: 'y\n', stdio: 'pipe' }); // 'y': mkfs asks when it cannot check the cluster
}

async function cli(args: string[]) {
  const r = await runCli(args);
  return { ...r, json: r.out.trim().startsWith('{') ? JSON.parse(r.out) : undefined };
}

describe('o2cb lifecycle on one VM (Debian 6.1 kernel, virtio disk)', function () {
  before(function () {
    requireTestVm();
    if (!existsSync(DISK)) throw new Error(`${DISK} is missing: this suite needs a blank disk (test/vm/run-suites.ts attaches one)`);
    resetO2nm(realBackend());
    writeFileSync(CONF, `cluster:\n\tnode_count = 2\n\tname = demo\n\nnode:\n\tip_port = 7777\n\tip_address = 127.0.0.1\n\tnumber = 1\n\tname = ${HOST}\n\tcluster = demo\n\nnode:\n\tip_port = 7777\n\tip_address = 127.0.0.2\n\tnumber = 2\n\tname = other\n\tcluster = demo\n`);
    mkdirSync(MNT, { recursive: true });
  });
  after(function () {
    try {
      execFileSync('umount', [MNT], { stdio: 'ignore' });
    } catch {
      /* not mounted */
    }
  });

  it('detect reads the real kernel without changing it', function () {
    const b = realBackend();
    const d = detectStack(b);
    assert.equal(d.stackglue.clusterStack, 'o2cb');
    assert.ok(d.stackglue.loadedPlugins.includes('o2cb') && d.stackglue.loadedPlugins.includes('user'), d.stackglue.loadedPlugins.join(','));
    assert.equal(d.stackglue.activePlugin, null);
    assert.equal(d.stackglue.maxLockingProtocol, '1.0');
    assert.equal(d.stackglue.recoverCallbackSupport, true);
    assert.equal(d.o2cb.interfaceRevision, 5);
    assert.equal(d.configfsMounted, true);
    for (const m of ['configfs', 'ocfs2', 'ocfs2_stack_o2cb', 'ocfs2_stack_user', 'dlm'] as const) assert.equal(d.modules[m], true, m);
    assert.equal(d.stack, 'o2cb');
    assert.deepEqual(d.mounts, []);
  });

  it('select switches the stack label both ways while nothing is mounted, and is idempotent', async function () {
    const b = realBackend();
    const r1 = await selectStack(b, nativeSystem, 'pcmk');
    assert.deepEqual(r1.actions, ['write pcmk to /sys/fs/ocfs2/cluster_stack (was o2cb)']);
    assert.equal(readFileSync('/sys/fs/ocfs2/cluster_stack', 'utf8'), 'pcmk\n');
    assert.equal(detectStack(b).stack, 'user');
    const r2 = await cli(['select', 'o2cb', '--json']);
    assert.equal(r2.code, 0, r2.err);
    assert.equal(readFileSync('/sys/fs/ocfs2/cluster_stack', 'utf8'), 'o2cb\n');
    const r3 = await cli(['select', 'o2cb', '--json']);
    assert.deepEqual(r3.json.actions, []);
    const bad = await cli(['select', 'toolong']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /exactly 4 printable characters/);
  });

  it('start and stop twice: each is idempotent', async function () {
    const s1 = await cli(['start', '--json', '--config', CONF]);
    assert.equal(s1.code, 0, s1.err + s1.out);
    assert.equal(s1.json.alreadyRunning, false);
    assert.equal(s1.json.localNode, HOST);
    const s2 = await cli(['start', '--json', '--config', CONF]);
    assert.equal(s2.json.alreadyRunning, true, JSON.stringify(s2.json));
    assert.equal(readFileSync(`${o2nm.nodeAttr('demo', HOST, 'local')}`, 'utf8'), '1\n');
    const t1 = await cli(['stop', '--json']);
    assert.equal(t1.code, 0, t1.err);
    assert.deepEqual(t1.json.clusters, ['demo']);
    assert.equal(existsSync(o2nm.cluster('demo')), false);
    const t2 = await cli(['stop', '--json']);
    assert.equal(t2.json.alreadyStopped, true);
    const s3 = await cli(['start', '--json', '--config', CONF]);
    assert.equal(s3.json.alreadyRunning, false);
  });

  it('mounts with local heartbeat; stop is refused while mounted; the kernel runs our hb-ctl at unmount', async function () {
    mkfs('o2cb', 'demo');
    const inst = await cli(['hb-ctl', '--install', '--json']);
    assert.equal(inst.code, 0, inst.err + inst.out);
    assert.equal(readFileSync('/proc/sys/fs/ocfs2/nm/hb_ctl_path', 'utf8'), '/sbin/o2stack-hb-ctl\n');
    const m = await cli(['mount', '--json', DISK, MNT]);
    assert.equal(m.code, 0, m.err + m.out);
    assert.equal(m.json.kind, 'o2cb-local');
    assert.equal(m.json.options, 'heartbeat=local');
    assert.equal(m.json.heartbeat.started, true);
    const uuid = m.json.uuid as string;
    assert.match(uuid, /^[0-9A-F]{32}$/);
    assert.equal(readFileSync(o2nm.regionAttr('demo', uuid, 'dev'), 'utf8'), 'vda\n');
    console.log(`      heartbeat start took ${m.json.heartbeat.ms} ms, mount ${m.json.mountMs} ms`);
    writeFileSync(`${MNT}/hello.txt`, 'written on the o2cb stack\n');
    assert.equal(readFileSync(`${MNT}/hello.txt`, 'utf8'), 'written on the o2cb stack\n');
    const d = detectStack(realBackend());
    assert.equal(d.stackglue.activePlugin, 'o2cb');
    assert.equal(d.mounts[0]!.heartbeat, 'local');
    const stop = await cli(['stop']);
    assert.equal(stop.code, 1);
    assert.match(stop.err, /cannot stop the o2cb cluster: OCFS2 volumes are mounted/);
    const again = await cli(['mount', DISK, MNT]);
    assert.equal(again.code, 1);
    assert.match(again.err, /already mounted on \/mnt\/o2cb/);
    const u = await cli(['umount', '--json', MNT]);
    assert.equal(u.code, 0, u.err);
    assert.equal(u.json.heartbeat, 'stopped-by-helper', 'the kernel ran /sbin/o2stack-hb-ctl -K -u UUID, which removed the region');
    assert.equal(existsSync(o2nm.region('demo', uuid)), false);
  });

  it('a mount the kernel refuses leaves no heartbeat region behind', async function () {
    const m = await cli(['mount', '--json', '-o', 'no_such_option', DISK, MNT]);
    assert.equal(m.code, 1);
    assert.equal(m.json.error.code, 'EINVAL', m.out);
    assert.match(m.json.error.message, /cleaned up: stopped heartbeat region/);
    assert.deepEqual(realBackend().list(o2nm.heartbeat('demo')).filter((e) => e.type === 'dir'), []);
  });

  it('explains a volume made for the user stack', async function () {
    await mkfsStopped('pcmk', 'demo');
    const m = await cli(['mount', DISK, MNT]);
    assert.equal(m.code, 1);
    assert.match(m.err, /formatted for the 'pcmk' user stack \(cluster 'demo'\), but the running stack is 'o2cb'/);
    assert.match(m.err, /tunefs\.ocfs2 --update-cluster-stack/);
  });

  it('explains a volume of another cluster', async function () {
    await mkfsStopped('o2cb', 'other');
    const m = await cli(['mount', '--json', DISK, MNT]);
    assert.equal(m.code, 1);
    assert.match(m.out, /belongs to cluster 'other', but the registered cluster is 'demo'/);
    assert.deepEqual(realBackend().list(o2nm.heartbeat('demo')).filter((e) => e.type === 'dir'), [], 'nothing started');
  });

  it('stops cleanly at the end', async function () {
    const t = await cli(['stop', '--json']);
    assert.equal(t.code, 0, t.err);
    assert.equal(existsSync(o2nm.cluster('demo')), false);
  });
});
