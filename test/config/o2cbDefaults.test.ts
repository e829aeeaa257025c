import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { formatO2cbDefaults, parseO2cbDefaults, shellQuote, updateO2cbDefaults, type O2cbDefaults } from '../../lib/config/o2cbDefaults.js';
import { ConfigError } from '../../lib/model/errors.js';

const debian = readFileSync(new URL('../fixtures/config/default-o2cb', import.meta.url), 'utf8');

function errorsOf(text: string): ConfigError {
  try {
    parseO2cbDefaults(text, { file: '/etc/default/o2cb' });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe('o2cb defaults file', () => {
  it("reads Debian's shipped /etc/default/o2cb", () => {
    const f = parseO2cbDefaults(debian);
    assert.deepEqual(f.values, { enabled: false, bootCluster: 'ocfs2', heartbeatThreshold: 31, idleTimeoutMs: 30000, keepaliveDelayMs: 2000, reconnectDelayMs: 2000 });
    assert.deepEqual(f.warnings, []);
  });

  it('long values: runs of plain characters between escapes, quotes and line joins, outside and inside "…"', () => {
    // the reader appends a run of plain characters at once (it was one += per character)
    const plain = 'ab~c.d-e:f/g,'.repeat(5000);
    const text = `A=${plain}\\$x\\ y'q u'z"${plain} \\"\\d\\` + '\n' + `"end\nB="${plain}"\n`;
    const f = parseO2cbDefaults(text);
    assert.equal(f.variables.A, `${plain}$x yq uz${plain} "\\dend`);
    assert.equal(f.variables.B, plain);
    assert.equal(f.assignments[1]!.line, 3);
  });

  it('applies shell quoting: single, double, backslashes, export, comments, line joins', () => {
    const f = parseO2cbDefaults(
      [
        "export O2CB_STACK='pcmk' # user stack",
        'O2CB_BOOTCLUSTER="web"',
        'O2CB_IDLE_TIMEOUT_MS=3\\',
        '0000',
        'OTHER="a \\"b\\" \\$c \\\\ \\d"',
        "QUOTED='it'\\''s # not a comment'",
        'HASH=a#b',
        'MULTI="line1',
        'line2"',
        'export O2CB_ENABLED',
        'O2CB_ENABLED=true',
        '   # indented comment',
        'EMPTY=',
        'O2CB_HEARTBEAT_THRESHOLD=',
      ].join('\n'),
    );
    assert.deepEqual(f.values, { stack: 'pcmk', bootCluster: 'web', idleTimeoutMs: 30000, enabled: true });
    assert.equal(f.variables.OTHER, 'a "b" $c \\ \\d');
    assert.equal(f.variables.QUOTED, "it's # not a comment");
    assert.equal(f.variables.HASH, 'a#b');
    assert.equal(f.variables.MULTI, 'line1\nline2');
    assert.equal(f.variables.EMPTY, '');
    assert.equal(f.assignments[0]!.exported, true);
    assert.equal(f.assignments.find((a) => a.name === 'O2CB_ENABLED')!.line, 11);
  });

  it('the last assignment wins, as in the shell; O2CB_BOOTCLUSTER=none means no cluster', () => {
    assert.deepEqual(parseO2cbDefaults('O2CB_ENABLED=true\nO2CB_ENABLED=false\nO2CB_BOOTCLUSTER=none\n').values, { enabled: false });
  });

  it('reports every syntax error with its line, and recovers at the next line', () => {
    const e = errorsOf(['O2CB_ENABLED = true', 'O2CB_STACK=$STACK', 'O2CB_BOOTCLUSTER=web ocfs2', 'echo hello', 'X=`date`', "Y='open", 'Z=a;b'].join('\n'));
    assert.deepEqual(
      e.issues.map((i) => [i.line, i.code]),
      [
        [1, 'E_SHELL_SPACE'],
        [2, 'E_SHELL_EXPANSION'],
        [3, 'E_SHELL_TRAILING'],
        [4, 'E_SHELL_SYNTAX'],
        [5, 'E_SHELL_EXPANSION'],
        [6, 'E_SHELL_QUOTE'],
        [7, 'E_SHELL_OPERATOR'],
      ],
    );
    assert.match(e.issues[0]!.message, /blank before '='.*"O2CB_ENABLED = true"/);
    assert.equal(e.issues[0]!.hint, "write O2CB_ENABLED=value with no blanks around '='");
    assert.equal(e.issues[0]!.file, '/etc/default/o2cb');
    // Unlike the shell, an unterminated quote does not hide the errors on the lines after it.
    assert.match(e.issues[5]!.message, /unterminated ' quote in the value of Y/);
  });

  it('rejects CRLF line endings with the dos2unix fix', () => {
    const e = errorsOf('O2CB_ENABLED=true\r\n');
    assert.equal(e.issues[0]!.code, 'E_SHELL_CRLF');
    assert.match(e.issues[0]!.hint!, /dos2unix/);
  });

  it('validates the known variables against the minimums of the o2cb configure step', () => {
    const e = errorsOf(
      ['O2CB_ENABLED=yes', 'O2CB_STACK=pacemaker', 'O2CB_BOOTCLUSTER=my-cluster', 'O2CB_HEARTBEAT_THRESHOLD=5', 'O2CB_IDLE_TIMEOUT_MS=30s', 'O2CB_KEEPALIVE_DELAY_MS=999', 'O2CB_RECONNECT_DELAY_MS=1000'].join('\n'),
    );
    assert.deepEqual(
      e.issues.map((i) => [i.line, i.key]),
      [
        [1, 'O2CB_ENABLED'],
        [2, 'O2CB_STACK'],
        [3, 'O2CB_BOOTCLUSTER'],
        [4, 'O2CB_HEARTBEAT_THRESHOLD'],
        [5, 'O2CB_IDLE_TIMEOUT_MS'],
        [6, 'O2CB_KEEPALIVE_DELAY_MS'],
        [7, 'O2CB_RECONNECT_DELAY_MS'],
      ],
    );
    assert.match(e.issues[3]!.message, /below the minimum 7/);
    assert.match(e.issues[0]!.hint!, /O2CB_ENABLED=true/);
  });

  it('checks the keepalive delay against the idle timeout', () => {
    const e = errorsOf('O2CB_IDLE_TIMEOUT_MS=5000\nO2CB_KEEPALIVE_DELAY_MS=5000\n');
    assert.equal(e.issues[0]!.code, 'E_O2CB_KEEPALIVE');
    assert.equal(e.issues[0]!.line, 2);
  });

  it('warns about misspelt O2CB_ variables', () => {
    const f = parseO2cbDefaults('O2CB_ENABLE=true\nPATH_EXTRA=/x\n');
    assert.deepEqual(
      f.warnings.map((w) => [w.code, w.key, w.line]),
      [['W_O2CB_UNKNOWN', 'O2CB_ENABLE', 1]],
    );
  });

  it('updates values in place, keeping comments, unknown lines, export and trailing comments', () => {
    const src = '# mine\nexport O2CB_ENABLED=false # boot?\nFOO="bar baz"\nO2CB_IDLE_TIMEOUT_MS=30000\n\n# end\n';
    const out = updateO2cbDefaults(src, { enabled: true, idleTimeoutMs: null, stack: 'pcmk', bootCluster: 'web' });
    assert.equal(out, '# mine\nexport O2CB_ENABLED=true # boot?\nFOO="bar baz"\n\n# end\nO2CB_STACK=pcmk\nO2CB_BOOTCLUSTER=web\n');
    assert.deepEqual(parseO2cbDefaults(out).values, { enabled: true, stack: 'pcmk', bootCluster: 'web' });
  });

  it('updates the Debian file and leaves every other byte alone', () => {
    const out = updateO2cbDefaults(debian, { enabled: true, heartbeatThreshold: 61 });
    assert.equal(out, debian.replace('O2CB_ENABLED=false', 'O2CB_ENABLED=true').replace('O2CB_HEARTBEAT_THRESHOLD=31', 'O2CB_HEARTBEAT_THRESHOLD=61'));
  });

  it('refuses invalid updates and files that do not parse', () => {
    assert.throws(() => updateO2cbDefaults(debian, { idleTimeoutMs: 100 }), (e: unknown) => e instanceof ConfigError && e.issues[0]!.key === 'O2CB_IDLE_TIMEOUT_MS');
    assert.throws(() => updateO2cbDefaults(debian, { keepaliveDelayMs: 40000 }), (e: unknown) => e instanceof ConfigError && e.code === 'E_O2CB_KEEPALIVE');
    assert.throws(() => updateO2cbDefaults('A = 1\n', { enabled: true }), (e: unknown) => e instanceof ConfigError && e.code === 'E_SHELL_SPACE');
  });

  it('formats a fresh file that reads back the same', () => {
    const v: O2cbDefaults = { enabled: true, stack: 'o2cb', bootCluster: 'web', heartbeatThreshold: 31, idleTimeoutMs: 30000, keepaliveDelayMs: 2000, reconnectDelayMs: 2000 };
    const text = formatO2cbDefaults(v);
    assert.match(text, /^# o2cb start-up settings/);
    assert.match(text, /\nO2CB_ENABLED=true\nO2CB_STACK=o2cb\n/);
    assert.deepEqual(parseO2cbDefaults(text).values, v);
  });

  it('shellQuote output reads back as the same string (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }).filter((s) => !s.includes('\r')), (s) => {
        const f = parseO2cbDefaults(`X=${shellQuote(s)}\n`);
        assert.equal(f.variables.X, s);
      }),
      { numRuns: 500 },
    );
  });

  it('fuzz: any text gives a result or a ConfigError, never another exception', () => {
    const shellish = fc.array(fc.constantFrom('O2CB_ENABLED', '=', 'true', "'", '"', '\\', '\n', ' ', '#', 'export ', '$', '`', ';', '\r', 'x', '5000', '~'), { maxLength: 40 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), shellish), (text) => {
        try {
          const f = parseO2cbDefaults(text);
          assert.ok(typeof f.values === 'object');
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          assert.ok(e.issues.length > 0 && e.issues.every((i) => typeof i.message === 'string' && i.code.length > 0));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('fuzz: updates of a valid file re-parse to the requested values', () => {
    const upd = fc.record(
      {
        enabled: fc.option(fc.boolean(), { nil: null }),
        stack: fc.option(fc.constantFrom('o2cb', 'pcmk'), { nil: null }),
        heartbeatThreshold: fc.option(fc.integer({ min: 7, max: 1000 }), { nil: null }),
        reconnectDelayMs: fc.option(fc.integer({ min: 2000, max: 100000 }), { nil: null }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(upd, (u) => {
        const out = updateO2cbDefaults(debian, u);
        const back = parseO2cbDefaults(out).values as Record<string, unknown>;
        for (const [k, v] of Object.entries(u)) assert.equal(back[k], v === null ? undefined : v);
        // Every comment line of the original survives.
        for (const l of debian.split('\n').filter((x) => x.startsWith('#'))) assert.ok(out.includes(l));
      }),
    );
  });
});
