import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, loadConfigFile, updateFileAtomic, writeConfigFileAtomic } from '../../lib/stack/configFile.js';
import { ConfigError } from '../../lib/model/errors.js';

async function rejectsConfig(p: Promise<unknown>, code: string): Promise<ConfigError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('configuration files on disk', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'o2stack-cf-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads and validates a file of any format, with the path in locations', async () => {
    const p = join(dir, 'c.json');
    writeFileSync(p, '{"name":"web","nodes":[{"name":"a","number":1,"ipAddress":"10.0.0.1"}]}');
    const r = await loadConfigFile(p);
    assert.equal(r.path, p);
    assert.equal(r.format, 'json');
    assert.equal(r.clusters[0]!.nodes[0]!.loc?.file, p);
  });

  it('a missing file is a clear error naming the path and how to create it', async () => {
    const p = join(dir, 'nope', 'cluster.conf');
    const e = await rejectsConfig(loadConfigFile(p), 'E_CONF_MISSING');
    assert.match(e.message, new RegExp(`${p} does not exist`));
    assert.match(e.issues[0]!.hint!, /o2stack config convert --to ocfs2/);
    assert.match(e.issues[0]!.hint!, /o2stack config check/);
  });

  it('reports a directory given as the file', async () => {
    const e = await rejectsConfig(loadConfigFile(dir), 'E_CONF_READ');
    assert.match(e.issues[0]!.hint!, /not a directory/);
  });

  it('writes atomically: a new file 0644 whatever the umask, an existing one keeps its mode; no temp or lock file left', async () => {
    const p = join(dir, 'cluster.conf');
    const old = process.umask(0o077);
    try {
      await writeConfigFileAtomic(p, 'new\n');
      assert.equal(statSync(p).mode & 0o777, 0o644);
      chmodSync(p, 0o600);
      await writeConfigFileAtomic(p, 'newer\n');
    } finally {
      process.umask(old);
    }
    assert.equal(readFileSync(p, 'utf8'), 'newer\n');
    assert.equal(statSync(p).mode & 0o777, 0o600, 'not widened');
    assert.deepEqual(readdirSync(dir), ['cluster.conf']);
  });

  it('serializes concurrent writers: every write completes and the file is one of them, whole', async () => {
    const p = join(dir, 'cluster.conf');
    const texts = Array.from({ length: 12 }, (_, i) => `writer ${i}\n`.repeat(2000));
    await Promise.all(texts.map((t) => writeConfigFileAtomic(p, t)));
    assert.ok(texts.includes(readFileSync(p, 'utf8')));
    assert.deepEqual(readdirSync(dir), ['cluster.conf']);
  });

  it('waits for a live lock holder and gives up after the bounded wait, naming the holder', async () => {
    const p = join(dir, 'cluster.conf');
    writeFileSync(`${p}.lock`, `${process.pid}\n`);
    const t0 = Date.now();
    const e = await rejectsConfig(writeConfigFileAtomic(p, 'x', { lockTimeoutMs: 300 }), 'E_CONF_LOCKED');
    assert.ok(Date.now() - t0 >= 290, 'gave up too early');
    assert.ok(Date.now() - t0 < 3000, 'waited far too long');
    assert.match(e.message, new RegExp(`locked by process ${process.pid}`));
    assert.match(e.issues[0]!.hint!, /remove .*cluster\.conf\.lock/);
    assert.ok(!existsSync(p));
    assert.equal(readFileSync(`${p}.lock`, 'utf8'), `${process.pid}\n`, 'a live lock must not be removed');
  });

  it('proceeds once the holder releases the lock', async () => {
    const p = join(dir, 'cluster.conf');
    const release = await acquireLock(p);
    const w = writeConfigFileAtomic(p, 'after\n', { lockTimeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!existsSync(p), 'wrote while the lock was held');
    await release();
    await w;
    assert.equal(readFileSync(p, 'utf8'), 'after\n');
  });

  it('takes over a stale lock whose PID is dead, and an old empty one', async () => {
    const p = join(dir, 'cluster.conf');
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(`${p}.lock`, `${dead}\n`);
    await writeConfigFileAtomic(p, 'one\n', { lockTimeoutMs: 1000 });
    assert.equal(readFileSync(p, 'utf8'), 'one\n');
    assert.ok(!existsSync(`${p}.lock`));
    writeFileSync(`${p}.lock`, '');
    const past = new Date(Date.now() - 10000);
    utimesSync(`${p}.lock`, past, past);
    await writeConfigFileAtomic(p, 'two\n', { lockTimeoutMs: 1000 });
    assert.equal(readFileSync(p, 'utf8'), 'two\n');
  });

  it('a symlinked file: the link stays a link, the target is written and keeps its mode (0600 stays 0600)', async () => {
    const real = join(dir, 'real.conf');
    const link = join(dir, 'cluster.conf');
    writeFileSync(real, 'old\n', { mode: 0o600 });
    chmodSync(real, 0o600);
    symlinkSync('real.conf', link);
    await writeConfigFileAtomic(link, 'new\n');
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link is still a link');
    assert.equal(readFileSync(real, 'utf8'), 'new\n');
    assert.equal(statSync(real).mode & 0o777, 0o600);
    const next = await updateFileAtomic(link, (t) => `${t}more\n`);
    assert.equal(next, 'new\nmore\n');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(statSync(real).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir).sort(), ['cluster.conf', 'real.conf']);
    // a link loop is an error, not a hang
    symlinkSync('loop2', join(dir, 'loop1'));
    symlinkSync('loop1', join(dir, 'loop2'));
    await rejectsConfig(writeConfigFileAtomic(join(dir, 'loop1'), 'x'), 'E_CONF_WRITE');
  });

  it('a writer killed before its rename leaves a temp file: the next write removes it (its PID is dead), not a live writer\'s', async () => {
    const p = join(dir, 'c.conf');
    writeFileSync(p, 'a\n');
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
    writeFileSync(join(dir, `.c.conf.${dead}.0123abcd.tmp`), 'half');
    writeFileSync(join(dir, `.c.conf.${process.ppid}.0123abcd.tmp`), 'a live writer\'s');
    await writeConfigFileAtomic(p, 'b\n');
    assert.deepEqual(readdirSync(dir).sort(), [`.c.conf.${process.ppid}.0123abcd.tmp`, 'c.conf']);
  });

  it('20 concurrent o2stack node add (the built bin): every node is in the file, numbers distinct, the file whole', async function () {
    const bin = new URL('../../dist/o2stack.cjs', import.meta.url).pathname;
    if (!existsSync(bin)) return this.skip(); // not built: `npm run build`
    this.timeout(60000);
    const p = join(dir, 'cluster.conf');
    writeFileSync(p, 'cluster:\n\tnode_count = 0\n\tname = demo\n');
    const { spawn } = await import('node:child_process');
    const runs = Array.from({ length: 20 }, (_, i) =>
      new Promise<{ code: number | null; err: string }>((res) => {
        const c = spawn(process.execPath, [bin, '--config', p, 'node', 'add', `n${i}`, '--ip', `192.0.2.${i + 1}`], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        c.stderr.on('data', (d: Buffer) => (err += d.toString()));
        c.on('close', (code) => res({ code, err }));
      }),
    );
    const results = await Promise.all(runs);
    for (const r of results) assert.equal(r.code, 0, r.err);
    const text = readFileSync(p, 'utf8');
    const names = [...text.matchAll(/^\tname = (n\d+)$/gm)].map((m) => m[1]).sort();
    assert.deepEqual(names, Array.from({ length: 20 }, (_, i) => `n${i}`).sort());
    const numbers = [...text.matchAll(/^\tnumber = (\d+)$/gm)].map((m) => Number(m[1]));
    assert.equal(new Set(numbers).size, 20, `numbers: ${numbers.join(',')}`);
    assert.match(text, /node_count = 20/);
    assert.deepEqual(readdirSync(dir), ['cluster.conf'], 'no lock or temp file left');
  });

  it('reports a missing directory as a clear error', async () => {
    const e = await rejectsConfig(writeConfigFileAtomic(join(dir, 'no', 'such', 'cluster.conf'), 'x'), 'E_CONF_LOCK');
    assert.match(e.issues[0]!.hint!, /exists and is writable/);
  });
});
