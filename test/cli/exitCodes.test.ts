// README's exit-code table, row by row, against the built bin: every code the table lists has
// commands that must exit with it (and print the one {"error": …} document under --json), and
// every code the CLI defines is in the table. Needs `npm run build`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, EXIT_MEANINGS } from '../../lib/cli/output.js';
import { makeFakeKernelTree } from '../../lib/kernel/fakeTree.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'dist', 'o2stack.cjs');

/** The README's table: code → meaning. */
function readmeExitCodes(): Map<number, string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Exit codes'));
  const rows = new Map<number, string>();
  for (const line of section.split('\n').slice(1)) {
    if (line.startsWith('#')) break;
    const m = /^\| (\d+) \| (.+) \|$/.exec(line);
    if (m) rows.set(Number(m[1]), m[2]!);
  }
  return rows;
}

interface Case {
  what: string;
  args: string[];
  env?: Record<string, string>;
  /** run as the unprivileged user nobody (needs root and runuser) */
  asNobody?: boolean;
  /** the error code in the --json document (not for success) */
  code?: string;
  /** a report command (status, config check): --json prints its report, with the same exit code */
  report?: true;
}

describe('exit codes (README "Exit codes", row by row, the built bin)', function () {
  this.timeout(60000);
  let dir: string;
  let fake: string;
  const canRunAsNobody = process.getuid?.() === 0 && spawnSync('runuser', ['-u', 'nobody', '--', 'true']).status === 0;

  before(function () {
    if (!existsSync(bin)) this.skip(); // not built: `npm run build` makes dist/
    dir = mkdtempSync(join(tmpdir(), 'o2s-exit-'));
    chmodSync(dir, 0o755);
    fake = join(dir, 'root');
    makeFakeKernelTree(fake);
    chmodSync(fake, 0o755);
    writeFileSync(join(dir, 'good.json'), JSON.stringify({ name: 'demo', nodes: [{ name: 'n1', number: 1, ipAddress: '192.0.2.1', port: 7777 }] }), { mode: 0o644 });
    writeFileSync(join(dir, 'bad.json'), '{"name": "demo", "nodes": [{"name": "n1", "number": 999}]}', { mode: 0o644 });
    writeFileSync(join(dir, 'secret.conf'), 'cluster:\n\tname = demo\n', { mode: 0o600 });
    mkdirSync(join(dir, 'empty'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  const cases = (): Record<number, Case[]> => ({
    [EXIT.OK]: [
      { what: 'config check of a valid file', args: ['config', 'check', join(dir, 'good.json')] },
      { what: 'apply to a fake tree', args: ['--root', fake, '--config', join(dir, 'good.json'), 'apply', '--node', 'n1'] },
    ],
    [EXIT.FAILED]: [
      { what: 'config check of an invalid file', args: ['config', 'check', join(dir, 'bad.json')], report: true },
      { what: 'plan from an invalid file', args: ['--config', join(dir, 'bad.json'), 'plan'], code: 'E_JSON_SCHEMA' },
      { what: 'select of a label that is not 4 characters', args: ['--root', fake, 'select', 'toolong'] },
    ],
    [EXIT.USAGE]: [
      { what: 'an unknown command', args: ['aply'], code: 'E_USAGE' },
      { what: 'a missing required option', args: ['node', 'add', 'n9'], code: 'E_USAGE' },
      { what: 'a missing argument', args: ['daemon-ctl'], code: 'E_USAGE' },
    ],
    [EXIT.NOT_RUNNING]: [
      { what: 'status with no cluster registered', args: ['--root', join(dir, 'empty-tree'), 'status'], report: true },
      { what: 'lockspaces without a daemon', args: ['lockspaces', '--socket', join(dir, 'no.sock')], code: 'E_DAEMON_NOT_RUNNING' },
      { what: 'daemon-ctl without a daemon', args: ['daemon-ctl', 'status', '--socket', join(dir, 'no.sock')], code: 'E_DAEMON_NOT_RUNNING' },
    ],
    [EXIT.NO_PERMISSION]: [
      { what: 'apply by a user who may not write configfs', args: ['--root', join(dir, 'ro-tree'), '--config', join(dir, 'good.json'), 'apply', '--node', 'n1'], asNobody: true, code: 'E_APPLY_FAILED' },
      { what: 'a configuration the user may not read', args: ['--config', join(dir, 'secret.conf'), 'plan'], asNobody: true, code: 'E_CONF_PERMISSION' },
    ],
    [EXIT.NOT_INSTALLED]: [{ what: 'the native addon missing', args: ['--root', fake, 'detect'], env: { O2STACK_ADDON: join(dir, 'missing.node') }, code: 'E_NO_ADDON' }],
    [EXIT.NOT_CONFIGURED]: [{ what: 'no configuration file', args: ['--config', join(dir, 'missing.conf'), 'plan'], code: 'E_CONF_MISSING' }],
  });

  it('the table lists exactly the codes the CLI defines, with the meanings the man page gives', function () {
    assert.deepEqual([...readmeExitCodes().keys()].sort(), Object.values(EXIT).sort());
    assert.deepEqual(Object.fromEntries(readmeExitCodes()), Object.fromEntries(Object.entries(EXIT_MEANINGS).map(([k, v]) => [Number(k), v])));
  });

  for (const [code, meaning] of readmeExitCodes()) {
    it(`${code}: ${meaning}`, function () {
      // trees made here so that each case's state is its own
      makeFakeKernelTree(join(dir, 'empty-tree'));
      makeFakeKernelTree(join(dir, 'ro-tree'));
      chmodSync(join(dir, 'ro-tree'), 0o755);
      const list = cases()[code];
      assert.ok(list?.length, `no command checks exit code ${code}`);
      let ran = 0;
      for (const c of list) {
        if (c.asNobody && !canRunAsNobody) continue;
        ran++;
        for (const json of [false, true]) {
          const args = json ? ['--json', ...c.args] : c.args;
          const cmd = c.asNobody ? ['runuser', ['-u', 'nobody', '--', process.execPath, bin, ...args]] as const : [process.execPath, [bin, ...args]] as const;
          const r = spawnSync(cmd[0], cmd[1], { encoding: 'utf8', env: { ...process.env, ...c.env }, timeout: 30000 });
          assert.equal(r.status, code, `${c.what} (${args.join(' ')}): exit ${r.status}\n${r.stdout}${r.stderr}`);
          if (!json || code === EXIT.OK || c.report) continue;
          const doc = JSON.parse(r.stdout) as { error?: { code?: string; message?: string } };
          assert.ok(doc.error?.message, `${c.what}: --json prints {"error": …} on stdout: ${r.stdout}`);
          if (c.code) assert.equal(doc.error.code, c.code, c.what);
          assert.equal(r.stderr, '', `${c.what}: --json prints nothing on stderr`);
        }
      }
      if (ran === 0) this.skip(); // every case needs root and runuser to act as an unprivileged user
    });
  }
});
