// o2stack plan / apply / show on a fake kernel tree: the --json contract, exit codes, errors.
// (Wiring only: the kernel's acceptance is proven by the VM suites.)
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFakeKernelTree } from '../../lib/kernel/fakeTree.js';
import { runCli } from '../support/runCli.js';

const CONF = `cluster:
\tnode_count = 2
\tname = demo

node:
\tip_port = 7777
\tip_address = 192.0.2.1
\tnumber = 1
\tname = n1
\tcluster = demo

node:
\tip_port = 7777
\tip_address = 192.0.2.2
\tnumber = 2
\tname = n2
\tcluster = demo
`;

describe('o2stack plan / apply / show (fake tree)', function () {
  let dir: string;
  let root: string;
  let conf: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'o2s-cli-'));
    root = makeFakeKernelTree(join(dir, 'root'));
    conf = join(dir, 'cluster.conf');
    writeFileSync(conf, CONF);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('plan --json lists the ops in the order they run, each with its configfs path', async function () {
    const r = await runCli(['plan', '--json', '--config', conf, '--root', root, '--node', 'n2']);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.cluster, 'demo');
    assert.equal(j.localNode, 'n2');
    assert.equal(j.ops[0].op, 'mkdir');
    assert.equal(j.ops[0].path, '/sys/kernel/config/cluster/demo');
    assert.deepEqual(j.ops.at(-1), { op: 'write', path: '/sys/kernel/config/cluster/demo/node/n2/local', data: '1\n', why: "'n2' is this machine (starts the o2net listener)", caveat: j.ops.at(-1).caveat });
    assert.ok(j.ops.every((o: { path: string }) => o.path.startsWith('/sys/kernel/config/cluster/demo')));
  });

  it('apply writes, a second apply is a no-op, show reads it back', async function () {
    const a = await runCli(['apply', '--json', '--config', conf, '--root', root, '--node', 'n1']);
    assert.equal(a.code, 0, a.err);
    assert.equal(JSON.parse(a.out).ops.length, 11);
    const again = await runCli(['apply', '--json', '--config', conf, '--root', root, '--node', 'n1']);
    assert.deepEqual(JSON.parse(again.out).ops, []);
    assert.equal(JSON.parse(again.out).noop, true);
    const show = await runCli(['show', '--json', '--root', root]);
    const s = JSON.parse(show.out);
    assert.deepEqual(
      s.clusters[0].nodes.map((n: { name: string; number: number; ipAddress: string; local: boolean }) => [n.name, n.number, n.ipAddress, n.local]),
      [['n1', 1, '192.0.2.1', true], ['n2', 2, '192.0.2.2', false]],
    );
  });

  it('apply --dry-run writes nothing', async function () {
    const r = await runCli(['apply', '--dry-run', '--json', '--config', conf, '--root', root]);
    assert.equal(JSON.parse(r.out).dryRun, true);
    const show = await runCli(['show', '--json', '--root', root]);
    assert.deepEqual(JSON.parse(show.out).clusters, []);
    assert.equal(show.code, 3, 'show exits 3 when no cluster is registered');
  });

  it('a malformed config exits 1 with file:line under --json', async function () {
    writeFileSync(conf, CONF.replace('ip_address = 192.0.2.2', 'ip_address = 192.0.2.999'));
    const r = await runCli(['plan', '--json', '--config', conf, '--root', root]);
    assert.equal(r.code, 1);
    const e = JSON.parse(r.out).error;
    assert.ok(e.errors.some((i: { file: string; line: number }) => i.file === conf && i.line > 0), r.out);
  });

  it('an unknown --node is a clear error', async function () {
    const r = await runCli(['plan', '--config', conf, '--root', root, '--node', 'zz']);
    assert.equal(r.code, 1);
    assert.match(r.err, /--node zz: cluster 'demo' has no such node \(it has: n1, n2\)/);
  });

  it('usage errors exit 2', async function () {
    const r = await runCli(['apply', '--bogus']);
    assert.equal(r.code, 2);
  });
});
