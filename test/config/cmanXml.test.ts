import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { MAPPING, parseCmanXml } from '../../lib/config/cmanXml.js';
import { ConfigError } from '../../lib/model/errors.js';

const fixture = readFileSync(new URL('../fixtures/config/cman-cluster.conf', import.meta.url), 'utf8');

function errorOf(text: string, opts = {}): ConfigError {
  try {
    parseCmanXml(text, { file: 'cluster.conf', ...opts });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe('cman cluster.conf import', () => {
  it('imports the RHEL cman layout with a resolve map for host names', () => {
    const { clusters, warnings } = parseCmanXml(fixture, { file: 'cluster.conf', resolve: { 'node-02': '192.0.2.12' } });
    assert.equal(clusters.length, 1);
    const c = clusters[0]!;
    assert.equal(c.name, 'alpha');
    assert.deepEqual(c.loc, { file: 'cluster.conf', line: 2, column: 1 });
    assert.deepEqual(
      c.nodes.map((n) => [n.name, n.number, n.ipAddress, n.port, n.loc?.line, n.loc?.column]),
      [
        ['192.0.2.11', 1, '192.0.2.11', 7777, 5, 5],
        ['node-02', 2, '192.0.2.12', 7777, 8, 5],
      ],
    );
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['W_IMPORT_NAME_IS_ADDRESS', 'W_IMPORT_PORT_DEFAULT'],
    );
  });

  it('reports a host name without an address as a gap naming the fix', () => {
    const e = errorOf(fixture);
    assert.equal(e.issues.length, 1);
    const i = e.issues[0]!;
    assert.equal(i.code, 'E_IMPORT_HOSTNAME');
    assert.deepEqual([i.file, i.line, i.column], ['cluster.conf', 8, 5]);
    assert.match(i.message, /'node-02\.example\.com' is a host name/);
    assert.match(i.hint!, /--address node-02\.example\.com=/);
  });

  it('collects every gap: IPv6, nodeid ≥ 255, missing nodeid, missing name, non-numeric nodeid', () => {
    const xml = [
      '<cluster name="c1" config_version="3">',
      '  <clusternodes>',
      '    <clusternode name="2001:db8::1" nodeid="1"/>',
      '    <clusternode name="10.0.0.2" nodeid="255"/>',
      '    <clusternode name="10.0.0.3"/>',
      '    <clusternode nodeid="4"/>',
      '    <clusternode name="10.0.0.5" nodeid="five"/>',
      '    <clusternode name="h6" nodeid="6"/>',
      '  </clusternodes>',
      '</cluster>',
    ].join('\n');
    const e = errorOf(xml, { resolve: { h6: 'fe80::6' } });
    assert.deepEqual(
      e.issues.map((i) => [i.line, i.code]),
      [
        [3, 'E_IMPORT_IPV6'],
        [4, 'E_IMPORT_NODEID_RANGE'],
        [5, 'E_IMPORT_NODEID'],
        [6, 'E_IMPORT_NAME'],
        [6, 'E_IMPORT_ADDRESS'],
        [7, 'E_IMPORT_NODEID'],
        [8, 'E_IMPORT_IPV6'],
      ],
    );
    assert.match(e.issues[0]!.message, /IPv6; o2net .* IPv4 only/);
    assert.match(e.issues[1]!.message, /nodeid 255 cannot be an o2cb node number \(o2cb allows 0–254\)/);
  });

  it('uses the port option and then gives no port warning', () => {
    const { clusters, warnings } = parseCmanXml('<cluster name="a"><clusternodes><clusternode name="10.0.0.1" nodeid="0"/></clusternodes></cluster>', { port: 7000 });
    assert.equal(clusters[0]!.nodes[0]!.port, 7000);
    assert.equal(clusters[0]!.nodes[0]!.number, 0);
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['W_IMPORT_NAME_IS_ADDRESS'],
    );
  });

  it('reports XML errors with line and column from saxes', () => {
    const e = errorOf('<cluster name="a">\n  <clusternodes>\n    <clusternode name="x" nodeid="1">\n  </clusternodes>\n</cluster>');
    assert.equal(e.issues[0]!.code, 'E_XML');
    assert.equal(e.issues[0]!.line, 4);
    assert.ok(e.issues[0]!.column! > 0);
    assert.match(e.message, /^cluster\.conf:4:\d+: not well-formed XML/);
  });

  it('refuses a DOCTYPE and never expands entities', () => {
    const e = errorOf('<?xml version="1.0"?>\n<!DOCTYPE cluster [<!ENTITY x "10.0.0.1">]>\n<cluster name="a"><clusternodes><clusternode name="&x;" nodeid="1"/></clusternodes></cluster>');
    const codes = e.issues.map((i) => i.code);
    assert.ok(codes.includes('E_XML_DOCTYPE'), codes.join());
    // The entity reference stays unexpanded: saxes reports it as undefined.
    assert.ok(e.issues.some((i) => i.code === 'E_XML' && /undefined entity/.test(i.message)), e.message);
    assert.equal(e.issues.find((i) => i.code === 'E_XML_DOCTYPE')!.line, 2);
  });

  it('refuses other XML documents and clusters without members or a name', () => {
    assert.equal(errorOf('<config><x/></config>').issues[0]!.code, 'E_CMAN_ROOT');
    assert.deepEqual(
      errorOf('<cluster config_version="1"><cman/></cluster>').issues.map((i) => i.code),
      ['E_CMAN_NAME', 'E_CMAN_NO_NODES'],
    );
    // A clusternode outside <clusternodes> is not a member.
    assert.equal(errorOf('<cluster name="a"><clusternode name="10.0.0.1" nodeid="1"/></cluster>').issues[0]!.code, 'E_CMAN_NO_NODES');
  });

  it('fuzz: any text gives a result or a ConfigError, never another exception', () => {
    const tokens = fc.array(fc.constantFrom('<cluster name="a">', '</cluster>', '<clusternodes>', '</clusternodes>', '<clusternode name="10.0.0.1" nodeid="1"/>', '<clusternode name="h" nodeid="999">', '<!DOCTYPE x>', '&amp;', '&x;', '<', '>', '"', '\n', '<?xml version="1.0"?>'), { maxLength: 12 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), tokens), (text) => {
        try {
          parseCmanXml(text);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('documents its mapping', () => {
    assert.match(MAPPING.number, /nodeid unchanged/);
    assert.match(MAPPING.port, /7777/);
    assert.match(MAPPING.ipAddress, /IPv6 is an error/);
  });
});
