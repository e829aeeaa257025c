import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
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

  it('writes a new file atomically with mode 0644 whatever the umask, and leaves no temp or lock file', async () => {
    const p = join(dir, 'cluster.conf');
    const old = process.umask(0o077);
    try {
      await writeConfigFileAtomic(p, 'new\n');
    } finally {
      process.umask(old);
    }
    assert.equal(readFileSync(p, 'utf8'), 'new\n');
    assert.equal(statSync(p).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(dir), ['cluster.conf']);
  });

  it('an existing file keeps its mode (0600 stays 0600), on both write paths', async () => {
    const p = join(dir, 'cluster.conf');
    writeFileSync(p, 'old\n', { mode: 0o600 });
    await writeConfigFileAtomic(p, 'new\n');
    assert.equal(statSync(p).mode & 0o777, 0o600);
    await updateFileAtomic(p, (t) => `${t}more\n`);
    assert.equal(readFileSync(p, 'utf8'), 'new\nmore\n');
    assert.equal(statSync(p).mode & 0o777, 0o600);
  });

  it('writes through a symlinked config: the link stays a link, its target gets the text and keeps its mode', async () => {
    mkdirSync(join(dir, 'real'));
    const target = join(dir, 'real', 'cluster.conf');
    writeFileSync(target, 'old\n', { mode: 0o600 });
    const link = join(dir, 'cluster.conf');
    symlinkSync('real/cluster.conf', link); // relative, as ln -s usually makes them
    const link2 = join(dir, 'second');
    symlinkSync(link, link2); // a chain of links
    await updateFileAtomic(link2, (t) => `${t}new\n`);
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link was replaced by a file');
    assert.ok(lstatSync(link2).isSymbolicLink());
    assert.equal(readFileSync(target, 'utf8'), 'old\nnew\n');
    assert.equal(statSync(target).mode & 0o777, 0o600);
    await writeConfigFileAtomic(link, 'x\n');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(target, 'utf8'), 'x\n');
    assert.deepEqual(readdirSync(dir).sort(), ['cluster.conf', 'real', 'second']);
    assert.deepEqual(readdirSync(join(dir, 'real')), ['cluster.conf'], 'no temp or lock file left beside the target');
  });

  it('a dangling link is written at the file it names; a loop of links is a clear error', async () => {
    const link = join(dir, 'cluster.conf');
    symlinkSync('made.conf', link);
    await writeConfigFileAtomic(link, 'x\n');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(join(dir, 'made.conf'), 'utf8'), 'x\n');
    symlinkSync('b', join(dir, 'a'));
    symlinkSync('a', join(dir, 'b'));
    const e = await rejectsConfig(writeConfigFileAtomic(join(dir, 'a'), 'x'), 'E_CONF_WRITE');
    assert.match(e.message, /ELOOP/);
  });

  it('the same file through a link and by its own path takes one lock', async () => {
    const target = join(dir, 'cluster.conf');
    symlinkSync('cluster.conf', join(dir, 'link'));
    const release = await acquireLock(target);
    try {
      await rejectsConfig(writeConfigFileAtomic(join(dir, 'link'), 'x', { lockTimeoutMs: 100 }), 'E_CONF_LOCKED');
    } finally {
      await release();
    }
  });

  it('removes the temp files of killed writers (dead PIDs) on the next write, and leaves a live one alone', async () => {
    const p = join(dir, 'cluster.conf');
    writeFileSync(p, 'old\n');
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const stale = `.cluster.conf.${dead}.0badc0de.tmp`;
    const live = `.cluster.conf.${process.ppid}.12345678.tmp`; // our parent: alive, not ours
    const other = `.other.conf.${dead}.0badc0de.tmp`; // another file's: not this write's business
    for (const f of [stale, live, other]) writeFileSync(join(dir, f), 'half a wri');
    await writeConfigFileAtomic(p, 'new\n');
    assert.deepEqual(readdirSync(dir).sort(), [live, other, 'cluster.conf'].sort());
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

  it('reports a missing directory as a clear error', async () => {
    const e = await rejectsConfig(writeConfigFileAtomic(join(dir, 'no', 'such', 'cluster.conf'), 'x'), 'E_CONF_LOCK');
    assert.match(e.issues[0]!.hint!, /exists and is writable/);
  });
});
