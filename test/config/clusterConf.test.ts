import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { formatClusterConf, parseClusterConf } from '../../lib/config/clusterConf.js';
import { stripLoc } from '../../lib/config/common.js';
import { isValidNodeName, validateCluster, type ClusterConfig } from '../../lib/model/cluster.js';
import { ConfigError } from '../../lib/model/errors.js';
import { arbCluster } from './arbitraries.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/config/${name}`, import.meta.url), 'utf8');

function parseError(text: string): ConfigError {
  try {
    parseClusterConf(text, { file: 'c.conf' });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the parse to fail');
}

describe('cluster.conf parser', () => {
  it('reads the canonical three-node file from the documentation', () => {
    const { clusters, warnings } = parseClusterConf(fixture('docs-cluster.conf'), { file: 'docs.conf' });
    assert.deepEqual(warnings, []);
    assert.equal(clusters.length, 1);
    const c = clusters[0]!;
    assert.deepEqual(c.loc, { file: 'docs.conf', line: 1 });
    assert.equal(c.name, 'ocfs2');
    assert.equal(c.heartbeatMode, 'local');
    assert.deepEqual(
      c.nodes.map((n) => [n.name, n.number, n.ipAddress, n.port, n.loc?.line]),
      [
        ['node1', 0, '192.168.0.101', 7777, 6],
        ['node2', 1, '192.168.0.102', 7777, 13],
        ['node3', 2, '192.168.0.103', 7777, 20],
      ],
    );
    assert.deepEqual(validateCluster(c), []);
  });

  it('tolerates messy indentation, comments, blank lines inside stanzas, duplicates and unknown keys', () => {
    const { clusters, warnings } = parseClusterConf(fixture('messy-cluster.conf'), { file: 'm.conf' });
    assert.deepEqual(
      clusters.map((c) => c.name),
      ['web', 'db'],
    );
    const web = clusters[0]!;
    assert.equal(web.heartbeatMode, 'global');
    assert.deepEqual(web.timeouts, { idleTimeoutMs: 45000, keepaliveDelayMs: 3000, reconnectDelayMs: 2000, heartbeatDeadThreshold: 31 });
    assert.equal(web.fenceMethod, 'panic');
    assert.deepEqual(web.heartbeatRegions, ['0123456789ABCDEF0123456789ABCDEF']);
    // Trailing blanks and tabs around values are dropped; the duplicate number keeps the last value.
    assert.deepEqual(
      web.nodes.map((n) => [n.name, n.number, n.ipAddress]),
      [
        ['alpha', 1, '10.1.0.1'],
        ['beta', 3, '10.1.0.2'],
      ],
    );
    assert.equal(web.loc?.line, 11);
    const codes = warnings.map((w) => `${w.code}@${w.line}`).sort();
    assert.deepEqual(codes, ['W_CONF_DUP_KEY@32', 'W_CONF_NODE_COUNT@14', 'W_CONF_UNKNOWN_KEY@44'].sort());
    const count = warnings.find((w) => w.code === 'W_CONF_NODE_COUNT')!;
    assert.match(count.message, /node_count = 3 but 2 node stanzas/);
    assert.equal(count.hint, 'set "node_count = 2"');
    assert.equal(warnings[0]!.file, 'm.conf');
  });

  it('splits header and attribute lines at the first colon or equals sign, blanks around it dropped', () => {
    const text = 'cluster \t:\t\n\tname\t = c1\n\tnode_count =1\n\tfence_method= panic \nnode:\n\tname=n1\n\tnumber = 1\n\tip_address = 10.0.0.1\n\tip_port = 7777\n\tcluster = c1\n';
    const { clusters, warnings } = parseClusterConf(text);
    assert.equal(clusters[0]!.name, 'c1');
    assert.equal(clusters[0]!.fenceMethod, 'panic');
    assert.deepEqual(clusters[0]!.nodes.map((n) => [n.name, n.number]), [['n1', 1]]);
    assert.deepEqual(warnings, []);
    // the value is everything after the first '=': "reset = x" is not a fence method
    assert.throws(() => parseClusterConf('cluster:\n\tname = c1\n\tnode_count = 0\n\tfence_method= reset = x\n'), /fence_method must be reset or panic: "\\tfence_method= reset = x"/);
  });

  it('reads CRLF and CR line endings and a byte-order mark the same as LF', () => {
    const lf = fixture('docs-cluster.conf');
    const want = parseClusterConf(lf);
    assert.deepEqual(parseClusterConf('\uFEFF' + lf.replace(/\n/g, '\r\n')), want);
    assert.deepEqual(parseClusterConf(lf.replace(/\n/g, '\r')), want);
  });

  it('reports every syntax error with file:line and the line quoted', () => {
    const e = parseError(['\tname = early', 'cluster:', '\tname = web', '\tnode_count: 2', '\tnode_count = two', 'node:', '\tname = n1', '\tcluster = web'].join('\n'));
    const byLine = new Map(e.issues.map((i) => [i.line, i]));
    assert.equal(byLine.get(1)!.code, 'E_CONF_SYNTAX');
    assert.match(byLine.get(1)!.message, /attribute before any stanza header: "\\tname = early"/);
    assert.match(byLine.get(4)!.message, /cannot parse "\\tnode_count: 2"/);
    assert.match(byLine.get(4)!.hint!, /attributes use "="/);
    assert.match(byLine.get(5)!.message, /node_count must be a non-negative decimal integer: "\\tnode_count = two"/);
    // The node lacks number and ip_address: both reported, at the stanza line.
    assert.deepEqual(
      e.issues.filter((i) => i.line === 6).map((i) => i.key),
      ['node.number', 'node.ip_address'],
    );
    assert.ok(e.issues.every((i) => i.file === 'c.conf'));
    assert.match(e.message, /^c\.conf:1: attribute before any stanza header/);
  });

  it('rejects orphan nodes (ocfs2-tools silently drops them) and names the clusters that exist', () => {
    const e = parseError('cluster:\n\tname = web\n\tnode_count = 1\n\nnode:\n\tname = n1\n\tcluster = wbe\n\tnumber = 0\n\tip_address = 10.0.0.1\n\tip_port = 7777\n');
    assert.equal(e.issues.length, 1);
    assert.equal(e.issues[0]!.code, 'E_CONF_UNKNOWN_CLUSTER');
    assert.equal(e.issues[0]!.line, 7);
    assert.match(e.issues[0]!.message, /names cluster 'wbe'.*"\\tcluster = wbe"/);
    assert.match(e.issues[0]!.hint!, /use one of: web/);
    const e2 = parseError('cluster:\n\tname = web\n\tnode_count = 1\nnode:\n\tname = n1\n\tnumber = 0\n\tip_address = 10.0.0.1\n\tip_port = 7777\n');
    assert.equal(e2.issues[0]!.key, 'node.cluster');
    assert.match(e2.issues[0]!.hint!, /cluster = web/);
  });

  it('rejects bad heartbeat_mode, durations and fence_method, quoting the line', () => {
    const e = parseError('cluster:\n\tname = w\n\tnode_count = 0\n\theartbeat_mode = disk\n\tidle_timeout_ms = soon\n\theartbeat_dead_threshold = 1h\n\tfence_method = shoot\n');
    assert.deepEqual(
      e.issues.map((i) => [i.line, i.code]),
      [
        [4, 'E_CONF_HB_MODE'],
        [5, 'E_CONF_DURATION'],
        [6, 'E_CONF_DURATION'],
        [7, 'E_CONF_FENCE'],
      ],
    );
    assert.match(e.issues[1]!.message, /"\\tidle_timeout_ms = soon"/);
  });

  it('warns about unknown stanza types, a missing node_count and a missing ip_port', () => {
    const { clusters, warnings } = parseClusterConf('cluster:\n\tname = w\nnode:\n\tname = a\n\tcluster = w\n\tnumber = 0\n\tip_address = 10.0.0.1\nfencing:\n\tagent = x\n');
    assert.equal(clusters[0]!.nodes[0]!.port, 7777);
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['W_CONF_UNKNOWN_STANZA', 'W_CONF_NO_NODE_COUNT', 'W_CONF_NO_PORT'],
    );
  });

  it('suggests the right key for a wrongly-cased one', () => {
    const { warnings } = parseClusterConf('cluster:\n\tname = w\n\tnode_count = 0\n\tHeartbeat_Mode = global\n');
    assert.equal(warnings[0]!.code, 'W_CONF_UNKNOWN_KEY');
    assert.match(warnings[0]!.hint!, /did you mean 'heartbeat_mode'/);
  });

  it('fuzz: any text gives a result or a ConfigError, never another exception', () => {
    const tokens = fc.array(fc.constantFrom('cluster:', 'node:', 'heartbeat:', '\n', '\r\n', '\t', ' ', '=', 'name', 'cluster', 'number', 'ip_port', '7777', 'web', '#', ':', 'x'), { maxLength: 60 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), tokens), (text) => {
        try {
          parseClusterConf(text);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          assert.ok(e.issues.length > 0 && e.issues.every((i) => typeof i.line === 'number'));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('an empty file or one with only comments holds no clusters', () => {
    assert.deepEqual(parseClusterConf(''), { clusters: [], warnings: [] });
    assert.deepEqual(parseClusterConf('# nothing yet\n\n'), { clusters: [], warnings: [] });
  });
});

describe('cluster.conf writer', () => {
  it('writes the strict canonical format', () => {
    const text = formatClusterConf(parseClusterConf(fixture('docs-cluster.conf')).clusters);
    assert.equal(
      text,
      'cluster:\n\tname = ocfs2\n\theartbeat_mode = local\n\tnode_count = 3\n\n' +
        [1, 2, 3].map((i) => `node:\n\tname = node${i}\n\tcluster = ocfs2\n\tnumber = ${i - 1}\n\tip_address = 192.168.0.10${i}\n\tip_port = 7777\n\n`).join(''),
    );
    for (const line of text.split('\n')) {
      assert.ok(line === '' || /^(cluster|node|heartbeat):$/.test(line) || /^\t[a-z_]+ = \S(.*\S)?$/.test(line), `not canonical: ${JSON.stringify(line)}`);
    }
  });

  it('writes node_count from the nodes, extension keys as plain numbers, and regions', () => {
    const { clusters } = parseClusterConf(fixture('messy-cluster.conf'));
    const text = formatClusterConf(clusters);
    assert.match(text, /\tnode_count = 2\n/);
    assert.match(text, /\tidle_timeout_ms = 45000\n\tkeepalive_delay_ms = 3000\n\treconnect_delay_ms = 2000\n\theartbeat_dead_threshold = 31\n\tfence_method = panic\n/);
    assert.match(text, /heartbeat:\n\tregion = 0123456789ABCDEF0123456789ABCDEF\n\tcluster = web\n\n/);
    assert.doesNotMatch(text, /#|comment/);
  });

  it('refuses values that the strict reader would misread', () => {
    const c: ClusterConfig = { name: 'w', nodes: [{ name: 'a\\', number: 0, ipAddress: '10.0.0.1 ', port: 7777 }], heartbeatMode: 'local', heartbeatRegions: [], timeouts: {} };
    assert.throws(
      () => formatClusterConf([c]),
      (e: unknown) => e instanceof ConfigError && e.issues.length === 2 && e.issues.every((i) => i.code === 'E_CONF_UNWRITABLE') && /node 'a\\'/.test(e.message),
    );
  });

  it('round-trips any valid cluster set (format → parse → same model)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(arbCluster(), { selector: (c) => c.name, maxLength: 3 }), (clusters) => {
        const text = formatClusterConf(clusters);
        const back = parseClusterConf(text);
        assert.deepEqual(back.warnings, []);
        assert.deepEqual(back.clusters.map(stripLoc), clusters);
        for (const c of back.clusters) assert.deepEqual(validateCluster(c), []);
      }),
      { numRuns: 300 },
    );
  });

  it('the arbitrary produces valid, non-trivial clusters', () => {
    // Guards the round-trip test against an arbitrary that only makes empty clusters.
    const samples = fc.sample(arbCluster(), 50);
    assert.ok(samples.some((c) => c.nodes.length > 2));
    assert.ok(samples.every((c) => validateCluster(c).length === 0 && c.nodes.every((n) => isValidNodeName(n.name))));
    // control bytes: a NUL would cut the configfs path ('..\0x' acts on '..'), others garble output
    for (const bad of ['..\0x', 'a\0b', 'n\x1b[31m', 'x\x7f']) assert.equal(isValidNodeName(bad), false, JSON.stringify(bad));
  });
});

describe('cluster.conf writer against ocfs2-tools (o2cb list-cluster)', function () {
  const o2cb = spawnSync('sh', ['-c', 'command -v o2cb'], { encoding: 'utf8' }).stdout.trim();
  let dir: string;
  before(function () {
    if (!o2cb) {
      console.log('    (skipped: o2cb from ocfs2-tools is not installed; apt-get install ocfs2-tools to run it)');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'o2stack-o2cb-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('o2cb loads what we write and lists every node of every cluster', () => {
    const samples = fc.sample(fc.uniqueArray(arbCluster({ o2cbNames: true }), { selector: (c) => c.name, minLength: 1, maxLength: 3 }), { numRuns: 15, seed: 42 });
    samples.push(parseClusterConf(fixture('messy-cluster.conf')).clusters);
    for (const clusters of samples) {
      const file = join(dir, 'cluster.conf');
      writeFileSync(file, formatClusterConf(clusters));
      for (const c of clusters) {
        const out = execFileSync(o2cb, ['--config-file', file, 'list-cluster', '--oneline', c.name], { encoding: 'utf8' });
        const nodes = out.split('\n').filter((l) => l.startsWith('node: ')).sort();
        const want = c.nodes.map((n) => `node: ${n.number} ${n.name} ${n.ipAddress}:${n.port} ${c.name}`).sort();
        assert.deepEqual(nodes, want);
        assert.ok(out.includes(`cluster: ${c.nodes.length} ${c.heartbeatMode} ${c.name}\n`), out);
        const regions = out.split('\n').filter((l) => l.startsWith('heartbeat: ')).sort();
        assert.deepEqual(regions, c.heartbeatRegions.map((r) => `heartbeat: ${r} ${c.name}`).sort());
      }
    }
  });
});
