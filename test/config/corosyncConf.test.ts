import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stripLoc } from '../../lib/config/common.js';
import { formatCorosyncNodelist, pair, parseCorosyncConf, parseCorosyncConfCluster, sections } from '../../lib/config/corosyncConf.js';
import { ConfigError } from '../../lib/model/errors.js';
import { arbCluster } from './arbitraries.js';

const fixture = readFileSync(new URL('../fixtures/config/corosync.conf', import.meta.url), 'utf8');

function errorOf(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe('corosync.conf tokenizer', () => {
  it('builds a tree with line numbers', () => {
    const root = parseCorosyncConf(fixture);
    assert.deepEqual(
      root.children.map((c) => (c.kind === 'section' ? `${c.name}@${c.line}` : c.key)),
      ['totem@2', 'logging@10', 'quorum@15', 'nodelist@19'],
    );
    const totem = sections(root, 'totem')[0]!;
    assert.deepEqual(pair(totem, 'cluster_name'), { kind: 'pair', key: 'cluster_name', value: 'testcl', line: 4 });
    const nodes = sections(sections(root, 'nodelist')[0]!, 'node');
    assert.deepEqual(
      nodes.map((n) => [n.line, pair(n, 'ring0_addr')?.value]),
      [
        [20, '192.0.2.1'],
        [25, '192.0.2.2'],
        [30, '192.0.2.3'],
      ],
    );
  });

  it('reports every error with its line quoted: text after "{", stray "}", "=", unclosed sections', () => {
    const e = errorOf(() => parseCorosyncConf('totem {\n  version = 2\n}\n}\nnodelist {\n  node { name: n1\n  }\n', { file: 'c.conf' }));
    assert.deepEqual(
      e.issues.map((i) => [i.line, i.code]),
      [
        [2, 'E_COROSYNC_SYNTAX'],
        [4, 'E_COROSYNC_BRACE'],
        [6, 'E_COROSYNC_SYNTAX'],
        [5, 'E_COROSYNC_BRACE'],
      ],
    );
    assert.match(e.issues[0]!.message, /cannot parse "  version = 2"/);
    assert.match(e.issues[0]!.hint!, /":", not "="/);
    assert.match(e.issues[2]!.message, /text after '\{' on the same line.*"  node \{ name: n1"/);
    assert.match(e.issues[3]!.message, /section 'nodelist' opened at line 5 is never closed/);
    assert.ok(e.issues.every((i) => i.file === 'c.conf'));
  });

  it('fuzz: any text gives a tree or a ConfigError, never another exception', () => {
    const tokens = fc.array(fc.constantFrom('totem', ' {', '{', '}', '\n', ':', 'key', ' value', '#', '\r\n', '\t', '=', 'node', 'nodelist {\n'), { maxLength: 50 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), tokens), (text) => {
        try {
          const root = parseCorosyncConf(text);
          assert.equal(root.kind, 'section');
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          assert.ok(e.issues.length > 0 && e.issues.every((i) => typeof i.line === 'number'));
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('corosync.conf import', () => {
  it('imports cluster_name and the nodelist', () => {
    const { clusters, warnings } = parseCorosyncConfCluster(fixture, { file: 'corosync.conf' });
    const c = clusters[0]!;
    assert.equal(c.name, 'testcl');
    assert.deepEqual(c.loc, { file: 'corosync.conf', line: 2 });
    assert.deepEqual(
      c.nodes.map((n) => [n.name, n.number, n.ipAddress, n.port, n.loc?.line]),
      [
        ['n1', 1, '192.0.2.1', 7777, 20],
        ['n2', 2, '192.0.2.2', 7777, 25],
        ['n3', 3, '192.0.2.3', 7777, 30],
      ],
    );
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['W_IMPORT_PORT_DEFAULT'],
    );
  });

  it('reports host-name ring0_addr, IPv6, missing nodeid and missing cluster_name together', () => {
    const text = [
      'totem {',
      '  version: 2',
      '}',
      'nodelist {',
      '  node {',
      '    name: a',
      '    nodeid: 1',
      '    ring0_addr: a.example.net',
      '  }',
      '  node {',
      '    name: b',
      '    nodeid: 2',
      '    ring0_addr: 2001:db8::2',
      '  }',
      '  node {',
      '    name: c',
      '    ring0_addr: 10.0.0.3',
      '  }',
      '}',
    ].join('\n');
    const e = errorOf(() => parseCorosyncConfCluster(text, { file: 'cs.conf' }));
    assert.deepEqual(
      e.issues.map((i) => [i.line, i.code, i.key]),
      [
        [1, 'E_COROSYNC_NAME', 'totem.cluster_name'],
        [5, 'E_IMPORT_HOSTNAME', 'nodelist.node.ring0_addr'],
        [10, 'E_IMPORT_IPV6', 'nodelist.node.ring0_addr'],
        [15, 'E_IMPORT_NODEID', 'nodelist.node.nodeid'],
      ],
    );
    // With the address supplied (by short name) the host name resolves.
    const ok = errorOf(() => parseCorosyncConfCluster(text, { resolve: { a: '10.0.0.1' } }));
    assert.ok(!ok.issues.some((i) => i.code === 'E_IMPORT_HOSTNAME'));
  });

  it('takes the node name from a host-name ring0_addr when name is missing', () => {
    const { clusters } = parseCorosyncConfCluster('totem {\ncluster_name: x\n}\nnodelist {\nnode {\nnodeid: 3\nring0_addr: h3.lan\n}\n}\n', { resolve: { 'h3.lan': '10.9.9.3' }, port: 7001 });
    assert.deepEqual(stripLoc(clusters[0]!).nodes, [{ name: 'h3', number: 3, ipAddress: '10.9.9.3', port: 7001 }]);
  });

  it('refuses a file without a nodelist', () => {
    const e = errorOf(() => parseCorosyncConfCluster('totem {\n cluster_name: x\n}\n'));
    assert.equal(e.issues[0]!.code, 'E_COROSYNC_NO_NODES');
  });
});

describe('corosync nodelist writer', () => {
  it('round-trips node lists (number ≥ 1, port 7777, names without dots)', () => {
    // Dotted names are shortened on import (MAPPING.name), so they are tested separately below.
    const arb = arbCluster({ nodesOnly: true, o2cbNames: true, minNumber: 1 }).filter((c) => c.nodes.every((n) => !n.name.includes('.')));
    fc.assert(
      fc.property(arb, (c0) => {
        const c = { ...c0, nodes: c0.nodes.map((n) => ({ ...n, port: 7777 })) };
        const back = parseCorosyncConfCluster(formatCorosyncNodelist(c));
        assert.deepEqual(
          back.clusters.map(stripLoc),
          [c].map(stripLoc),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('shortens a fully qualified node name on the way back (o2cb matches short host names)', () => {
    const c = { name: 'w', nodes: [{ name: 'a.example.net', number: 1, ipAddress: '10.0.0.1', port: 7777 }], heartbeatMode: 'local' as const, heartbeatRegions: [], timeouts: {} };
    assert.equal(parseCorosyncConfCluster(formatCorosyncNodelist(c)).clusters[0]!.nodes[0]!.name, 'a');
  });

  it('notes non-default ports as comments and refuses node number 0', () => {
    const c = { name: 'w', nodes: [{ name: 'a', number: 1, ipAddress: '10.0.0.1', port: 7000 }], heartbeatMode: 'local' as const, heartbeatRegions: [], timeouts: {} };
    assert.match(formatCorosyncNodelist(c), /ring0_addr: 10\.0\.0\.1\n\t\t# o2net port 7000\n\t\}/);
    const e = errorOf(() => formatCorosyncNodelist({ ...c, nodes: [{ ...c.nodes[0]!, number: 0, loc: { file: 'x.conf', line: 9 } }] }));
    assert.equal(e.issues[0]!.code, 'E_COROSYNC_NODEID_ZERO');
    assert.equal(e.issues[0]!.line, 9);
    assert.match(e.issues[0]!.hint!, /renumber/);
  });

  it('corosync -t accepts what we write', function () {
    if (spawnSync('sh', ['-c', 'command -v corosync']).status !== 0) {
      console.log('    (skipped: corosync is not installed)');
      this.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'o2stack-cs-'));
    try {
      const file = join(dir, 'corosync.conf');
      const c = { name: 'web', nodes: [1, 2, 3].map((i) => ({ name: `n${i}`, number: i, ipAddress: `127.0.0.${i}`, port: 7777 })), heartbeatMode: 'local' as const, heartbeatRegions: [], timeouts: {} };
      writeFileSync(file, formatCorosyncNodelist(c));
      const r = spawnSync('corosync', ['-t', '-c', file], { encoding: 'utf8', timeout: 15000 });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
