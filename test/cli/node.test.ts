// o2stack node add | remove | list: the configuration is edited atomically and stays valid.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseClusterConf } from '../../lib/config/clusterConf.js';
import { makeFakeKernelTree } from '../../lib/kernel/fakeTree.js';
import { runCli } from '../support/runCli.js';

const CONF = 'cluster:\n\tnode_count = 1\n\tname = demo\n\nnode:\n\tip_port = 7777\n\tip_address = 192.0.2.1\n\tnumber = 0\n\tname = n1\n\tcluster = demo\n';

describe('o2stack node add / remove / list', function () {
  let dir: string;
  let conf: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'o2s-node-'));
    conf = join(dir, 'cluster.conf');
    writeFileSync(conf, CONF);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('adds a node with the lowest free number and the default port, in canonical form', async function () {
    const r = await runCli(['node', 'add', 'n2', '--ip', '192.0.2.2', '--config', conf, '--json']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out).added, { name: 'n2', number: 1, ipAddress: '192.0.2.2', port: 7777 });
    const parsed = parseClusterConf(readFileSync(conf, 'utf8'));
    assert.deepEqual(parsed.clusters[0]!.nodes.map((n) => [n.name, n.number]), [['n1', 0], ['n2', 1]]);
    assert.match(readFileSync(conf, 'utf8'), /node_count = 2/);
    const list = await runCli(['node', 'list', '--json', '--config', conf]);
    assert.deepEqual(JSON.parse(list.out).nodes.map((n: { name: string }) => n.name), ['n1', 'n2']);
  });

  it('adds the first node of a cluster that has none yet (the hint of E_CONF_NO_NODES says to), with and without --dry-run', async function () {
    writeFileSync(conf, 'cluster:\n\tnode_count = 0\n\tname = demo\n');
    const dry = await runCli(['node', 'add', 'n1', '--ip', '192.0.2.1', '--config', conf, '--dry-run']);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /name = n1/);
    const r = await runCli(['node', 'add', 'n1', '--ip', '192.0.2.1', '--config', conf]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(parseClusterConf(readFileSync(conf, 'utf8')).clusters[0]!.nodes.map((n) => n.name), ['n1']);
  });

  it('refuses duplicates with the reason and leaves the file alone', async function () {
    const before = readFileSync(conf, 'utf8');
    const r = await runCli(['node', 'add', 'n2', '--ip', '192.0.2.1', '--config', conf]);
    assert.equal(r.code, 1);
    assert.match(r.err, /ipAddress 192\.0\.2\.1 is already used by node 'n1'/);
    const r2 = await runCli(['node', 'add', 'n1', '--ip', '192.0.2.9', '--config', conf]);
    assert.match(r2.err, /already has a node 'n1'/);
    assert.equal(readFileSync(conf, 'utf8'), before);
  });

  it('removes a node; --dry-run writes nothing', async function () {
    await runCli(['node', 'add', 'n2', '--ip', '192.0.2.2', '--config', conf]);
    const dry = await runCli(['node', 'remove', 'n2', '--dry-run', '--config', conf]);
    assert.doesNotMatch(dry.out, /name = n2/);
    assert.match(readFileSync(conf, 'utf8'), /name = n2/);
    const r = await runCli(['node', 'remove', 'n2', '--config', conf]);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(readFileSync(conf, 'utf8'), /name = n2/);
    const missing = await runCli(['node', 'remove', 'zz', '--config', conf]);
    assert.match(missing.err, /has no node 'zz' \(it has: n1\)/);
  });

  it('--apply makes a fake kernel tree match', async function () {
    const root = makeFakeKernelTree(join(dir, 'root'));
    await runCli(['apply', '--config', conf, '--root', root, '--node', 'n1']);
    const r = await runCli(['node', 'add', 'n2', '--ip', '192.0.2.2', '--apply', '--node', 'n1', '--config', conf, '--root', root, '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).appliedSteps, 4);
    const show = JSON.parse((await runCli(['show', '--json', '--root', root])).out);
    assert.deepEqual(show.clusters[0].nodes.map((n: { name: string }) => n.name), ['n1', 'n2']);
  });
});
