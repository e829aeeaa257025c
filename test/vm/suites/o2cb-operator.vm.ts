// @vm-disks 2
// What an ocfs2-tools operator relies on (issue 12, items 2, 4, 5), on the 6.1 kernel with Debian's
// ocfs2-tools 1.8.7 beside us (/usr/sbin/o2cb, the host's, over the guest's root share):
// - the system files: /etc/ocfs2/cluster.conf made by our `o2stack o2cb add-*` verbs (two clusters)
//   and /etc/default/o2cb written by `o2stack configure` with a non-default threshold and timeouts;
//   a plain `o2stack start` picks O2CB_BOOTCLUSTER and configfs then holds exactly those values;
//   --if-enabled does nothing while O2CB_ENABLED=false; a value set differently in both files is
//   refused naming both files and lines, with nothing registered;
// - our `o2cb list-clusters / list-cluster [--oneline] / list-nodes / list-heartbeats` print
//   byte for byte what Debian's o2cb prints, on our file and on one Debian's o2cb wrote; our
//   cluster-status equals Debian's (online and offline, with its exit status); Debian's o2cb reads
//   what our register-cluster registered and ours unregisters what Debian's registered;
// - global heartbeat on two heartbeat devices (/dev/vda, /dev/vdb, mkfs.ocfs2 -H): start-heartbeat,
//   one region stopped by itself (stop-heartbeat CLUSTER UUID), then the other;
// - a start that the kernel refuses at the local node (its address is not on this host: plan warns
//   first) undoes everything it registered: /sys/kernel/config/cluster is empty afterwards.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { inspectVolume } from '../../../lib/kernel/blockdev.js';
import { O2NM_ROOT, o2nm } from '../../../lib/model/paths.js';
import { resetO2nm } from '../../contract/o2nm.contract.js';
import { runCli } from '../../support/runCli.js';
import { realBackend, requireTestVm } from '../support/kernel.js';

const HOST = readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
const CONF = '/etc/ocfs2/cluster.conf';
const DEFAULTS = '/etc/default/o2cb';
const DEB_CONF = '/tmp/debian-made.conf';
const HB = ['/dev/vda', '/dev/vdb'];

async function cli(args: string[]) {
  const r = await runCli(args);
  return { ...r, json: r.out.trim().startsWith('{') ? JSON.parse(r.out) : undefined };
}

/** Debian's o2cb: stdout, stderr and exit status. */
function debian(args: string[]): { out: string; err: string; code: number } {
  const r = spawnSync('/usr/sbin/o2cb', args, { encoding: 'utf8' });
  return { out: r.stdout, err: r.stderr, code: r.status ?? -1 };
}

const registered = () => readdirSync(O2NM_ROOT);
const attr = (path: string) => readFileSync(path, 'utf8').trim();

describe('o2cb operator: /etc/default/o2cb, o2cb verbs against Debian’s o2cb, no half-started cluster (6.1 kernel)', function () {
  const uuids: string[] = [];
  before(function () {
    requireTestVm();
    resetO2nm(realBackend());
    rmSync(CONF, { force: true });
    rmSync(DEFAULTS, { force: true });
    mkdirSync('/etc/ocfs2', { recursive: true });
    for (const d of HB) execFileSync('mkfs.ocfs2', ['-q', '-F', '-H', '-b', '1K', '--cluster-stack=o2cb', '--cluster-name=web', d], { input: 'y\n', stdio: 'pipe' });
    for (const d of HB) uuids.push(inspectVolume(d).superblock.uuid);
  });

  it('builds /etc/ocfs2/cluster.conf with our o2cb verbs (two clusters, a heartbeat device given by path)', async function () {
    const steps: string[][] = [
      ['add-cluster', 'web'],
      ['add-node', 'web', HOST, '--ip', '127.0.0.1'],
      ['add-node', '--ip', '127.0.0.2', '--port', '7778', '--number', '5', 'web', 'peer'],
      ['add-heartbeat', 'web', HB[0]!],
      ['add-heartbeat', 'web', uuids[1]!.toLowerCase()],
      ['add-cluster', 'db'],
      ['add-node', 'db', 'dbnode', '--ip', '127.0.0.3'],
    ];
    for (const s of steps) {
      const r = await cli(['o2cb', ...s]);
      assert.equal(r.code, 0, `${s.join(' ')}: ${r.err}`);
    }
    const dup = await cli(['o2cb', 'add-node', 'web', 'peer', '--ip', '127.0.0.9']);
    assert.equal(dup.code, 1);
    assert.match(dup.err, /already has a node 'peer'/);
    const nope = await cli(['o2cb', 'add-node', 'nope', 'x', '--ip', '127.0.0.9']);
    assert.equal(nope.code, 1);
    assert.match(nope.err, /Unknown cluster 'nope'/);
    assert.deepEqual(debian(['list-clusters']), { out: 'web\ndb\n', err: '', code: 0 }, 'Debian’s o2cb reads our file');
  });

  it('list-* print byte for byte what Debian’s o2cb prints, on our file and on one Debian’s o2cb wrote', async function () {
    rmSync(DEB_CONF, { force: true });
    for (const s of [['add-cluster', 'web'], ['add-node', '--ip', '10.0.0.7', '--number', '7', 'web', 'zeta'], ['add-node', '--ip', '10.0.0.1', 'web', 'alpha'], ['add-heartbeat', 'web', uuids[1]!], ['add-heartbeat', 'web', uuids[0]!], ['heartbeat-mode', 'web', 'global']]) {
      const r = debian([`--config-file=${DEB_CONF}`, ...s]);
      assert.equal(r.code, 0, `debian o2cb ${s.join(' ')}: ${r.err}`);
    }
    const verbs = [['list-clusters'], ...['web', 'db'].flatMap((c) => ['list-cluster', 'list-nodes', 'list-heartbeats'].flatMap((v) => [[v, c], [v, '--oneline', c]]))];
    let compared = 0;
    for (const file of [CONF, DEB_CONF]) {
      for (const v of verbs) {
        if (file === DEB_CONF && v.includes('db')) continue;
        const theirs = debian([`--config-file=${file}`, ...v]);
        assert.equal(theirs.code, 0, `debian o2cb ${v.join(' ')}: ${theirs.err}`);
        const ours = await cli(['o2cb', '--config-file', file, ...v]);
        assert.equal(ours.code, 0, ours.err);
        assert.equal(ours.out, theirs.out, `${file}: o2cb ${v.join(' ')}`);
        compared++;
      }
    }
    const oneline = await cli(['o2cb', 'list-cluster', '--oneline', 'web']);
    assert.equal(oneline.out, `heartbeat: ${uuids[0]} web\nheartbeat: ${uuids[1]} web\nnode: 0 ${HOST} 127.0.0.1:7777 web\nnode: 5 peer 127.0.0.2:7778 web\ncluster: 2 local web\n`);
    const json = await cli(['o2cb', 'list-nodes', 'web', '--json']);
    assert.deepEqual(json.json.nodes.map((n: { name: string; number: number }) => [n.name, n.number]), [[HOST, 0], ['peer', 5]]);
    console.log(`      ${compared} listings equal to Debian's o2cb`);
  });

  it('o2stack configure writes /etc/default/o2cb; plain start with O2CB_ENABLED=false and --if-enabled does nothing', async function () {
    const c = await cli(['configure', '--enabled', 'false', '--boot-cluster', 'web', '--heartbeat-threshold', '13', '--idle-timeout-ms', '15000', '--keepalive-delay-ms', '3000', '--reconnect-delay-ms', '4000']);
    assert.equal(c.code, 0, c.err);
    const text = readFileSync(DEFAULTS, 'utf8');
    for (const l of ['O2CB_ENABLED=false', 'O2CB_BOOTCLUSTER=web', 'O2CB_HEARTBEAT_THRESHOLD=13', 'O2CB_IDLE_TIMEOUT_MS=15000', 'O2CB_KEEPALIVE_DELAY_MS=3000', 'O2CB_RECONNECT_DELAY_MS=4000']) assert.ok(text.split('\n').includes(l), `${l} in\n${text}`);
    const chk = await cli(['config', 'check', '--json', DEFAULTS]);
    assert.equal(chk.code, 0, chk.err);
    assert.equal(chk.json.format, 'o2cb-defaults');
    const bad = await cli(['configure', '--keepalive-delay-ms', '20000']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /O2CB_KEEPALIVE_DELAY_MS \(20000\) must be less than O2CB_IDLE_TIMEOUT_MS \(15000\)/);
    assert.equal(readFileSync(DEFAULTS, 'utf8'), text, 'a refused configure leaves the file alone');
    const s = await cli(['start', '--if-enabled']);
    assert.equal(s.code, 0, s.err);
    assert.match(s.out, /O2CB_ENABLED is not true \(\/etc\/default\/o2cb:\d+\): not starting/);
    assert.deepEqual(registered(), []);
  });

  it('a value set differently in cluster.conf and /etc/default/o2cb is refused naming both files and lines; nothing is registered', async function () {
    const saved = readFileSync(CONF, 'utf8');
    writeFileSync(CONF, saved.replace('\tname = web\n', '\tname = web\n\tidle_timeout_ms = 20000\n'));
    try {
      const line = readFileSync(CONF, 'utf8').split('\n').indexOf('\tidle_timeout_ms = 20000') + 1;
      const s = await cli(['start']);
      assert.equal(s.code, 1);
      assert.match(s.err, new RegExp(`/etc/default/o2cb:\\d+: O2CB_IDLE_TIMEOUT_MS=15000 \\(/etc/default/o2cb:\\d+\\) conflicts with idle_timeout_ms = 20000 ms of cluster 'web' \\(/etc/ocfs2/cluster.conf:${line}\\)`));
      assert.deepEqual(registered(), []);
    } finally {
      writeFileSync(CONF, saved);
    }
  });

  it('plain o2stack start brings up O2CB_BOOTCLUSTER with the threshold and timeouts of /etc/default/o2cb', async function () {
    assert.equal((await cli(['configure', '--enabled', 'true'])).code, 0);
    const s = await cli(['start', '--if-enabled', '--json']);
    assert.equal(s.code, 0, s.err);
    assert.equal(s.json.cluster, 'web');
    assert.equal(s.json.localNode, HOST);
    assert.equal(s.json.defaultsFile, DEFAULTS);
    assert.match(s.json.timeoutSources.idleTimeoutMs, /^O2CB_IDLE_TIMEOUT_MS, \/etc\/default\/o2cb:\d+$/);
    assert.deepEqual(registered(), ['web']);
    assert.equal(attr(o2nm.heartbeatAttr('web', 'dead_threshold')), '13');
    assert.equal(attr(o2nm.clusterAttr('web', 'idle_timeout_ms')), '15000');
    assert.equal(attr(o2nm.clusterAttr('web', 'keepalive_delay_ms')), '3000');
    assert.equal(attr(o2nm.clusterAttr('web', 'reconnect_delay_ms')), '4000');
    assert.equal(attr(o2nm.nodeAttr('web', HOST, 'local')), '1');
    const again = await cli(['plan', '--json']);
    assert.equal(again.json.noop, true, JSON.stringify(again.json.ops));
  });

  it('cluster-status equals Debian’s, online and offline (stdout and exit status)', async function () {
    for (const args of [['cluster-status'], ['cluster-status', 'web'], ['cluster-status', 'db']]) {
      const theirs = debian(args);
      const ours = await cli(['o2cb', ...args]);
      assert.equal(ours.out, theirs.out, `online: o2cb ${args.join(' ')} (Debian's stderr: ${theirs.err})`);
      assert.equal(ours.code, theirs.code, `online: exit status of o2cb ${args.join(' ')}`);
    }
  });

  it('global heartbeat: start-heartbeat starts both regions; one is stopped by itself, then the other', async function () {
    assert.equal((await cli(['o2cb', 'heartbeat-mode', 'web', 'global'])).code, 0);
    const t = await cli(['stop', 'web']);
    assert.equal(t.code, 0, t.err);
    assert.deepEqual(registered(), []);
    const s = await cli(['start', '--json']);
    assert.equal(s.code, 0, s.err);
    assert.deepEqual(s.json.regions.map((r: { uuid: string; started: boolean }) => [r.uuid, r.started]), uuids.map((u) => [u, true]));
    const again = await cli(['o2cb', 'start-heartbeat', 'web']);
    assert.equal(again.code, 0, again.err);
    assert.equal(again.out, 'Global heartbeat started\n');
    const theirs = debian(['cluster-status', 'web']);
    const ours = await cli(['o2cb', 'cluster-status', 'web']);
    assert.equal(ours.out, theirs.out, 'global mode, heartbeating');
    assert.equal(ours.code, theirs.code);
    const one = await cli(['o2cb', 'stop-heartbeat', 'web', uuids[0]!]);
    assert.equal(one.code, 0, one.err);
    const dirs = () => realBackend().list(o2nm.heartbeat('web')).filter((e) => e.type === 'dir').map((e) => e.name);
    assert.deepEqual(dirs(), [uuids[1]]);
    const all = await cli(['o2cb', 'stop-heartbeat', 'web']);
    assert.equal(all.out, 'Global heartbeat stopped\n');
    assert.deepEqual(dirs(), []);
    const un = await cli(['o2cb', 'unregister-cluster', 'web']);
    assert.equal(un.code, 0, un.err);
    assert.deepEqual(registered(), []);
    assert.equal((await cli(['o2cb', 'heartbeat-mode', 'web', 'local'])).code, 0);
  });

  it('Debian’s o2cb reads what our register-cluster registered, and ours unregisters what Debian’s registered', async function () {
    const r = await cli(['o2cb', 'register-cluster', 'web']);
    assert.equal(r.code, 0, r.err);
    assert.equal(attr(o2nm.nodeAttr('web', HOST, 'local')), '1');
    const st = debian(['cluster-status', 'web']);
    assert.equal(st.code, 0, `Debian's o2cb: ${st.out}${st.err}`);
    const ours = await cli(['stop', 'web']);
    assert.equal(ours.code, 0, ours.err);
    assert.deepEqual(registered(), []);
    const d = debian(['register-cluster', 'web']);
    assert.equal(d.code, 0, d.err);
    assert.deepEqual(registered(), ['web']);
    const u = await cli(['o2cb', 'unregister-cluster', 'web']);
    assert.equal(u.code, 0, u.err);
    assert.deepEqual(registered(), []);
    for (const args of [['cluster-status'], ['cluster-status', 'web']]) {
      const theirs = debian(args);
      const mine = await cli(['o2cb', ...args]);
      assert.equal(mine.out, theirs.out, `offline: o2cb ${args.join(' ')} (Debian's stderr: ${theirs.err})`);
      assert.equal(mine.code, theirs.code, `offline: exit status of o2cb ${args.join(' ')}`);
    }
  });

  it('a start the kernel refuses at the local node leaves /sys/kernel/config/cluster empty, and says so; plan warned first', async function () {
    const bad = '/tmp/bad-local.conf';
    writeFileSync(bad, `cluster:\n\tname = bad\n\theartbeat_mode = local\n\tnode_count = 3\n\tidle_timeout_ms = 12000\n\nnode:\n\tname = other1\n\tcluster = bad\n\tnumber = 1\n\tip_address = 127.0.0.5\n\tip_port = 7777\n\nnode:\n\tname = ${HOST}\n\tcluster = bad\n\tnumber = 2\n\tip_address = 192.0.2.99\n\tip_port = 7777\n\nnode:\n\tname = other3\n\tcluster = bad\n\tnumber = 3\n\tip_address = 127.0.0.6\n\tip_port = 7777\n\n`);
    const p = await cli(['plan', '--config', bad]);
    assert.equal(p.code, 0, p.err);
    assert.match(p.out, new RegExp(`warning: the local node '${HOST}' has address 192\\.0\\.2\\.99, which is not an address of this host .*EADDRNOTAVAIL.*fix: give '${HOST}' this host's cluster address in ${bad}`));
    const s = await cli(['start', '--config', bad]);
    assert.equal(s.code, 1);
    assert.match(s.err, /o2stack start failed for cluster 'bad'; it undid everything it had registered in this run \(\d+ configfs operation\(s\)\): the kernel is as before/);
    assert.match(s.err, /EADDRNOTAVAIL/);
    assert.deepEqual(registered(), [], 'nothing half-started');
    const j = await cli(['start', '--config', bad, '--json']);
    assert.equal(j.code, 1);
    assert.equal(j.json.error.code, 'E_APPLY_FAILED');
    assert.ok(j.json.error.rolledBack.length >= 4, JSON.stringify(j.json.error.rolledBack));
    assert.deepEqual(j.json.error.rollbackFailed, []);
    assert.deepEqual(registered(), []);
  });
});
