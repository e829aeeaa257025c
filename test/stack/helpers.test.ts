// o2stack helpers install | remove on a scratch root laid out like merged-/usr Debian (/sbin a link
// to usr/sbin) with ocfs2-tools' mount.ocfs2 in place: refused without the flag named for it,
// backed up byte for byte, restored byte for byte with its mode.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HELPER_MARKER } from '../../lib/model/helperInstall.js';
import { installMountHelper, removeMountHelper } from '../../lib/stack/helpers.js';
import { runCli } from '../support/runCli.js';

// an ELF header and the string the real binary carries
const TOOLS = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.from('\0mount.ocfs2\0Revision of OCFS2-Tools is out of date.\0'), Buffer.alloc(64, 0xff)]);
const HELPER = `#!/bin/sh\n${HELPER_MARKER} mount.ocfs2 test\nexec true "$@"\n`;

describe('helpers install and remove (scratch root, merged /usr)', function () {
  let root: string;
  const real = () => join(root, 'usr/sbin/mount.ocfs2');
  const env = (pkg: string | null = 'ocfs2-tools') => ({ root, packageOf: () => pkg });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'o2s-helpers-'));
    mkdirSync(join(root, 'usr/sbin'), { recursive: true });
    symlinkSync('usr/sbin', join(root, 'sbin'));
    writeFileSync(real(), TOOLS);
    chmodSync(real(), 0o755);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('refuses ocfs2-tools\' file without --replace-ocfs2-tools (by dpkg, or by content alone) and leaves it as it was', async function () {
    for (const pkg of ['ocfs2-tools', null]) {
      await assert.rejects(installMountHelper(HELPER, {}, env(pkg)), (e: unknown) => (e as { code?: string }).code === 'E_HELPER_OCFS2_TOOLS' && /--replace-ocfs2-tools/.test((e as { hint: string }).hint));
      assert.deepEqual(readFileSync(real()), TOOLS);
      assert.equal(existsSync(join(root, 'var/lib/o2stack/helpers')), false);
    }
  });

  it('with --replace-ocfs2-tools: the file goes to the backup, ours to /usr/sbin (through the /sbin link); remove puts the original back byte for byte', async function () {
    const r = await installMountHelper(HELPER, { replaceOcfs2Tools: true }, env());
    assert.equal(r.realPath, real());
    assert.equal(readFileSync(real(), 'utf8'), HELPER);
    assert.equal(statSync(real()).mode & 0o777, 0o755);
    assert.ok(lstatSync(join(root, 'sbin')).isSymbolicLink(), '/sbin is still the link');
    assert.deepEqual(readFileSync(join(root, 'var/lib/o2stack/helpers/mount.ocfs2.orig')), TOOLS);
    const m = JSON.parse(readFileSync(join(root, 'var/lib/o2stack/helpers/mount.ocfs2.json'), 'utf8'));
    assert.equal(m.original.package, 'ocfs2-tools');
    assert.match(m.original.sha256, /^[0-9a-f]{64}$/);
    assert.equal((await installMountHelper(HELPER, {}, env())).noop, true, 'a second install changes nothing');
    const u = await removeMountHelper(env());
    assert.match(u.explain[0]!, /restored from .*mount\.ocfs2\.orig \(ocfs2-tools's mount\.ocfs2\)/);
    assert.deepEqual(readFileSync(real()), TOOLS);
    assert.equal(statSync(real()).mode & 0o777, 0o755);
    assert.equal(existsSync(join(root, 'var/lib/o2stack/helpers/mount.ocfs2.orig')), false);
    assert.equal(existsSync(join(root, 'var/lib/o2stack/helpers/mount.ocfs2.json')), false);
    assert.equal((await removeMountHelper(env())).noop, true);
  });

  it('a backup that changed since is not restored (ours stays, the package to reinstall is named)', async function () {
    await installMountHelper(HELPER, { replaceOcfs2Tools: true }, env());
    writeFileSync(join(root, 'var/lib/o2stack/helpers/mount.ocfs2.orig'), 'truncated');
    await assert.rejects(removeMountHelper(env()), (e: unknown) => (e as { code?: string }).code === 'E_HELPER_BACKUP_CHANGED' && /--reinstall ocfs2-tools/.test((e as { hint: string }).hint));
    assert.equal(readFileSync(real(), 'utf8'), HELPER);
  });

  it('nothing there before: install, then remove deletes it again; a symlink is put back as a symlink', async function () {
    rmSync(real());
    await installMountHelper(HELPER, {}, env(null));
    assert.equal(readFileSync(real(), 'utf8'), HELPER);
    await removeMountHelper(env(null));
    assert.equal(existsSync(real()), false);
    symlinkSync('/opt/other/mount.ocfs2', real());
    await assert.rejects(installMountHelper(HELPER, {}, env(null)), (e: unknown) => (e as { code?: string }).code === 'E_HELPER_EXISTS');
    await installMountHelper(HELPER, { replaceExisting: true }, env(null));
    assert.ok(lstatSync(real()).isFile());
    await removeMountHelper(env(null));
    assert.equal(readlinkSync(real()), '/opt/other/mount.ocfs2');
  });

  it('the CLI: refusal exit 1 with the flag in the fix; install writes a script that runs `o2stack mount.ocfs2`', async function () {
    const no = await runCli(['helpers', 'install', '--root', root]);
    assert.equal(no.code, 1);
    assert.match(no.err, /ocfs2-tools' mount\.ocfs2 \(by its content\): not replaced/);
    assert.match(no.err, /fix: o2stack helpers install --replace-ocfs2-tools/);
    const yes = await runCli(['helpers', 'install', '--replace-ocfs2-tools', '--root', root, '--json']);
    assert.equal(yes.code, 0, yes.err);
    assert.equal(JSON.parse(yes.out).realPath, real());
    const script = readFileSync(real(), 'utf8');
    assert.match(script, /^#!\/bin\/sh\n# o2stack-helper: mount\.ocfs2/);
    assert.match(script, /main\.ts' mount\.ocfs2 "\$@"\n$/);
    const rm = await runCli(['helpers', 'remove', '--root', root]);
    assert.equal(rm.code, 0, rm.err);
    assert.deepEqual(readFileSync(real()), TOOLS);
  });
});
