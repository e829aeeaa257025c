// `o2stack helpers install|remove --root DIR`: the OCF agents written with this CLI's absolute
// invocation (the installed agent runs the real CLI: validate-all, monitor), a foreign file refuses
// before anything is written, remove leaves what is not ours.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/runCli.js';

const OCF = 'usr/lib/ocf/resource.d/o2stack';

describe('o2stack helpers install/remove: the Pacemaker agents', function () {
  this.timeout(60000);
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'o2s-helpers-ocf-'));
    mkdirSync(join(root, 'sbin'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('installs both agents (0755, our marker, the CLI by absolute path); the installed agent runs the CLI; again: nothing to do; remove: gone', async function () {
    const r = await runCli(['helpers', 'install', '--root', root, '--json']);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { ocf: { dir: string; actions: { op: string }[] } };
    assert.deepEqual(j.ocf.actions.map((a) => a.op), ['mkdir', 'write-agent', 'write-agent']);
    for (const name of ['o2stack-daemon', 'o2stack-o2cb']) {
      const p = join(root, OCF, name);
      assert.equal(statSync(p).mode & 0o777, 0o755);
      const text = readFileSync(p, 'utf8');
      assert.match(text.split('\n')[1]!, /^# o2stack-helper: OCF resource agent ocf:o2stack:/);
      assert.doesNotMatch(text, /@O2STACK_|@MARKER@/);
    }
    // the installed agent calls the real CLI (--version) from a bare environment
    const v = spawnSync(join(root, OCF, 'o2stack-daemon'), ['validate-all'], { encoding: 'utf8', cwd: '/', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', OCF_ROOT: join(root, 'none') } });
    assert.equal(v.status, 0, v.stderr);
    const m = spawnSync(join(root, OCF, 'o2stack-daemon'), ['monitor'], { encoding: 'utf8', cwd: '/', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', OCF_ROOT: join(root, 'none'), OCF_RESKEY_socket: join(root, 'none.sock'), OCF_RESKEY_pidfile: join(root, 'none.pid') } });
    assert.equal(m.status, 7, `monitor without a daemon: OCF_NOT_RUNNING (${m.stderr})`);
    const again = await runCli(['helpers', 'install', '--root', root]);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /o2stack-daemon is already o2stack's ocf:o2stack:o2stack-daemon: nothing to do/);
    const rm = await runCli(['helpers', 'remove', '--root', root]);
    assert.equal(rm.code, 0, rm.err);
    assert.equal(existsSync(join(root, OCF)), false);
  });

  it('a foreign file in the provider directory: install refused (exit 1) before mount.ocfs2 is written; remove leaves it', async function () {
    mkdirSync(join(root, OCF), { recursive: true });
    writeFileSync(join(root, OCF, 'o2stack-o2cb'), '#!/bin/sh\n# someone else\n');
    const r = await runCli(['helpers', 'install', '--root', root]);
    assert.equal(r.code, 1);
    assert.match(r.err, /o2stack-o2cb is not o2stack's .*not replaced, and no agent installed/);
    assert.equal(existsSync(join(root, 'sbin/mount.ocfs2')), false, 'nothing written');
    assert.equal(existsSync(join(root, OCF, 'o2stack-daemon')), false);
    const ok = await runCli(['helpers', 'install', '--root', root, '--no-ocf']);
    assert.equal(ok.code, 0, ok.err);
    const rm = await runCli(['helpers', 'remove', '--root', root]);
    assert.equal(rm.code, 0, rm.err);
    assert.equal(readFileSync(join(root, OCF, 'o2stack-o2cb'), 'utf8'), '#!/bin/sh\n# someone else\n');
  });
});
