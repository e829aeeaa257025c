// mount.ocfs2's command line (as mount(8) passes it), its options and its exit codes.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkClusterOption, classifyOptions, flagNames, MOUNT_EXIT, MountHelperUsageError, MountOptionError, mountExitCode, MS, mtabLine, parseMountHelperArgs, splitOptions } from '../../lib/model/mountHelper.js';
import { KernelError } from '../../lib/kernel/errors.js';

const usage = (argv: string[], re: RegExp) => assert.throws(() => parseMountHelperArgs(argv), (e: unknown) => e instanceof MountHelperUsageError && e.exitCode === 1 && re.test(e.message));

describe('mount.ocfs2 arguments', function () {
  it('reads what libmount passes: SPEC DIR [-sfnv] [-o OPTIONS] [-t TYPE]', function () {
    assert.deepEqual(parseMountHelperArgs(['/dev/vda', '/mnt/shared', '-o', 'rw,_netdev,noatime']), { spec: '/dev/vda', dir: '/mnt/shared', sloppy: false, fake: false, noMtab: false, verbose: false, options: ['rw', '_netdev', 'noatime'] });
    const all = parseMountHelperArgs(['/dev/vda', '/mnt/x', '-s', '-f', '-n', '-v', '-o', 'ro', '-t', 'ocfs2']);
    assert.deepEqual([all.sloppy, all.fake, all.noMtab, all.verbose, all.options], [true, true, true, true, ['ro']]);
  });

  it('accepts grouped flags, -oOPTS, several -o, flags before the operands, and --', function () {
    const a = parseMountHelperArgs(['-nv', '-onoatime', '-o', 'errors=panic', 'UUID=ABC', '/mnt/x']);
    assert.deepEqual([a.spec, a.dir, a.noMtab, a.verbose, a.options], ['UUID=ABC', '/mnt/x', true, true, ['noatime', 'errors=panic']]);
    const b = parseMountHelperArgs(['-vo', 'ro', '--', '-weird-dev', '/mnt/y']);
    assert.deepEqual([b.spec, b.dir, b.verbose, b.options], ['-weird-dev', '/mnt/y', true, ['ro']]);
    assert.equal(parseMountHelperArgs(['/dev/a', '/b', '-t', 'ocfs2.sub']).spec, '/dev/a');
  });

  it('refuses what it cannot do with exit 1 (usage), saying what', function () {
    usage(['/dev/vda'], /DEVICE and DIR are both needed/);
    usage(['/dev/vda', '/mnt', '/extra'], /too many arguments: \/extra/);
    usage(['/dev/vda', '/mnt', '-o'], /-o needs a value/);
    usage(['/dev/vda', '/mnt', '-x'], /unknown option -x/);
    usage(['/dev/vda', '/mnt', '-t', 'ext4'], /OCFS2 only/);
    usage(['/dev/vda', '/mnt', '-N', '/proc/1/ns/mnt'], /another mount namespace .*nsenter/);
    usage(['/dev/vda', '/mnt', '-o', 'context="a,b'], /unbalanced quote/);
  });

  it('splits options at commas, not inside quotes; never loses or adds a character', function () {
    assert.deepEqual(splitOptions('a,context="x,y",b,,c'), ['a', 'context="x,y"', 'b', 'c']);
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z_=0-9.-]{1,8}$/), { minLength: 1, maxLength: 8 }), (opts) => {
        assert.deepEqual(splitOptions(opts.join(',')), opts);
      }),
    );
  });
});

describe('mount.ocfs2 options', function () {
  it('turns generic options into mount(2) flags, later ones winning', function () {
    const c = classifyOptions(['ro', 'noatime', 'nosuid', 'nodev', 'noexec', 'sync', 'dirsync', 'atime', 'lazytime']);
    assert.equal(c.flags, MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.SYNCHRONOUS | MS.DIRSYNC | MS.LAZYTIME);
    assert.equal(c.readOnly, true);
    assert.deepEqual(c.data, []);
    assert.equal(classifyOptions(['ro', 'rw']).flags, 0);
    assert.deepEqual(flagNames(MS.RDONLY | MS.NOATIME | MS.REMOUNT), ['ro', 'noatime']);
    assert.deepEqual(flagNames(0), ['rw']);
  });

  it('keeps mount(8)/systemd options from the kernel (_netdev noted), passes OCFS2 options as data in order', function () {
    const c = classifyOptions(['defaults', '_netdev', 'nofail', 'x-systemd.automount', 'comment=foo', 'noauto', 'user', 'errors=panic', 'localflocks', 'data=writeback', 'coherency=buffered']);
    assert.deepEqual(c.userspace, ['defaults', '_netdev', 'nofail', 'x-systemd.automount', 'comment=foo', 'noauto', 'user']);
    assert.equal(c.netdev, true);
    assert.deepEqual(c.data, ['errors=panic', 'localflocks', 'data=writeback', 'coherency=buffered']);
    assert.equal(c.flags, 0);
  });

  it('remount is a flag and is reported', function () {
    const c = classifyOptions(['remount', 'ro']);
    assert.equal(c.remount, true);
    assert.equal(c.flags, MS.REMOUNT | MS.RDONLY);
  });

  it('unknown options go to the kernel (which refuses them), or are dropped with -s', function () {
    assert.deepEqual(classifyOptions(['bogus', 'noatime']).data, ['bogus']);
    const s = classifyOptions(['bogus', 'other=1', 'localflocks'], true);
    assert.deepEqual([s.data, s.dropped], [['localflocks'], ['bogus', 'other=1']]);
  });

  it('heartbeat= and cluster_stack= are held back for the check against the disk; nocluster is refused with the alternative', function () {
    const c = classifyOptions(['heartbeat=local', 'noatime']);
    assert.deepEqual([c.heartbeat, c.data], ['local', []]);
    assert.equal(classifyOptions(['cluster_stack=pcmk']).clusterStack, 'pcmk');
    assert.throws(() => classifyOptions(['heartbeat=']), (e: unknown) => e instanceof MountOptionError && e.exitCode === 32 && /needs a value/.test(e.message));
    assert.throws(() => classifyOptions(['nocluster']), (e: unknown) => e instanceof MountOptionError && e.code === 'E_MOUNT_NOCLUSTER' && /tunefs\.ocfs2 -M local/.test(e.hint));
  });

  it('a given cluster option must match the disk', function () {
    checkClusterOption({ heartbeat: 'local' }, 'heartbeat=local', '/dev/vda');
    checkClusterOption({}, 'cluster_stack=pcmk', '/dev/vda');
    checkClusterOption({ clusterStack: 'pcmk' }, 'cluster_stack=pcmk', '/dev/vda');
    for (const [given, needed] of [
      [{ heartbeat: 'none' }, 'heartbeat=local'],
      [{ heartbeat: 'local' }, 'heartbeat=global'],
      [{ heartbeat: 'local' }, 'cluster_stack=pcmk'],
      [{ clusterStack: 'cman' }, 'cluster_stack=pcmk'],
    ] as const) {
      assert.throws(
        () => checkClusterOption(given, needed, '/dev/vda'),
        (e: unknown) => e instanceof MountOptionError && e.code === 'E_MOUNT_CLUSTER_OPTION' && e.message.includes(`needs ${needed}`) && /adds .* itself/.test(e.hint),
      );
    }
  });

  it('writes /etc/mtab lines with the kernel\'s escapes', function () {
    assert.equal(mtabLine('/dev/vda', '/mnt/my dir', ['rw', 'heartbeat=local', '_netdev']), '/dev/vda /mnt/my\\040dir ocfs2 rw,heartbeat=local,_netdev 0 0\n');
  });
});

describe('mount.ocfs2 exit codes (mount(8))', function () {
  const ke = (code: string) => new KernelError({ code, errno: -1, syscall: 'mount', path: '/mnt' }, code);
  it('usage 1, permission 1, refused or failed mount 32, system error 2, a bug 4', function () {
    assert.equal(mountExitCode(new MountHelperUsageError('x')), MOUNT_EXIT.USAGE);
    assert.equal(mountExitCode(ke('EPERM')), 1);
    assert.equal(mountExitCode(ke('EACCES')), 1);
    assert.equal(mountExitCode(ke('EINVAL')), 32);
    assert.equal(mountExitCode(ke('ENOTCONN')), 32);
    assert.equal(mountExitCode(Object.assign(new Error('preflight'), { code: 'E_PREFLIGHT' })), 32);
    assert.equal(mountExitCode(new MountOptionError('E_MOUNT_NOCLUSTER', 'x', 'y')), 32);
    assert.equal(mountExitCode(Object.assign(new Error('no addon'), { code: 'E_NO_ADDON' })), 2);
    assert.equal(mountExitCode(Object.assign(new Error('modprobe'), { code: 'E_MODPROBE' })), 2);
    assert.equal(mountExitCode(ke('ENOMEM')), 2);
    assert.equal(mountExitCode(Object.assign(new Error('mtab'), { exitCode: 16 })), MOUNT_EXIT.FILEIO);
    assert.equal(mountExitCode(new TypeError('x is undefined')), MOUNT_EXIT.SOFTWARE);
    // an exit code that is not mount(8)'s (the CLI's 3 "not running") is not passed through
    assert.equal(mountExitCode(Object.assign(new Error('x'), { exitCode: 3, code: 'E_X' })), 32);
  });
});
