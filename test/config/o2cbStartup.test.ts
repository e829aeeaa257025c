import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseClusterConf } from '../../lib/config/clusterConf.js';
import { parseO2cbDefaults } from '../../lib/config/o2cbDefaults.js';
import { DEFAULTS_TIMEOUTS, resolveStartup } from '../../lib/config/o2cbStartup.js';
import { ConfigError } from '../../lib/model/errors.js';

const CONF = '/etc/ocfs2/cluster.conf';
const DEF = '/etc/default/o2cb';

const conf = (extra = '', name = 'web', more = '') =>
  `cluster:\n\tname = ${name}\n\theartbeat_mode = local\n\tnode_count = 1\n${extra}\nnode:\n\tname = n1\n\tcluster = ${name}\n\tnumber = 1\n\tip_address = 10.0.0.1\n\tip_port = 7777\n\n${more}`;

function input(confText: string, defaultsText: string | undefined, cluster?: string) {
  return {
    clusters: parseClusterConf(confText, { file: CONF }).clusters,
    configFile: CONF,
    configText: confText,
    ...(defaultsText !== undefined ? { defaults: { file: DEF, parsed: parseO2cbDefaults(defaultsText, { file: DEF }) } } : {}),
    ...(cluster !== undefined ? { cluster } : {}),
  };
}

function issuesOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe('o2stack start: cluster.conf merged with /etc/default/o2cb', () => {
  it('takes the threshold and timeouts from the defaults file and says where each comes from', () => {
    const d = 'O2CB_ENABLED=true\nO2CB_BOOTCLUSTER=web\nO2CB_HEARTBEAT_THRESHOLD=13\nO2CB_IDLE_TIMEOUT_MS=15000\nO2CB_KEEPALIVE_DELAY_MS=3000\nO2CB_RECONNECT_DELAY_MS=4000\n';
    const r = resolveStartup(input(conf(), d));
    assert.deepEqual(r.cluster.timeouts, { heartbeatDeadThreshold: 13, idleTimeoutMs: 15000, keepaliveDelayMs: 3000, reconnectDelayMs: 4000 });
    assert.equal(r.chosenBy, 'bootcluster');
    assert.equal(r.enabled, true);
    assert.deepEqual(r.sources, {
      heartbeatDeadThreshold: `O2CB_HEARTBEAT_THRESHOLD, ${DEF}:3`,
      idleTimeoutMs: `O2CB_IDLE_TIMEOUT_MS, ${DEF}:4`,
      keepaliveDelayMs: `O2CB_KEEPALIVE_DELAY_MS, ${DEF}:5`,
      reconnectDelayMs: `O2CB_RECONNECT_DELAY_MS, ${DEF}:6`,
    });
  });

  it('without a defaults file the cluster is unchanged (cluster.conf alone)', () => {
    const text = conf('\tidle_timeout_ms = 12000\n');
    const r = resolveStartup(input(text, undefined));
    assert.deepEqual(r.cluster.timeouts, { idleTimeoutMs: 12000 });
    assert.deepEqual(r.sources, { idleTimeoutMs: `idle_timeout_ms, ${CONF}:5` });
    assert.equal(r.enabled, undefined);
  });

  it('a value set differently in both files is an error naming both files and lines; equal values are fine', () => {
    const text = conf('\tidle_timeout_ms = 20000\n\theartbeat_dead_threshold = 60s\n');
    const e = issuesOf(() => resolveStartup(input(text, '# c\nO2CB_IDLE_TIMEOUT_MS=15000\nO2CB_HEARTBEAT_THRESHOLD=31\n')));
    assert.equal(e.issues.length, 1, e.message);
    const i = e.issues[0]!;
    assert.equal(i.code, 'E_O2CB_CONFLICT');
    assert.equal(i.file, DEF);
    assert.equal(i.line, 2);
    assert.equal(i.key, 'O2CB_IDLE_TIMEOUT_MS');
    assert.match(i.message, /O2CB_IDLE_TIMEOUT_MS=15000 \(\/etc\/default\/o2cb:2\) conflicts with idle_timeout_ms = 20000 ms of cluster 'web' \(\/etc\/ocfs2\/cluster\.conf:5\)/);
    assert.match(i.hint!, /remove idle_timeout_ms from \/etc\/ocfs2\/cluster\.conf, or set O2CB_IDLE_TIMEOUT_MS=20000/);
    // "60s" is 31 beats: the same as O2CB_HEARTBEAT_THRESHOLD=31, so no conflict there
    const ok = resolveStartup(input(text, 'O2CB_IDLE_TIMEOUT_MS=20000\nO2CB_HEARTBEAT_THRESHOLD=31\n'));
    assert.deepEqual(ok.cluster.timeouts, { idleTimeoutMs: 20000, heartbeatDeadThreshold: 31 });
    assert.equal(ok.sources.idleTimeoutMs, `idle_timeout_ms, ${CONF}:5`);
  });

  it('O2CB_BOOTCLUSTER chooses among several clusters; one cluster.conf lacks is an error naming both files; --cluster wins with a note', () => {
    const two = conf('', 'web') + conf('', 'db').replace('n1', 'd1');
    assert.equal(resolveStartup(input(two, 'O2CB_BOOTCLUSTER=db\n')).cluster.name, 'db');
    const e = issuesOf(() => resolveStartup(input(two, 'O2CB_ENABLED=true\nO2CB_BOOTCLUSTER=ocfs2\n')));
    assert.equal(e.issues[0]!.code, 'E_O2CB_BOOTCLUSTER');
    assert.equal(e.issues[0]!.file, DEF);
    assert.equal(e.issues[0]!.line, 2);
    assert.match(e.issues[0]!.message, /O2CB_BOOTCLUSTER=ocfs2 names a cluster that \/etc\/ocfs2\/cluster\.conf does not describe \(it has: web, db\)/);
    const r = resolveStartup(input(two, 'O2CB_BOOTCLUSTER=ocfs2\n', 'web'));
    assert.equal(r.cluster.name, 'web');
    assert.equal(r.chosenBy, 'option');
    assert.match(r.notes[0]!, /--cluster web overrides O2CB_BOOTCLUSTER=ocfs2 \(\/etc\/default\/o2cb:1\)/);
    const which = issuesOf(() => resolveStartup(input(two, 'O2CB_BOOTCLUSTER=none\n')));
    assert.equal(which.issues[0]!.code, 'E_START_WHICH_CLUSTER');
  });

  it('refuses a user-stack O2CB_STACK, and a merge the kernel would refuse (keepalive ≥ idle across the two files)', () => {
    const s = issuesOf(() => resolveStartup(input(conf(), 'O2CB_STACK=pcmk\n')));
    assert.equal(s.issues[0]!.code, 'E_O2CB_STACK_USER');
    assert.match(s.issues[0]!.hint!, /o2stack select pcmk and o2stack daemon/);
    const k = issuesOf(() => resolveStartup(input(conf('\tidle_timeout_ms = 6000\n'), 'O2CB_KEEPALIVE_DELAY_MS=8000\n')));
    assert.equal(k.issues[0]!.code, 'E_CONF_KEEPALIVE');
    assert.match(k.issues[0]!.message, /keepalive from O2CB_KEEPALIVE_DELAY_MS, \/etc\/default\/o2cb:1, idle from idle_timeout_ms, \/etc\/ocfs2\/cluster\.conf:5/);
  });

  it('property: each setting is the one file that sets it, equal in both, or a conflict naming both lines', () => {
    const opt = fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined });
    fc.assert(
      fc.property(fc.array(fc.tuple(opt, opt), { minLength: 4, maxLength: 4 }), (pairs) => {
        // values chosen so every combination is valid on its own: idle ≥ 30000 > keepalive ≤ 5000
        const vals = [[7, 13, 31, 60], [30000, 40000, 50000, 60000], [1000, 2000, 3000, 5000], [2000, 3000, 4000, 8000]];
        const confLines = pairs.map(([c], i) => (c === undefined ? '' : `\t${DEFAULTS_TIMEOUTS[i]!.confKey} = ${vals[i]![c]}\n`)).join('');
        const defLines = pairs.map(([, d], i) => (d === undefined ? '' : `${DEFAULTS_TIMEOUTS[i]!.variable}=${vals[i]![d]}\n`)).join('');
        const conflicts = pairs.map(([c, d], i) => (c !== undefined && d !== undefined && c !== d ? DEFAULTS_TIMEOUTS[i]!.variable : undefined)).filter(Boolean);
        let r;
        try {
          r = resolveStartup(input(conf(confLines), defLines));
        } catch (e) {
          assert.ok(e instanceof ConfigError);
          assert.deepEqual(e.issues.map((i) => i.key), conflicts);
          for (const i of e.issues) assert.match(i.message, /\(\/etc\/default\/o2cb:\d+\) conflicts with .*\(\/etc\/ocfs2\/cluster\.conf:\d+\)/);
          return;
        }
        assert.deepEqual(conflicts, []);
        pairs.forEach(([c, d], i) => {
          const want = c ?? d;
          assert.equal(r.cluster.timeouts[DEFAULTS_TIMEOUTS[i]!.timeout], want === undefined ? undefined : vals[i]![want]);
        });
      }),
    );
  });
});
