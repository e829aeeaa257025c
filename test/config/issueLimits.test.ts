// Inputs with a broken line repeated many times (what the fuzzer's large mutations make): the
// parsers report the first MAX_ISSUES of each kind and count the rest, instead of building and
// joining one issue per line; the defaults reader splits the text once, not once per error.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { parseClusterConf } from '../../lib/config/clusterConf.js';
import { parseCmanXml } from '../../lib/config/cmanXml.js';
import { MAX_ISSUES, MAX_NESTING } from '../../lib/config/common.js';
import { parseCorosyncConf, parseCorosyncConfCluster } from '../../lib/config/corosyncConf.js';
import { parseAny } from '../../lib/config/detect.js';
import { parseO2cbDefaults } from '../../lib/config/o2cbDefaults.js';
import { ConfigError } from '../../lib/model/errors.js';

function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe('parsers: issue counts are bounded on huge broken inputs', () => {
  const N = 20_000;

  it('the fuzzer\'s detect finding 813,309 (a 3.5 MB corosync.conf, one node copied 44,430 times): validation reports MAX_ISSUES and counts the rest (it built 130,000 issues and a message of them all: 2.2 s of CPU)', () => {
    const text = gunzipSync(readFileSync(new URL('../fixtures/fuzz/detect-813309-corosync.conf.gz', import.meta.url))).toString('utf8');
    const e = configError(() => parseAny(text, { file: 'f' }));
    assert.equal(e.issues.length, MAX_ISSUES + 1);
    assert.deepEqual([e.issues[0]!.code, e.issues[0]!.file], ['E_CONF_TOO_MANY_NODES', 'f']);
    const more = e.issues.at(-1)!;
    assert.equal(more.code, 'E_CONF_MORE');
    assert.equal(more.file, 'f');
    // 44,430 nodes, of which 44,427 repeat n3's name, number and address: 3 issues each, + the count
    const [, n] = /^(\d+) more errors not shown/.exec(more.message)!;
    assert.equal(Number(n), 1 + 3 * 44_427 - MAX_ISSUES);
    assert.ok(e.message.split('\n').length < 3 * (MAX_ISSUES + 1), `a message of ${e.message.split('\n').length} lines`);
  });

  it('a ConfigError\'s message lists the first MAX_ISSUES of more issues and counts the rest (all stay in .issues)', () => {
    const issues = Array.from({ length: 500 }, (_, i) => ({ code: 'E_X', message: `problem ${i}`, file: 'f', line: i + 1 }));
    const e = new ConfigError(issues);
    assert.equal(e.issues.length, 500);
    const lines = e.message.split('\n');
    assert.equal(lines[MAX_ISSUES - 1], `f:${MAX_ISSUES}: problem ${MAX_ISSUES - 1}`);
    assert.match(lines[MAX_ISSUES]!, /^f: 400 more problems not shown/);
  });

  it('cluster.conf: 20,000 unknown keys give MAX_ISSUES warnings and one summary with the exact rest', () => {
    const text = 'cluster:\n\tnode_count = 0\n\tname = c\n' + '\tbogus = 1\n'.repeat(N);
    const r = parseClusterConf(text, { file: 'f' });
    assert.equal(r.warnings.length, MAX_ISSUES + 1);
    const last = r.warnings.at(-1)!;
    assert.equal(last.code, 'W_CONF_MORE');
    assert.match(last.message, new RegExp(`^${N - MAX_ISSUES} more warnings`));
    assert.equal(last.file, 'f');
  });

  it('cluster.conf: 20,000 bad node stanzas give one bounded ConfigError naming the first ones', () => {
    const text = 'cluster:\n\tnode_count = 1\n\tname = c\n' + 'node:\n\tnumber = x\n\tname = n\n\tcluster = c\n'.repeat(N);
    const e = configError(() => parseClusterConf(text, { file: 'f' }));
    assert.ok(e.issues.length <= MAX_ISSUES + 1, `${e.issues.length} issues`);
    assert.equal(e.issues.at(-1)!.code, 'E_CONF_MORE');
    assert.ok(e.message.length < 100 * (MAX_ISSUES + 1) * 4, `message of ${e.message.length} characters`);
    assert.ok(e.issues[0]!.line! < 10, 'the first problems are the ones shown');
  });

  it('cman XML and corosync.conf: 20,000 bad members give a bounded error', () => {
    const cman = '<cluster name="c" config_version="1"><clusternodes>' + '<clusternode name="n" nodeid="x"/>\n'.repeat(N) + '</clusternodes></cluster>';
    assert.ok(configError(() => parseCmanXml(cman, { file: 'f' })).issues.length <= MAX_ISSUES + 1);
    const coro = 'totem {\n cluster_name: c\n}\nnodelist {\n' + ' node {\n  ring0_addr: 10.0.0.1\n  nodeid: x\n }\n'.repeat(N) + '}\n';
    assert.ok(configError(() => parseCorosyncConfCluster(coro, { file: 'f' })).issues.length <= MAX_ISSUES + 1);
  });

  it('/etc/default/o2cb: 20,000 syntax errors split the text once (it was once per error: quadratic) and stop the parse at the cap', () => {
    const text = 'O2CB_ENABLED=true\n' + "X='a' b\n".repeat(N);
    const split = String.prototype.split;
    let splits = 0;
    String.prototype.split = function (this: string, ...a: Parameters<typeof split>) {
      if (this.length >= text.length) splits++; // only splits of the whole text
      return split.apply(this, a);
    } as typeof split;
    let e: ConfigError;
    try {
      e = configError(() => parseO2cbDefaults(text, { file: 'f' }));
    } finally {
      String.prototype.split = split;
    }
    assert.ok(splits <= 2, `the whole text was split ${splits} times`);
    // the first MAX_ISSUES - 1 listed, then where the parse gave up (a throw per bad line was seconds)
    assert.equal(e.issues.length, MAX_ISSUES);
    assert.match(e.issues.at(-1)!.message, new RegExp(`more syntax errors from line ${MAX_ISSUES + 1} on \\(the rest of the file was not read\\)`));
    assert.match(e.issues[0]!.message, /"X='a' b"/, 'the line is still quoted in the message');
  });

  it('cman XML: a broken tag repeated 50,000 times stops at the eleventh XML error (saxes made an Error with a stack for every one)', () => {
    // the shape the fuzzer found: 2.8 MB of one tag with a quote missing took 2–5 s
    const text = '<?xml version="1.0"?>\n<cluster name="alpha" config_version="1">\n' + '  <cman two_node="1" expected_votes="1fig_version="1">\n'.repeat(50_000);
    const proto = (createRequire(import.meta.url)('saxes') as { SaxesParser: { prototype: { makeError(m: string): Error } } }).SaxesParser.prototype;
    const make = proto.makeError;
    let made = 0;
    proto.makeError = function (this: unknown, m: string) {
      made++;
      return make.call(this, m);
    };
    let e: ConfigError;
    try {
      e = configError(() => parseCmanXml(text, { file: 'f' }));
    } finally {
      proto.makeError = make;
    }
    assert.ok(made <= 11, `saxes made ${made} errors`);
    assert.equal(e.issues.filter((i) => i.code === 'E_XML').length, 11);
    assert.match(e.issues.at(-1)!.message, /more XML errors after these ten/);
  });

  it('issues past the cap are counted, not built: 20,000 bad lines quote a line about MAX_ISSUES times, not 20,000', () => {
    // every message quotes its line with JSON.stringify (quoteLine); it was called for each bad
    // line, kept or not, a fifth of the readers' time on a MB of broken lines
    const quoted = (f: () => unknown) => {
      const stringify = JSON.stringify;
      let n = 0;
      JSON.stringify = ((...a: Parameters<typeof stringify>) => {
        n++;
        return stringify(...a);
      }) as typeof stringify;
      try {
        configError(f);
      } finally {
        JSON.stringify = stringify;
      }
      return n;
    };
    const cc = quoted(() => parseClusterConf('cluster:\n\tname = c\n' + 'xx yy\n'.repeat(N), { file: 'f' }));
    const coro = quoted(() => parseCorosyncConfCluster('x = y\n'.repeat(N), { file: 'f' }));
    const dup = quoted(() => parseClusterConf('cluster:\n\tname = c\n\tnode_count = 0\n' + '\tname = c\n'.repeat(N) + 'node:\n', { file: 'f' }));
    for (const [what, n] of Object.entries({ cc, coro, dup })) assert.ok(n <= 2 * MAX_ISSUES, `${what}: ${n} lines quoted`);
  });

  it(`corosync.conf: sections nested deeper than MAX_NESTING (${MAX_NESTING}) give one error at that line and the rest is not read`, () => {
    const ok = 'a {\n'.repeat(MAX_NESTING) + '}\n'.repeat(MAX_NESTING);
    assert.equal(parseCorosyncConf(ok).children.length, 1, `${MAX_NESTING} levels are read`);
    // 100,000 levels took 0.2 s per 200 KB and kept every section; an unclosed one was reported each
    // (each "{" has no name: lines 1–100 are listed, and the count says 2 more: line 101's and the depth)
    const e = configError(() => parseCorosyncConf('{\n'.repeat(100_000) + 'x = y\n', { file: 'f' }));
    assert.equal(e.issues.length, MAX_ISSUES + 1);
    assert.match(e.issues.at(-1)!.message, /^2 more errors not shown/);
    const deep = configError(() => parseCorosyncConf('a {\n'.repeat(100_000), { file: 'f' }));
    assert.deepEqual(
      deep.issues.map((i) => [i.code, i.line]),
      [['E_COROSYNC_DEPTH', MAX_NESTING + 1]],
    );
    assert.match(deep.issues[0]!.message, /nested more than 100 deep: "a \{" \(the rest of the file was not read\)/);
  });

  it(`cman XML: elements nested deeper than MAX_NESTING (${MAX_NESTING}) give one error at that tag and the rest is not read`, () => {
    const nest = (n: number) => '<cluster name="c">' + '<a>'.repeat(n - 1);
    const ok = nest(MAX_NESTING) + '</a>'.repeat(MAX_NESTING - 1) + '<clusternodes><clusternode name="10.0.0.1" nodeid="1"/></clusternodes></cluster>';
    assert.equal(parseCmanXml(ok).clusters[0]!.nodes.length, 1, `${MAX_NESTING} levels are read`);
    // 1.4 M levels took 2.5 s of CPU (saxes keeps a tag object per open element)
    const e = configError(() => parseCmanXml(nest(100_000), { file: 'f' }));
    assert.deepEqual(
      e.issues.map((i) => [i.code, i.line, i.column]),
      [['E_XML_DEPTH', 1, '<cluster name="c">'.length + 1 + 3 * (MAX_NESTING - 1)]],
    );
    assert.match(e.issues[0]!.message, /^<a> is nested more than 100 elements deep/);
  });
});
