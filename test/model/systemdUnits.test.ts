// The systemd unit templates rendered with absolute paths (lib/model/systemdUnits.ts), and the
// shipped units checked by systemd's own tools when they are on this machine.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UNIT_NAMES, execWord, renderUnit } from '../../lib/model/systemdUnits.js';

const repo = new URL('../../', import.meta.url).pathname;
const template = (name: string) => readFileSync(join(repo, 'systemd', name), 'utf8');

describe('systemd units', function () {
  it('every Exec line of the shipped templates runs the CLI through @O2STACK@ (no PATH lookup, no /usr/bin/env)', function () {
    for (const name of UNIT_NAMES) {
      const t = template(name);
      assert.doesNotMatch(t, /\/usr\/bin\/env/, name);
      for (const line of t.split('\n').filter((l) => /^Exec\w+=/.test(l))) assert.match(line, /^Exec\w+=(@O2STACK@ |[+]?\/)/, `${name}: ${line}`);
    }
  });

  it('renders absolute paths, quoted when they need it; % and $ mean themselves; relative paths and newlines refused', function () {
    const u = renderUnit('ExecStart=@O2STACK@ start\nExecStop=@O2STACK@ stop\n', { node: '/usr/bin/node', cli: '/opt/my apps/o2stack.cjs' });
    assert.match(u, /^ExecStart=\/usr\/bin\/node "\/opt\/my apps\/o2stack.cjs" start$/m);
    assert.match(u, /^ExecStop=\/usr\/bin\/node "\/opt\/my apps\/o2stack.cjs" stop$/m);
    assert.equal(execWord('/a/100%/$HOME'), '/a/100%%/$$HOME');
    assert.throws(() => execWord('node'), /not an absolute path/);
    assert.throws(() => execWord('/a\nExecStartPre=/bin/rm'), /newline/);
    assert.throws(() => renderUnit(u, { node: '/n', cli: '/c' }), /no @O2STACK@/);
  });

  it('the rendered units pass systemd-analyze verify; the daemon\'s exposure is at most 4.0 (OK), o2stack.service\'s at most 7.5', function () {
    const ok = spawnSync('systemd-analyze', ['--version']).status === 0;
    if (!ok) this.skip(); // systemd-analyze is not installed here (apt-get install systemd)
    const dir = mkdtempSync(join(tmpdir(), 'o2s-units-'));
    try {
      const man = join(dir, 'man', 'man8');
      mkdirSync(man, { recursive: true });
      // Documentation=man:o2stack(8) must resolve: the page as `npm run build` makes it
      const page = join(repo, 'dist', 'o2stack.8');
      if (existsSync(page)) copyFileSync(page, join(man, 'o2stack.8'));
      else writeFileSync(join(man, 'o2stack.8'), '.TH O2STACK 8\n');
      for (const name of UNIT_NAMES) writeFileSync(join(dir, name), renderUnit(template(name), { node: process.execPath, cli: join(repo, 'scripts', 'bin.cjs') }));
      // the daemon's unit Requires=corosync.service: on a machine without corosync (a fresh CI
      // machine) verify fails on the missing unit, not on ours; a stand-in is found first in a
      // directory of its own put before the default unit path (the trailing colon keeps it)
      const deps = join(dir, 'deps');
      mkdirSync(deps);
      writeFileSync(join(deps, 'corosync.service'), '[Unit]\nDescription=stand-in for corosync (test)\n[Service]\nExecStart=/bin/true\n');
      const v = spawnSync('systemd-analyze', ['verify', ...UNIT_NAMES], { cwd: dir, encoding: 'utf8', env: { ...process.env, MANPATH: join(dir, 'man'), SYSTEMD_UNIT_PATH: `${deps}:` } });
      assert.equal(v.status, 0, v.stderr + v.stdout);
      assert.equal(v.stderr.trim(), '', 'no warnings');
      for (const [name, max] of [['o2stack-daemon.service', 4.0], ['o2stack.service', 7.5]] as const) {
        const s = spawnSync('systemd-analyze', ['security', '--offline=true', name], { cwd: dir, encoding: 'utf8' });
        const level = /Overall exposure level for \S+: ([\d.]+)/.exec(s.stdout)?.[1];
        assert.ok(level, s.stdout + s.stderr);
        assert.ok(Number(level) <= max, `${name}: exposure ${level} > ${max}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
