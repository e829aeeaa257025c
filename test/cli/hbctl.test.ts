// The unmount helper wrapper must run in the kernel's bare environment (cwd /, minimal PATH).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hbCtlWrapper } from '../../lib/cli/commands/mount.js';

describe('hb-ctl wrapper', function () {
  it('runs o2stack hb-ctl from / with the environment the kernel gives its helpers', function () {
    const dir = mkdtempSync(join(tmpdir(), 'o2s-hbctl-'));
    try {
      const script = join(dir, 'o2stack-hb-ctl');
      writeFileSync(script, hbCtlWrapper(), { mode: 0o755 });
      const r = spawnSync(script, ['-I', '-u', '0123456789abcdef0123456789abcdef'], { cwd: '/', env: { HOME: '/', PATH: '/sbin:/bin:/usr/sbin:/usr/bin' }, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      // no o2cb cluster on this host: the region is reported with no references
      assert.equal(r.stdout, '0123456789ABCDEF0123456789ABCDEF: 0 refs\n');
      const usage = spawnSync(script, ['-S'], { cwd: '/', env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8', timeout: 30_000 });
      assert.equal(usage.status, 2, usage.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
