import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../lib/cli/main.js';
import { parseClusterConf } from '../../lib/config/clusterConf.js';
import { parseCorosyncConfCluster } from '../../lib/config/corosyncConf.js';

const fx = (name: string) => fileURLToPath(new URL(`../fixtures/config/${name}`, import.meta.url));
const repo = fileURLToPath(new URL('../../', import.meta.url));

/** Runs the CLI in-process, capturing stdout and stderr. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const saved = { out: process.stdout.write, err: process.stderr.write, exitCode: process.exitCode };
  let out = '';
  let err = '';
  process.exitCode = undefined;
  process.stdout.write = ((s: string | Uint8Array) => ((out += String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => ((err += String(s)), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    process.exitCode = saved.exitCode;
  }
}

describe('o2stack config', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'o2stack-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('check --json prints the cluster model and exits 0', async () => {
    const r = await run(['config', 'check', '--json', fx('docs-cluster.conf')]);
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out);
    assert.equal(doc.name, 'ocfs2');
    assert.equal(doc.format, 'ocfs2');
    assert.deepEqual(doc.nodes[2], { name: 'node3', number: 2, ipAddress: '192.168.0.103', port: 7777 });
    assert.equal(doc.heartbeatMode, 'local');
    assert.deepEqual(doc.warnings, []);
  });

  it('check --json lists several clusters in a clusters array, with warnings', async () => {
    const r = await run(['--json', 'config', 'check', fx('messy-cluster.conf')]);
    assert.equal(r.code, 0);
    const doc = JSON.parse(r.out);
    assert.deepEqual(
      doc.clusters.map((c: { name: string }) => c.name),
      ['web', 'db'],
    );
    assert.equal(doc.clusters[0].fenceMethod, 'panic');
    assert.ok(doc.warnings.some((w: { code: string; line: number }) => w.code === 'W_CONF_NODE_COUNT' && w.line === 14));
  });

  it('check --json on an invalid file exits 1 with every error, file:line, code, key and hint', async () => {
    const r = await run(['config', 'check', '--json', fx('invalid-cluster.conf')]);
    assert.equal(r.code, 1);
    const doc = JSON.parse(r.out);
    assert.deepEqual(Object.keys(doc), ['errors']);
    assert.deepEqual(
      doc.errors.map((e: Record<string, unknown>) => [e.file, e.line, e.code, e.key]),
      [
        [fx('invalid-cluster.conf'), 12, 'E_CONF_NODE_PORT', 'nodes[1].port'],
        [fx('invalid-cluster.conf'), 12, 'E_CONF_DUP_NUMBER', 'nodes[1].number'],
      ],
    );
    for (const e of doc.errors) assert.deepEqual(Object.keys(e), ['file', 'line', 'message', 'code', 'key', 'hint']);
  });

  it('check without --json prints a summary, or the errors on stderr with exit 1', async () => {
    const ok = await run(['config', 'check', fx('corosync.conf')]);
    assert.equal(ok.code, 0);
    assert.match(ok.out, /valid corosync configuration\ncluster testcl: 3 nodes, local heartbeat\n\s+1 {2}n1 {2}192\.0\.2\.1:7777\n/);
    assert.match(ok.err, /warning: .*corosync\.conf:2: corosync\.conf has no o2net port/);
    const bad = await run(['config', 'check', fx('invalid-cluster.conf')]);
    assert.equal(bad.code, 1);
    assert.equal(bad.out, '');
    assert.match(bad.err, /invalid-cluster\.conf:12: node 'n2': port 70000 is out of range/);
  });

  it('check reads the global --config file when no FILE is given, and explains a missing one', async () => {
    const r = await run(['--config', fx('cluster.json'), 'config', 'check', '--json']);
    assert.equal(r.code, 0);
    assert.equal(JSON.parse(r.out).name, 'web');
    const missing = join(dir, 'absent.conf');
    const m = await run(['config', 'check', '--json', missing]);
    assert.equal(m.code, 1);
    const e = JSON.parse(m.out).errors[0];
    assert.equal(e.code, 'E_CONF_MISSING');
    assert.match(e.hint, /o2stack config convert --to ocfs2/);
  });

  it('check refuses a file without clusters', async () => {
    const empty = join(dir, 'empty.conf');
    writeFileSync(empty, '# nothing\n');
    const r = await run(['config', 'check', '--json', empty]);
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.out).errors[0].code, 'E_CONF_EMPTY');
  });

  it('check applies --address and --port to cman imports, and rejects malformed ones', async () => {
    const gap = await run(['config', 'check', '--json', fx('cman-cluster.conf')]);
    assert.equal(gap.code, 1);
    assert.equal(JSON.parse(gap.out).errors[0].code, 'E_IMPORT_HOSTNAME');
    const ok = await run(['config', 'check', '--json', '--address', 'node-02=192.0.2.12', '--port', '7100', fx('cman-cluster.conf')]);
    assert.equal(ok.code, 0, ok.out);
    assert.deepEqual(JSON.parse(ok.out).nodes[1], { name: 'node-02', number: 2, ipAddress: '192.0.2.12', port: 7100 });
    const usage = await run(['config', 'check', '--address', 'node-02', fx('cman-cluster.conf')]);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /--address "node-02": expected NAME=IPv4/);
  });

  it('convert --to ocfs2 prints a cluster.conf that parses back to the same nodes', async () => {
    const r = await run(['config', 'convert', '--to', 'ocfs2', fx('corosync.conf')]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^cluster:\n\tname = testcl\n\theartbeat_mode = local\n\tnode_count = 3\n\n/);
    const back = parseClusterConf(r.out).clusters[0]!;
    assert.deepEqual(
      back.nodes.map((n) => [n.name, n.number, n.ipAddress]),
      [
        ['n1', 1, '192.0.2.1'],
        ['n2', 2, '192.0.2.2'],
        ['n3', 3, '192.0.2.3'],
      ],
    );
  });

  it('convert --to corosync and --to json', async () => {
    const cs = await run(['config', 'convert', '--to', 'corosync', fx('docs-cluster.conf')]);
    // docs-cluster.conf has node number 0, which corosync reserves.
    assert.equal(cs.code, 1);
    assert.match(cs.err, /node 'node1' has o2cb number 0, but corosync reserves nodeid 0/);
    const file = join(dir, 'c.json');
    writeFileSync(file, readFileSync(fx('cluster.json'), 'utf8').replace('"number": 0', '"number": 5'));
    const ok = await run(['config', 'convert', '--to', 'corosync', file]);
    assert.equal(ok.code, 0, ok.err);
    assert.deepEqual(
      parseCorosyncConfCluster(ok.out).clusters[0]!.nodes.map((n) => [n.name, n.number]),
      [
        ['n1', 5],
        ['n2', 1],
      ],
    );
    const several = await run(['config', 'convert', '--to', 'corosync', fx('messy-cluster.conf')]);
    assert.equal(several.code, 2);
    assert.match(several.err, /--cluster/);
    const one = await run(['config', 'convert', '--to', 'corosync', '--cluster', 'web', fx('messy-cluster.conf')]);
    assert.equal(one.code, 0, one.err);
    assert.match(one.out, /cluster_name: web/);
    const js = await run(['--json', 'config', 'convert', '--to', 'json', fx('docs-cluster.conf')]);
    const doc = JSON.parse(js.out);
    assert.deepEqual([doc.from, doc.to], ['ocfs2', 'json']);
    assert.equal(JSON.parse(doc.text).nodes.length, 3);
  });

  it('convert refuses an unknown --to as a usage error', async () => {
    const r = await run(['config', 'convert', '--to', 'yaml', fx('docs-cluster.conf')]);
    assert.equal(r.code, 2);
    assert.match(r.err, /Allowed choices are ocfs2, json, corosync/);
  });

  it('runs as a real program: node --import tsx lib/cli/main.ts config check', () => {
    const cli = join(repo, 'lib/cli/main.ts');
    const ok = spawnSync(process.execPath, ['--import', 'tsx', cli, 'config', 'check', '--json', fx('cluster.json')], { cwd: repo, encoding: 'utf8', timeout: 30000 });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).nodes.length, 2);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', cli, 'config', 'check', fx('invalid-cluster.conf')], { cwd: repo, encoding: 'utf8', timeout: 30000 });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^o2stack: .*invalid-cluster\.conf:12: /);
  });
});
