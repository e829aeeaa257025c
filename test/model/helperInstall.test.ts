// Planning `o2stack helpers install|remove` against what /sbin/mount.ocfs2 holds: nothing, ours,
// ocfs2-tools' binary (by dpkg or by its content), another program, a symlink.
import assert from 'node:assert/strict';
import { backupPath, type ExistingFile, type HelperFacts, HelperRefusal, manifestPath, planInstall, planRemove } from '../../lib/model/helperInstall.js';

const STATE = '/var/lib/o2stack/helpers';
const now = new Date('2026-12-10T10:00:00Z');
const file = (o: Partial<ExistingFile> = {}): ExistingFile => ({ kind: 'file', ours: false, sameAsNew: false, package: null, ocfs2ToolsContent: false, mode: 0o755, sha256: 'aa', ...o });
const facts = (existing: ExistingFile | null, o: Partial<HelperFacts> = {}): HelperFacts => ({ path: '/sbin/mount.ocfs2', realPath: '/usr/sbin/mount.ocfs2', existing, manifest: null, backupPresent: false, ...o });
const refused = (fn: () => unknown, code: string, hint: RegExp) => assert.throws(fn, (e: unknown) => e instanceof HelperRefusal && e.code === code && hint.test(e.hint));

describe('helpers install: the plan', function () {
  it('nothing there: write the helper at the resolved path, record that nothing was there', function () {
    const p = planInstall(facts(null), {}, STATE, now);
    assert.deepEqual(p.actions, [
      { op: 'write-manifest', path: manifestPath(STATE), manifest: { version: 1, path: '/usr/sbin/mount.ocfs2', original: null, installedAt: '2026-12-10T10:00:00.000Z' } },
      { op: 'write-helper', path: '/usr/sbin/mount.ocfs2' },
    ]);
  });

  it('ocfs2-tools\' mount.ocfs2 (dpkg owner, or by content): refused without --replace-ocfs2-tools, which backs it up first', function () {
    for (const e of [file({ package: 'ocfs2-tools' }), file({ ocfs2ToolsContent: true })]) {
      refused(() => planInstall(facts(e), {}, STATE, now), 'E_HELPER_OCFS2_TOOLS', /--replace-ocfs2-tools .*kept in \/var\/lib\/o2stack\/helpers\/mount\.ocfs2\.orig/);
      refused(() => planInstall(facts(e), { replaceExisting: true }, STATE, now), 'E_HELPER_OCFS2_TOOLS', /--replace-ocfs2-tools/);
    }
    const p = planInstall(facts(file({ package: 'ocfs2-tools', sha256: 'beef', mode: 0o755 })), { replaceOcfs2Tools: true }, STATE, now);
    assert.deepEqual(p.actions.map((a) => a.op), ['backup', 'write-manifest', 'write-helper']);
    assert.deepEqual(p.actions[0], { op: 'backup', from: '/usr/sbin/mount.ocfs2', to: backupPath(STATE), mode: 0o755 });
    const m = p.actions[1] as Extract<(typeof p.actions)[number], { op: 'write-manifest' }>;
    assert.deepEqual(m.manifest.original, { kind: 'file', backup: backupPath(STATE), mode: 0o755, package: 'ocfs2-tools', sha256: 'beef' });
    assert.ok(p.explain.some((l) => /ocfs2-tools' mount\.ocfs2 \(package ocfs2-tools\): kept in/.test(l)));
    assert.ok(p.explain.some((l) => /a new ocfs2-tools package puts its own/.test(l)));
  });

  it('another program: refused without --replace-existing', function () {
    refused(() => planInstall(facts(file({ package: 'other-pkg' })), { replaceOcfs2Tools: true }, STATE, now), 'E_HELPER_EXISTS', /--replace-existing/);
    assert.equal(planInstall(facts(file()), { replaceExisting: true }, STATE, now).actions[0]!.op, 'backup');
  });

  it('ours already: nothing to do, or a rewrite that keeps the earlier backup', function () {
    assert.equal(planInstall(facts(file({ ours: true, sameAsNew: true })), {}, STATE, now).noop, true);
    const p = planInstall(facts(file({ ours: true })), {}, STATE, now);
    assert.deepEqual(p.actions, [{ op: 'write-helper', path: '/usr/sbin/mount.ocfs2' }]);
  });

  it('a symlink is recorded (not copied); a directory is left alone', function () {
    const p = planInstall(facts(file({ kind: 'symlink', linkTarget: '/opt/x/mount.ocfs2' })), { replaceExisting: true }, STATE, now);
    assert.deepEqual(p.actions.map((a) => a.op), ['write-manifest', 'write-helper']);
    refused(() => planInstall(facts(file({ kind: 'other' })), { replaceExisting: true }, STATE, now), 'E_HELPER_NOT_FILE', /ls -l/);
  });
});

describe('helpers remove: the plan', function () {
  const manifest = { version: 1 as const, path: '/usr/sbin/mount.ocfs2', original: { kind: 'file' as const, backup: backupPath(STATE), mode: 0o755, package: 'ocfs2-tools', sha256: 'beef' }, installedAt: now.toISOString() };

  it('restores the backed-up file when ours is there and the backup is intact, then drops the state', function () {
    const p = planRemove(facts(file({ ours: true }), { manifest, backupPresent: true, backupSha256: 'beef' }), STATE);
    assert.deepEqual(p.actions, [
      { op: 'restore-file', from: backupPath(STATE), to: '/usr/sbin/mount.ocfs2', mode: 0o755 },
      { op: 'remove-state', paths: [manifestPath(STATE), backupPath(STATE)] },
    ]);
  });

  it('refuses to restore a missing or changed backup, naming the package to reinstall', function () {
    refused(() => planRemove(facts(file({ ours: true }), { manifest, backupPresent: false }), STATE), 'E_HELPER_NO_BACKUP', /apt-get install --reinstall ocfs2-tools/);
    refused(() => planRemove(facts(file({ ours: true }), { manifest, backupPresent: true, backupSha256: 'dead' }), STATE), 'E_HELPER_BACKUP_CHANGED', /apt-get install --reinstall ocfs2-tools/);
  });

  it('nothing was there: ours is deleted; a symlink is made again', function () {
    const none = { ...manifest, original: null };
    assert.deepEqual(planRemove(facts(file({ ours: true }), { manifest: none }), STATE).actions, [{ op: 'unlink', path: '/usr/sbin/mount.ocfs2' }, { op: 'remove-state', paths: [manifestPath(STATE)] }]);
    const link = { ...manifest, original: { kind: 'symlink' as const, target: '/opt/x/mount.ocfs2', package: null } };
    assert.deepEqual(planRemove(facts(file({ ours: true }), { manifest: link }), STATE).actions[0], { op: 'restore-symlink', target: '/opt/x/mount.ocfs2', path: '/usr/sbin/mount.ocfs2' });
  });

  it('someone else\'s file there now (a package upgrade): left alone, the stale backup goes; no manifest and not ours: nothing', function () {
    const p = planRemove(facts(file({ package: 'ocfs2-tools' }), { manifest, backupPresent: true, backupSha256: 'beef' }), STATE);
    assert.deepEqual(p.actions, [{ op: 'remove-state', paths: [manifestPath(STATE), backupPath(STATE)] }]);
    assert.match(p.explain[0]!, /no longer o2stack's: left as it is/);
    assert.equal(planRemove(facts(file({ package: 'ocfs2-tools' })), STATE).noop, true);
    assert.equal(planRemove(facts(null), STATE).noop, true);
    assert.deepEqual(planRemove(facts(file({ ours: true })), STATE).actions, [{ op: 'unlink', path: '/usr/sbin/mount.ocfs2' }]);
  });
});
