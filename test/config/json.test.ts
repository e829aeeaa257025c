import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { stripLoc } from '../../lib/config/common.js';
import { formatJsonConfig, MAX_LOCATED_VALUES, parseJsonConfig } from '../../lib/config/json.js';
import { ConfigError } from '../../lib/model/errors.js';
import { arbCluster } from './arbitraries.js';

const fixture = readFileSync(new URL('../fixtures/config/cluster.json', import.meta.url), 'utf8');

function errorOf(text: string): ConfigError {
  try {
    parseJsonConfig(text, { file: 'c.json' });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe('JSON cluster format', () => {
  it('reads a single cluster with locations of the cluster and each node', () => {
    const { clusters, warnings } = parseJsonConfig(fixture, { file: 'c.json' });
    assert.deepEqual(warnings, []);
    const c = clusters[0]!;
    assert.deepEqual(stripLoc(c), {
      name: 'web',
      nodes: [
        { name: 'n1', number: 0, ipAddress: '10.0.0.1', port: 7777 },
        { name: 'n2', number: 1, ipAddress: '10.0.0.2', port: 7777 },
      ],
      heartbeatMode: 'local',
      heartbeatRegions: [],
      timeouts: { idleTimeoutMs: 30000 },
    });
    assert.deepEqual(c.loc, { file: 'c.json', line: 1, column: 1 });
    assert.deepEqual(c.nodes[1]!.loc, { file: 'c.json', line: 5, column: 5 });
  });

  it('reads {clusters: [...]} and defaults port to 7777', () => {
    const { clusters } = parseJsonConfig('{"clusters":[{"name":"a","nodes":[{"name":"x","number":1,"ipAddress":"10.0.0.1"}]},{"name":"b","nodes":[]}]}');
    assert.deepEqual(
      clusters.map((c) => [c.name, c.nodes.map((n) => n.port)]),
      [
        ['a', [7777]],
        ['b', []],
      ],
    );
  });

  it('names the path and line of every schema error, with a fix', () => {
    const text = [
      '{',
      '  "name": "web",',
      '  "nodes": [',
      '    { "name": "n1", "number": 0, "ipAddress": "10.0.0.1", "port": 7777 },',
      '    { "name": "n2", "number": "1", "ipAddress": "10.0.0.2" },',
      '    { "name": "n3", "number": 2, "ipAddress": "10.0.0.3", "port": 77.5, "ip": "x" },',
      '    { "number": 3, "ipAddress": "10.0.0.4" }',
      '  ],',
      '  "heartbeat_mode": "global",',
      '  "timeouts": { "idleTimeoutMs": "30s" },',
      '  "fenceMethod": "stonith"',
      '}',
    ].join('\n');
    const e = errorOf(text);
    assert.deepEqual(
      e.issues.map((i) => [i.key, i.line]),
      [
        ['heartbeat_mode', 9],
        ['nodes[1].number', 5],
        ['nodes[2].ip', 6],
        ['nodes[2].port', 6],
        ['nodes[3]', 7],
        ['timeouts.idleTimeoutMs', 10],
        ['fenceMethod', 11],
      ],
    );
    assert.equal(e.issues[1]!.message, 'nodes[1].number: expected an integer, got "1" (a string)');
    assert.equal(e.issues[3]!.message, 'nodes[2].port: expected an integer, got 77.5 (a number)');
    assert.equal(e.issues[0]!.hint, "did you mean 'heartbeatMode'?");
    assert.equal(e.issues[4]!.message, "nodes[3]: missing 'name'");
    assert.match(e.message, /^c\.json:9:\d+: heartbeat_mode: unknown key/);
  });

  it('maps JSON syntax errors to line:column, including ones JSON.parse gives no position for', () => {
    const e1 = errorOf('{\n  "name": "web",\n  "nodes": [,]\n}');
    assert.deepEqual([e1.issues[0]!.code, e1.issues[0]!.line, e1.issues[0]!.column], ['E_JSON_SYNTAX', 3, 13]);
    const e2 = errorOf('{\n  "name": "web",\n  "nodes": [],\n}\n');
    assert.deepEqual([e2.issues[0]!.line, e2.issues[0]!.column], [4, 1]);
    const e3 = errorOf('{"name": "a",\n "nodes": tru }');
    assert.equal(e3.issues[0]!.line, 2);
    assert.doesNotMatch(e3.issues[0]!.message, /is not valid JSON/);
    assert.equal(errorOf('').issues[0]!.message, 'not valid JSON: Unexpected end of JSON input');
  });

  it('a document nested deeper than the format: E_JSON_DEPTH at its line (it was a RangeError from the stack); valid or not', () => {
    for (const text of ['{"name": "a", "nodes": [\n' + '['.repeat(100_000) + ']'.repeat(100_000) + ']}', '['.repeat(100_000)]) {
      const e = errorOf(text);
      assert.equal(e.issues[0]!.code, 'E_JSON_DEPTH', e.message);
    }
    assert.equal(errorOf('{"name": "a", "nodes": [\n' + '['.repeat(100) + ']'.repeat(100) + ']}').issues[0]!.line, 2);
  });

  it('past MAX_LOCATED_VALUES values an issue names its path without a line (a 3.6 MB array of {} made a map of a million paths: 2.2 s of CPU, the fuzzer\'s finding)', () => {
    // each node is 4 values: the last one is past the cap
    const late = Math.ceil(MAX_LOCATED_VALUES / 4) + 10;
    const node = (i: number) => `{"name": ${i === 5 || i === late ? 1 : '"n"'}, "number": 1, "ipAddress": "10.0.0.1"}`;
    const e = errorOf(`{"name": "c",\n"nodes": [\n${Array.from({ length: late + 1 }, (_, i) => node(i)).join(',\n')}\n]}`);
    assert.deepEqual(e.issues.map((i) => i.key), ['nodes[5].name', `nodes[${late}].name`]);
    assert.deepEqual([e.issues[0]!.line, e.issues[0]!.file], [3 + 5, 'c.json']);
    assert.deepEqual([e.issues[1]!.line, e.issues[1]!.file], [undefined, 'c.json']);
    assert.match(e.issues[1]!.message, new RegExp(`^nodes\\[${late}\\]\\.name: expected a string`));
    // the fuzzer's shape: a root array of {} (refused at the root, with its line)
    const root = errorOf('[' + '{},'.repeat(1_200_000) + '{}]');
    assert.deepEqual([root.issues[0]!.code, root.issues[0]!.line], ['E_JSON_SCHEMA', 1]);
  });

  it('positions of late nodes in a large file are their lines (one line index, not a scan per node)', () => {
    const nodes = Array.from({ length: 3000 }, (_, i) => `    {"name": "n${i}", "number": ${i % 255}, "ipAddress": "10.0.${i >> 8}.${i & 255}", "port": ${i === 2999 ? '"x"' : 7777}}`);
    const e = errorOf(`{\n  "name": "big",\n  "nodes": [\n${nodes.join(',\n')}\n  ]\n}\n`);
    const port = e.issues.find((i) => i.key === 'nodes[2999].port')!;
    assert.equal(port.line, 3 + 3000);
  });

  it('refuses non-objects and warns about duplicate keys', () => {
    assert.equal(errorOf('[1]').issues[0]!.message, '(root): expected a cluster object, got an array');
    const { warnings } = parseJsonConfig('{"name":"a","name":"b","nodes":[]}');
    assert.equal(warnings[0]!.code, 'W_JSON_DUP_KEY');
  });

  it('round-trips any valid cluster set', () => {
    fc.assert(
      fc.property(fc.array(arbCluster(), { maxLength: 3 }), (clusters) => {
        assert.deepEqual(parseJsonConfig(formatJsonConfig(clusters)).clusters.map(stripLoc), clusters);
      }),
      { numRuns: 200 },
    );
  });

  it('fuzz: any text gives a result or a ConfigError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ name: 'a', nodes: [v] }))), (text) => {
        try {
          parseJsonConfig(text);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          assert.ok(e.issues.every((i) => typeof i.line === 'number' || i.line === undefined));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
