// The real 6.1 kernel as the test VM presents it: modules, configfs, /sys/fs/ocfs2, /sys/fs/o2cb.
// Read through the project's addon (NativeBackend), so a broken read path fails here too.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectCode, realBackend, requireTestVm } from '../support/kernel.js';
import { CONFIGFS, SYS_FS_O2CB, SYS_FS_OCFS2 } from '../../../lib/model/paths.js';

describe('kernel basics (Debian 12 6.1 kernel in a VM)', function () {
  before(requireTestVm);

  it('runs the 6.1 kernel', () => {
    assert.match(readFileSync('/proc/sys/kernel/osrelease', 'utf8'), /^6\.1\.\d+-\d+-amd64\n$/);
  });

  it('has the cluster modules loaded', () => {
    const loaded = new Set(readFileSync('/proc/modules', 'utf8').split('\n').map((l) => l.split(' ')[0]));
    for (const m of ['configfs', 'ocfs2_nodemanager', 'ocfs2_stackglue', 'ocfs2', 'ocfs2_dlm', 'ocfs2_stack_o2cb',
      'ocfs2_stack_user', 'ocfs2_dlmfs', 'dlm']) {
      assert.ok(loaded.has(m), `module ${m} is not in /proc/modules`);
    }
  });

  it('has configfs mounted at /sys/kernel/config, with the cluster and dlm subsystems', () => {
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' '));
    assert.ok(mounts.some((m) => m[1] === CONFIGFS && m[2] === 'configfs'), 'no configfs mount at /sys/kernel/config');
    const k = realBackend();
    const names = k.list(CONFIGFS).map((e) => `${e.name}:${e.type}`).sort();
    assert.ok(names.includes('cluster:dir'), `configfs has ${names.join(' ')}`);
    assert.ok(names.includes('dlm:dir'), `configfs has ${names.join(' ')}`);
    assert.deepEqual(k.list(`${CONFIGFS}/cluster`), [], 'no o2nm cluster exists at boot');
  });

  it('/sys/fs/ocfs2 reads the real values', () => {
    const k = realBackend();
    const files = k.list(SYS_FS_OCFS2).map((e) => e.name).sort();
    assert.deepEqual(files, ['active_cluster_plugin', 'cluster_stack', 'dlm_recover_callback_support',
      'loaded_cluster_plugins', 'max_locking_protocol']);
    assert.equal(k.read(`${SYS_FS_OCFS2}/cluster_stack`), 'o2cb\n');
    // Both plugins are registered (the VM loads ocfs2_stack_o2cb, then ocfs2_stack_user), but
    // 6.1's show function never advances its buffer: every name is printed at offset 0 while the
    // returned length is the sum of all of them. The last one listed (o2cb, the first registered)
    // is what remains, followed by NULs up to 10 bytes. Readers must cut at the first NUL.
    assert.equal(k.read(`${SYS_FS_OCFS2}/loaded_cluster_plugins`), 'o2cb\n\0\0\0\0\0');
    assert.equal(k.read(`${SYS_FS_OCFS2}/active_cluster_plugin`), '', 'no stack is active without a mount');
    assert.equal(k.read(`${SYS_FS_OCFS2}/max_locking_protocol`), '1.0\n');
    assert.equal(k.read(`${SYS_FS_OCFS2}/dlm_recover_callback_support`), '1\n');
  });

  it('/sys/fs/o2cb/interface_revision is 5', () => {
    assert.equal(realBackend().read(`${SYS_FS_O2CB}/interface_revision`), '5\n');
  });

  it('reads several attributes in one batch, in order', () => {
    const k = realBackend();
    const r = k.batch([
      { op: 'read', path: `${SYS_FS_OCFS2}/cluster_stack` },
      { op: 'read', path: `${SYS_FS_O2CB}/interface_revision` },
      { op: 'read', path: `${SYS_FS_OCFS2}/max_locking_protocol` },
    ]);
    assert.equal(r.completed, 3);
    assert.deepEqual(r.reads.map((b) => b?.toString()), ['o2cb\n', '5\n', '1.0\n']);
  });

  it('reports ENOENT with the kernel path for a missing attribute', () => {
    const k = realBackend();
    const e = expectCode(() => k.read(`${SYS_FS_OCFS2}/no_such_attribute`), 'ENOENT');
    assert.equal(e.path, `${SYS_FS_OCFS2}/no_such_attribute`);
    assert.equal(k.tryRead(`${SYS_FS_OCFS2}/no_such_attribute`), undefined);
    assert.equal(k.exists(`${CONFIGFS}/cluster`), true);
  });

  it("o2stack daemon --legacy refuses to start on this kernel (DOWN crashes it), names the fix, and configures nothing", () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
    writeFileSync('/tmp/legacy-members', 'vm=1@192.0.2.1\nother=2@192.0.2.2\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'lib/cli/main.ts'), 'daemon', '--legacy', '--members', '/tmp/legacy-members', '--node-id', '1', '--cluster', 'demo', '--fence-manual', '--socket', '/tmp/legacy.sock'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 1, `exit ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, /legacy mode .*refused on this kernel/);
    assert.match(r.stderr, /without --legacy/);
    assert.equal(existsSync('/sys/kernel/config/dlm/cluster'), false, 'fs/dlm was configured');
    assert.equal(existsSync('/tmp/legacy.sock'), false, 'a control socket was left behind');
  });
});
