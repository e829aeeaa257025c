// The native attr surface on the host's filesystems: error shape, exact writes, batches, async.
// (Its configfs behaviour is covered by the contract suite in the VM.)
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { BatchError, NativeBackend } from '../../lib/kernel/backend.js';
import { KernelError } from '../../lib/kernel/errors.js';
import { makeFakeKernelTree } from '../../lib/kernel/fakeTree.js';
import { loadNative } from '../../lib/kernel/native.js';

describe('native attr surface', function () {
  let dir: string;
  const attr = () => loadNative().attr;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'o2s-attr-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("throws the library's KernelError (handed to the addon at load), fs-shaped: code, negative errno, syscall, path", function () {
    const p = join(dir, 'missing');
    assert.throws(() => attr().readAttr(p), (e: Error & Record<string, unknown>) => {
      assert.ok(e instanceof KernelError, 'built by the addon as a KernelError, no re-wrapping');
      assert.equal(e.code, 'ENOENT');
      assert.equal(e.errno, -2);
      assert.equal(e.syscall, 'read');
      assert.equal(e.path, p);
      assert.equal(e.message, `ENOENT: read '${p}' failed`);
      return true;
    });
    assert.throws(() => attr().writeAttr(p, 'x'), { code: 'ENOENT', syscall: 'open' });
    assert.throws(() => attr().rmdir(dir + '/nope'), { code: 'ENOENT', syscall: 'rmdir' });
    assert.throws(() => attr().list(p), { code: 'ENOENT', syscall: 'opendir' });
  });

  it('writes exactly the bytes given, without truncating or creating files', function () {
    const p = join(dir, 'a');
    writeFileSync(p, 'old-longer-content');
    assert.equal(attr().writeAttr(p, Buffer.from('7777\n')), 5);
    // no O_TRUNC on real attributes: a regular file keeps its tail, proving no truncation or rewrite happened
    assert.equal(readFileSync(p, 'utf8'), '7777\nonger-content');
    assert.throws(() => attr().writeAttr(join(dir, 'new'), 'x'), { code: 'ENOENT' });
  });

  it('reads return Buffers with the exact contents', function () {
    const p = join(dir, 'b');
    writeFileSync(p, Buffer.from([0x31, 0x0a, 0x00, 0xff]));
    assert.deepEqual([...attr().readAttr(p)], [0x31, 0x0a, 0x00, 0xff]);
  });

  it('readUnder reads many attributes relative to one directory: text, null where absent, errors with the path', function () {
    mkdirSync(join(dir, 'n1'));
    writeFileSync(join(dir, 'n1', 'num'), '1\n');
    writeFileSync(join(dir, 'top'), 'x');
    const names = ['n1/num', 'missing', 'top', 'n1/missing', 'top/under-a-file'];
    assert.deepEqual(attr().readUnder(dir, names.join('\0')), ['1\n\0\0x\0\0', [1, 3, 4]]);
    assert.deepEqual(attr().readUnder(dir, ''), ['', []]);
    assert.throws(() => attr().readUnder(dir, 'top\0n1'), (e: NodeJS.ErrnoException) => e.code === 'EISDIR' && e.syscall === 'read' && e.path === join(dir, 'n1'));
    assert.throws(() => attr().readUnder(join(dir, 'nope'), 'x'), { code: 'ENOENT', syscall: 'open' });
    // the backend's form: one value per name, undefined where absent
    const b = new NativeBackend({ root: '/', fakeTree: true });
    assert.deepEqual(b.readUnder(dir, names), ['1\n', undefined, 'x', undefined, undefined]);
    assert.deepEqual(b.readUnder(dir, []), []);
  });

  it('lists entries with their types and inode numbers, without . and ..', function () {
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'f'), '');
    symlinkSync('f', join(dir, 'l'));
    const [names, types, inos] = attr().list(dir);
    assert.equal(names.split('\0').length, 3);
    assert.equal(types.length, 3);
    assert.equal(inos.length, 3);
    const got = new NativeBackend({ root: '/', fakeTree: true }).list(dir).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(got.map(({ name, type }) => ({ name, type })), [{ name: 'd', type: 'dir' }, { name: 'f', type: 'file' }, { name: 'l', type: 'link' }]);
    for (const e of got) assert.equal(e.ino, lstatSync(join(dir, e.name)).ino, `d_ino of ${e.name} is its inode`);
    assert.deepEqual(new NativeBackend({ root: '/', fakeTree: true }).list(join(dir, 'd')), [], 'an empty directory');
  });

  it('a batch runs in order, returns reads, and stops at the first failure', function () {
    writeFileSync(join(dir, 'x'), 'X\n');
    const r = attr().batch([
      { op: 'mkdir', path: join(dir, 'n') },
      { op: 'read', path: join(dir, 'x') },
      { op: 'read', path: join(dir, 'absent'), missingOk: true },
    ]);
    assert.equal(r.completed, 3);
    assert.equal(r.reads[0], undefined);
    assert.equal(r.reads[1]!.toString(), 'X\n');
    assert.equal(r.reads[2], undefined);
    assert.throws(
      () => attr().batch([{ op: 'rmdir', path: join(dir, 'n') }, { op: 'mkdir', path: join(dir, 'n/a/b') }, { op: 'mkdir', path: join(dir, 'z') }]),
      (e: Error & Record<string, unknown>) => e.code === 'ENOENT' && e.step === 1 && e.completed === 1 && e.syscall === 'mkdir',
    );
    assert.throws(() => attr().batch([{ op: 'bogus' as 'read', path: dir }]), TypeError);
  });

  it('batchAsync runs off the main thread and rejects with the same shape', async function () {
    const r = await attr().batchAsync([{ op: 'mkdir', path: join(dir, 'm') }, { op: 'read', path: join(dir, 'nope'), missingOk: true }]);
    assert.equal(r.completed, 2);
    await assert.rejects(attr().batchAsync([{ op: 'mkdir', path: join(dir, 'm') }]), { code: 'EEXIST', step: 0, completed: 0 });
  });

  it('writefd opens the device and writes its descriptor number', function () {
    const dev = join(dir, 'dev.img');
    writeFileSync(dev, Buffer.alloc(4096));
    const target = join(dir, 'dev');
    writeFileSync(target, '');
    attr().batch([{ op: 'writefd', path: target, device: dev }]);
    assert.match(readFileSync(target, 'utf8'), /^\d+$/);
    assert.throws(() => attr().batch([{ op: 'writefd', path: target, device: join(dir, 'nodev') }]), { code: 'ENOENT', syscall: 'open' });
  });

  it('NativeBackend maps paths under a root and reports kernel paths in errors', function () {
    const root = makeFakeKernelTree(join(dir, 'root'));
    const b = new NativeBackend({ root });
    assert.equal(b.fakeTree, true);
    b.mkdir('/sys/kernel/config/cluster/c');
    b.write('/sys/kernel/config/cluster/c/node/n/num', '1\n'); // fake tree: parents and files are created
    assert.equal(b.read('/sys/kernel/config/cluster/c/node/n/num'), '1\n');
    assert.throws(() => b.read('/sys/kernel/config/cluster/c/nope'), (e: unknown) => e instanceof KernelError && e.path === '/sys/kernel/config/cluster/c/nope');
    assert.throws(() => b.batch([{ op: 'read', path: '/x' }]), (e: unknown) => e instanceof BatchError && e.path === '/x' && e.failedOp.path === '/x');
    assert.equal(b.tryRead('/sys/kernel/config/cluster/zz'), undefined);
    // fake tree rmdir behaves like configfs: attributes and default groups go, user-made groups block
    assert.throws(() => b.rmdir('/sys/kernel/config/cluster/c'), { code: 'ENOTEMPTY' });
    b.rmdir('/sys/kernel/config/cluster/c/node/n');
    b.rmdir('/sys/kernel/config/cluster/c');
    assert.equal(b.tryList('/sys/kernel/config/cluster/c'), undefined);
  });

  it("loads in a worker thread too; error classes are per env (a raw addon there throws fs-shaped Errors with strerror's text)", async function () {
    const code = `
      const { parentPort } = require('node:worker_threads');
      const a = process.env.O2STACK_ADDON ? require(process.env.O2STACK_ADDON) : require('node-gyp-build')(${JSON.stringify(process.cwd())});
      let err;
      try { a.attr.readAttr(${JSON.stringify(join(dir, 'missing'))}); } catch (e) { err = { name: e.name, code: e.code, errno: e.errno, message: e.message }; }
      parentPort.postMessage({ listed: a.surfaces.includes('attr') && a.attr.list(${JSON.stringify(dir)}).length >= 0, err });`;
    const got = await new Promise<{ listed: boolean; err: Record<string, unknown> }>((resolve, reject) => {
      const w = new Worker(code, { eval: true, env: process.env });
      w.once('message', resolve);
      w.once('error', reject);
    });
    assert.equal(got.listed, true);
    assert.deepEqual(got.err, { name: 'Error', code: 'ENOENT', errno: -2, message: `ENOENT: No such file or directory, read '${join(dir, 'missing')}'` });
  });
});

describe('native attr surface: paths with a NUL byte', function () {
  it('are refused (EINVAL) before any syscall: the kernel would act on the path cut at the NUL', function () {
    const root = mkdtempSync(join(tmpdir(), 'o2s-nul-'));
    try {
      const k = new NativeBackend({ root, fakeTree: true });
      mkdirSync(join(root, 'sys/kernel/config/cluster/demo/node'), { recursive: true });
      for (const call of [() => k.mkdir('/sys/kernel/config/cluster/demo/node/..\0x'), () => k.write('/sys/kernel/config/cluster/demo/node/a\0b/num', '1'), () => k.batch([{ op: 'mkdir', path: '/sys/kernel/config/cluster/demo/node/..\0x' }])]) {
        assert.throws(call, (e: unknown) => e instanceof KernelError && e.code === 'EINVAL' && /NUL byte/.test(e.hint ?? ''));
      }
      assert.deepEqual(readdirSync(join(root, 'sys/kernel/config/cluster/demo/node')), []);
      assert.deepEqual(readdirSync(join(root, 'sys/kernel/config/cluster/demo')), ['node']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
