// o2stack configure, o2stack o2cb VERB, config check of the defaults file, plan/apply with
// --defaults, stop CLUSTER: the CLI wiring on temporary files and a fake kernel tree (the kernel and
// Debian's o2cb: test/vm/suites/o2cb-operator.vm.ts).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFakeKernelTree } from '../../lib/kernel/fakeTree.js';
import { runCli } from '../support/runCli.js';

const DEBIAN_DEFAULTS = readFileSync(new URL('../fixtures/config/default-o2cb', import.meta.url), 'utf8');

describe('o2stack configure / o2cb verbs / defaults in plan and apply', function () {
  let dir: string;
  let conf: string;
  let defaults: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'o2s-o2cb-'));
    conf = join(dir, 'cluster.conf');
    defaults = join(dir, 'o2cb');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const o2cb = (...args: string[]) => runCli(['o2cb', '--config-file', conf, ...args]);

  it('configure edits the values in place, keeps comments, writes atomically (no temp or lock file left), and refuses bad values leaving the file alone', async function () {
    writeFileSync(defaults, DEBIAN_DEFAULTS);
    const r = await runCli(['configure', '--defaults', defaults, '--enabled', 'true', '--heartbeat-threshold', '61', '--boot-cluster', 'web', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).values.heartbeatThreshold, 61);
    const text = readFileSync(defaults, 'utf8');
    assert.equal(text, DEBIAN_DEFAULTS.replace('O2CB_ENABLED=false', 'O2CB_ENABLED=true').replace('O2CB_HEARTBEAT_THRESHOLD=31', 'O2CB_HEARTBEAT_THRESHOLD=61').replace('O2CB_BOOTCLUSTER=ocfs2', 'O2CB_BOOTCLUSTER=web'));
    assert.deepEqual(readdirSync(dir), ['o2cb']);
    for (const [flag, value, msg] of [
      ['--idle-timeout-ms', '100', /below the minimum 5000/],
      ['--enabled', 'yes', /expected true or false/],
      ['--keepalive-delay-ms', '40000', /must be less than O2CB_IDLE_TIMEOUT_MS/],
      ['--boot-cluster', 'bad-name', /1–16 letters or digits/],
    ] as const) {
      const bad = await runCli(['configure', '--defaults', defaults, flag, value]);
      assert.notEqual(bad.code, 0, `${flag} ${value}`);
      assert.match(bad.err, msg);
      assert.equal(readFileSync(defaults, 'utf8'), text);
    }
    const none = await runCli(['configure', '--defaults', defaults]);
    assert.equal(none.code, 2);
    // a new file: every given variable, with a header
    const fresh = join(dir, 'fresh');
    assert.equal((await runCli(['configure', '--defaults', fresh, '--enabled', 'false', '--idle-timeout-ms', '10000'])).code, 0);
    assert.match(readFileSync(fresh, 'utf8'), /^# .*\n(?:.*\n)*O2CB_ENABLED=false\nO2CB_IDLE_TIMEOUT_MS=10000\n$/);
  });

  it('config check recognises the defaults file (text and --json) and reports its errors with file:line', async function () {
    writeFileSync(defaults, DEBIAN_DEFAULTS);
    const t = await runCli(['config', 'check', defaults]);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /valid o2cb defaults file\n\s+O2CB_ENABLED\s+false\n/);
    const j = await runCli(['config', 'check', '--json', defaults]);
    assert.equal(JSON.parse(j.out).format, 'o2cb-defaults');
    writeFileSync(defaults, 'O2CB_ENABLED=true\nO2CB_HEARTBEAT_THRESHOLD=$(echo 5)\n');
    const bad = await runCli(['config', 'check', '--json', defaults]);
    assert.equal(bad.code, 1);
    assert.deepEqual(JSON.parse(bad.out).errors.map((e: { line: number; code: string }) => [e.line, e.code]), [[2, 'E_SHELL_EXPANSION']]);
    const asConf = await runCli(['plan', '--config', defaults]);
    assert.equal(asConf.code, 1);
    assert.match(asConf.err, /is an o2cb defaults file .* not a cluster configuration/);
  });

  it('config enabled (the unit’s ExecCondition): 0 when O2CB_ENABLED=true, 1 when not, 255 (fail, not skip) when the file is broken', async function () {
    writeFileSync(defaults, DEBIAN_DEFAULTS);
    const off = await runCli(['config', 'enabled', '--defaults', defaults]);
    assert.equal(off.code, 1);
    assert.equal(off.out, `O2CB_ENABLED=false in ${defaults}:8: not enabled (o2stack configure --enabled true)\n`);
    assert.equal((await runCli(['configure', '--defaults', defaults, '--enabled', 'true'])).code, 0);
    assert.equal((await runCli(['config', 'enabled', '--defaults', defaults])).code, 0);
    writeFileSync(defaults, 'O2CB_ENABLED=yes\n');
    const broken = await runCli(['config', 'enabled', '--defaults', defaults]);
    assert.equal(broken.code, 255);
    assert.match(broken.err, /O2CB_ENABLED="yes": must be true or false/);
    assert.equal((await runCli(['config', 'enabled', '--defaults', join(dir, 'missing')])).code, 255);
    const unit = readFileSync(new URL('../../systemd/o2stack.service', import.meta.url), 'utf8');
    assert.match(unit, /^ExecCondition=@O2STACK@ config enabled$/m);
  });

  it('o2cb verbs edit cluster.conf; list-* print o2cb’s formats and --json; unknown clusters are errors', async function () {
    for (const a of [['add-cluster', 'web'], ['add-node', 'web', 'n1', '--ip', '10.0.0.1'], ['add-node', '--ip', '10.0.0.2', '--number', '4', 'web', 'n2'], ['add-heartbeat', 'web', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'], ['heartbeat-mode', 'web', 'global']]) {
      const r = await o2cb(...a);
      assert.equal(r.code, 0, `${a.join(' ')}: ${r.err}`);
      assert.equal(r.out, '', 'silent on success, as o2cb');
    }
    assert.equal((await o2cb('list-clusters')).out, 'web\n');
    assert.equal((await o2cb('list-cluster', '--oneline', 'web')).out, 'heartbeat: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA web\nnode: 0 n1 10.0.0.1:7777 web\nnode: 4 n2 10.0.0.2:7777 web\ncluster: 2 global web\n');
    assert.equal((await o2cb('list-nodes', 'web')).out, 'node:\n\tnumber = 0\n\tname = n1\n\tip_address = 10.0.0.1\n\tip_port = 7777\n\tcluster = web\n\nnode:\n\tnumber = 4\n\tname = n2\n\tip_address = 10.0.0.2\n\tip_port = 7777\n\tcluster = web\n\n');
    const j = JSON.parse((await o2cb('list-heartbeats', 'web', '--json')).out);
    assert.deepEqual(j, { heartbeats: [{ region: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', cluster: 'web' }] });
    const unknown = await o2cb('list-cluster', 'nope');
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /Unknown cluster 'nope'/);
    const usage = await o2cb('list-cluster');
    assert.equal(usage.code, 2);
    const v = await o2cb('-v', 'remove-node', 'web', 'n2');
    assert.match(v.err, /removed node 'n2' from cluster 'web'/);
    assert.equal((await o2cb('list-nodes', '--oneline', 'web')).out, 'node: 0 n1 10.0.0.1:7777 web\n');
    assert.ok(!existsSync(`${conf}.lock`), 'the lock is released');
    const asDir = await runCli(['o2cb', '--config-file', dir, 'list-clusters']);
    assert.equal(asDir.code, 1, 'a directory is not an empty configuration');
    assert.match(asDir.err, /give the path of a file, not a directory/);
  });

  it('plan --defaults shows where each timeout comes from; a conflict names both files and lines; apply and stop CLUSTER', async function () {
    const root = makeFakeKernelTree(join(dir, 'root'));
    writeFileSync(conf, 'cluster:\n\tname = web\n\tnode_count = 1\n\theartbeat_mode = local\n\tkeepalive_delay_ms = 3000\n\nnode:\n\tname = n1\n\tcluster = web\n\tnumber = 1\n\tip_address = 10.0.0.1\n\tip_port = 7777\n');
    writeFileSync(defaults, 'O2CB_ENABLED=true\nO2CB_BOOTCLUSTER=web\nO2CB_IDLE_TIMEOUT_MS=15000\nO2CB_KEEPALIVE_DELAY_MS=3000\n');
    const p = await runCli(['plan', '--config', conf, '--defaults', defaults, '--root', root, '--node', 'n1', '--json']);
    assert.equal(p.code, 0, p.err);
    const whys = JSON.parse(p.out).ops.map((o: { why: string }) => o.why);
    assert.ok(whys.includes(`idle timeout 30000 → 15000 ms (O2CB_IDLE_TIMEOUT_MS, ${defaults}:3)`), whys.join('\n'));
    assert.ok(whys.includes(`keepalive delay 2000 → 3000 ms (keepalive_delay_ms, ${conf}:5)`), whys.join('\n'));
    writeFileSync(defaults, 'O2CB_KEEPALIVE_DELAY_MS=2500\n');
    const c = await runCli(['apply', '--config', conf, '--defaults', defaults, '--root', root, '--node', 'n1']);
    assert.equal(c.code, 1);
    assert.match(c.err, new RegExp(`${defaults}:1: O2CB_KEEPALIVE_DELAY_MS=2500 \\(${defaults}:1\\) conflicts with keepalive_delay_ms = 3000 ms of cluster 'web' \\(${conf}:5\\)`));
    assert.ok(!existsSync(join(root, 'sys/kernel/config/cluster/web')), 'nothing applied');
    const a = await runCli(['apply', '--config', conf, '--defaults', 'none', '--root', root, '--node', 'n1']);
    assert.equal(a.code, 0, a.err);
    assert.ok(existsSync(join(root, 'sys/kernel/config/cluster/web')));
    // cluster-status in o2cb's words (as Debian's o2cb prints them on the 6.1 kernel: the VM suite compares)
    const st = async (...a: string[]) => runCli(['o2cb', '--root', root, 'cluster-status', ...a]);
    assert.deepEqual(await st(), { code: 0, out: "Cluster 'web' is online\n", err: '' });
    assert.deepEqual(await st('db'), { code: 1, out: "Cluster 'db' is offline\n", err: '' });
    const other = await runCli(['stop', 'db', '--root', root]);
    assert.equal(other.code, 1);
    assert.match(other.err, /cluster 'db' is not registered \(the kernel has: web\)/);
    const s = await runCli(['stop', 'web', '--root', root]);
    assert.equal(s.code, 0, s.err);
    assert.ok(!existsSync(join(root, 'sys/kernel/config/cluster/web')));
    assert.deepEqual(await st('web'), { code: 1, out: 'offline\n', err: '' });
  });
});
