import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { detectFileKind, detectFormat, parseAny } from '../../lib/config/detect.js';
import { ConfigError } from '../../lib/model/errors.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/config/${name}`, import.meta.url), 'utf8');

describe('format detection and parseAny', () => {
  it('detects each format from its content', () => {
    assert.equal(detectFormat(fixture('docs-cluster.conf')), 'ocfs2');
    assert.equal(detectFormat(fixture('messy-cluster.conf')), 'ocfs2');
    assert.equal(detectFormat(fixture('cman-cluster.conf'), '/etc/cluster/cluster.conf'), 'cman');
    assert.equal(detectFormat(fixture('corosync.conf')), 'corosync');
    assert.equal(detectFormat(fixture('cluster.json')), 'json');
    assert.equal(detectFormat('\r\n# c\r\n  cluster:\r\n'), 'ocfs2');
    assert.equal(detectFormat('\uFEFF\r# c\r\r  totem {\r'), 'corosync', 'BOM, CR-only line ends');
    assert.equal(detectFormat('#a\n\n   \n<cluster name="x">'), 'cman', 'the last line, without a line end');
  });

  it('recognises the o2cb defaults file (Debian, sysconfig, export, empty named o2cb); parseAny refuses it with the way out', () => {
    const debian = readFileSync(new URL('../fixtures/config/default-o2cb', import.meta.url), 'utf8');
    assert.equal(detectFileKind(debian, '/etc/default/o2cb'), 'o2cb-defaults');
    assert.equal(detectFileKind('export O2CB_STACK=pcmk\n', 'x'), 'o2cb-defaults');
    assert.equal(detectFileKind('# nothing\n', '/etc/sysconfig/o2cb'), 'o2cb-defaults');
    assert.equal(detectFileKind('cluster:\n\tname = a\n', '/etc/default/o2cb'), 'ocfs2');
    assert.equal(detectFileKind('totem {\n}\n'), 'corosync');
    try {
      parseAny(debian, { file: '/etc/default/o2cb' });
      assert.fail('parseAny accepted a defaults file');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.issues[0]!.code, 'E_CONF_IS_O2CB_DEFAULTS');
      assert.match(e.issues[0]!.hint!, /o2stack start --defaults FILE/);
    }
  });

  it('uses the file name only when the content cannot tell', () => {
    assert.equal(detectFormat('', 'x.json'), 'json');
    assert.equal(detectFormat('# empty\n', '/etc/corosync/corosync.conf'), 'corosync');
    assert.equal(detectFormat(''), 'ocfs2');
    assert.throws(
      () => detectFormat('hello world\n', 'f.txt'),
      (e: unknown) => e instanceof ConfigError && e.code === 'E_CONF_FORMAT' && e.file === 'f.txt' && /"hello world"/.test(e.message),
    );
  });

  it('parses and validates: all model problems of all clusters in one ConfigError with file:line', () => {
    assert.throws(
      () => parseAny(fixture('invalid-cluster.conf'), { file: 'inv.conf' }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.deepEqual(
          e.issues.map((i) => [i.file, i.line, i.code]),
          [
            ['inv.conf', 12, 'E_CONF_NODE_PORT'],
            ['inv.conf', 12, 'E_CONF_DUP_NUMBER'],
          ],
        );
        return true;
      },
    );
  });

  it('validates imported clusters too (cman name with a dash)', () => {
    const xml = '<cluster name="my-cl"><clusternodes><clusternode name="10.0.0.1" nodeid="1"/></clusternodes></cluster>';
    assert.throws(
      () => parseAny(xml, { file: 'c.xml' }),
      (e: unknown) => e instanceof ConfigError && e.issues[0]!.code === 'E_CONF_CLUSTER_NAME' && e.issues[0]!.line === 1,
    );
  });

  it('returns format, clusters and warnings', () => {
    const r = parseAny(fixture('corosync.conf'), { file: 'cs.conf', port: 7000 });
    assert.equal(r.format, 'corosync');
    assert.equal(r.clusters[0]!.nodes[0]!.port, 7000);
    assert.deepEqual(r.warnings, []);
    const m = parseAny(fixture('messy-cluster.conf'));
    assert.equal(m.clusters.length, 2);
    assert.ok(m.warnings.length > 0);
  });

  it('refuses the same cluster twice in JSON', () => {
    const j = JSON.stringify({ clusters: [0, 1].map((i) => ({ name: 'a', nodes: [{ name: `n${i}`, number: i, ipAddress: `10.0.0.${i + 1}` }] })) });
    assert.throws(
      () => parseAny(j),
      (e: unknown) => e instanceof ConfigError && e.code === 'E_CONF_DUP_CLUSTER',
    );
  });
});
