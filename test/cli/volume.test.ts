// o2stack volume inspect | list, in-process through main() and once as a child process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../lib/cli/main.js';
import { debugfsStat, debugfsStats, makeImage, ocfs2ToolsMissing } from '../support/ocfs2Images.js';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array) => ((out += String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => ((err += String(s)), true)) as typeof process.stderr.write;
  const saved = process.exitCode;
  process.exitCode = undefined;
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
    process.exitCode = saved;
  }
}

describe('cli: o2stack volume', function () {
  let dir = '';
  const img: Record<string, string> = {};
  before(function () {
    const why = ocfs2ToolsMissing();
    if (why) {
      console.log(`    (skipped: ${why})`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'o2s-cli-vol-'));
    img.o2cb = makeImage(dir, { name: 'o2cb', label: 'test', stack: 'o2cb', cluster: 'demo' });
    img.global = makeImage(dir, { name: 'global', label: 'glob', stack: 'o2cb', cluster: 'demo', globalHeartbeat: true });
    img.pcmk = makeImage(dir, { name: 'pcmk', label: 'pv', stack: 'pcmk', cluster: 'hacluster' });
    img.local = makeImage(dir, { name: 'local', label: 'loc', local: true });
    img.classic = makeImage(dir, { name: 'classic', label: 'old' });
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('inspect --json: the fields ocfs2-tools reports, and the heartbeat region', async function () {
    const r = await run(['volume', 'inspect', '--json', img.o2cb!]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as Record<string, unknown>;
    const d = debugfsStats(img.o2cb!);
    const hb = debugfsStat(img.o2cb!, '//heartbeat').records[0]!;
    assert.equal(j.uuid, d.uuid);
    assert.equal(j.label, 'test');
    assert.equal(j.blockSize, 4096);
    assert.equal(j.clusterSize, 4096);
    assert.equal(j.slots, 4);
    assert.deepEqual(j.stack, { name: 'o2cb', clusterName: 'demo', globalHeartbeat: false });
    assert.ok((j.features as string[]).includes('clusterinfo'));
    assert.deepEqual(j.heartbeat, { region: d.uuid, startBlock: hb.blkno * 8, blocks: 255, blockBytes: 512, fsBlock: hb.blkno, clusters: hb.clusters });
    assert.equal(j.heartbeatError, null);
  });

  it('inspect --json: stack null for local and classic volumes; pcmk and global stacks', async function () {
    const stackOf = async (p: string) => (JSON.parse((await run(['--json', 'volume', 'inspect', p])).out) as { stack: unknown }).stack;
    assert.equal(await stackOf(img.local!), null);
    assert.equal(await stackOf(img.classic!), null);
    assert.deepEqual(await stackOf(img.pcmk!), { name: 'pcmk', clusterName: 'hacluster', globalHeartbeat: false });
    assert.deepEqual(await stackOf(img.global!), { name: 'o2cb', clusterName: 'demo', globalHeartbeat: true });
  });

  it('inspect for people', async function () {
    let r = await run(['volume', 'inspect', img.global!]);
    assert.equal(r.code, 0);
    assert.match(r.out, /OCFS2 volume "glob"/);
    assert.match(r.out, /stack\s+o2cb, cluster demo, global heartbeat/);
    assert.match(r.out, /heartbeat\s+region [0-9A-F]{32}: start \d+, 255 blocks of 512 bytes/);
    r = await run(['volume', 'inspect', img.classic!]);
    assert.match(r.out, /none recorded: classic o2cb/);
    r = await run(['volume', 'inspect', img.local!]);
    assert.match(r.out, /local \(non-clustered\)/);
  });

  it('unknown device: ENOENT with the path and the fix (text and --json)', async function () {
    let r = await run(['volume', 'inspect', '/nonexistent/disk']);
    assert.equal(r.code, 1);
    assert.match(r.err, /ENOENT: open '\/nonexistent\/disk' failed — check the path; o2stack volume list/);
    r = await run(['volume', 'inspect', '--json', '/nonexistent/disk']);
    assert.equal(r.code, 1);
    const e = (JSON.parse(r.out) as { error: Record<string, unknown> }).error;
    assert.equal(e.code, 'ENOENT');
    assert.equal(e.path, '/nonexistent/disk');
  });

  it('not OCFS2: says what was found, with size and probe offsets, and the fix', async function () {
    const p = join(dir, 'blank.img');
    writeFileSync(p, Buffer.alloc(2 << 20));
    let r = await run(['volume', 'inspect', p]);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`${p}: not an OCFS2 volume: 2\\.0 MiB \\(2097152 bytes\\), no OCFSV2 signature at 1K/2K/4K/8K; found zeros`));
    assert.match(r.err, /fix: check the device name/);
    r = await run(['volume', 'inspect', '--json', p]);
    const e = (JSON.parse(r.out) as { error: Record<string, unknown> }).error;
    assert.equal(e.code, 'E_SB_NOT_OCFS2');
    assert.equal(e.size, 2 << 20);
    assert.equal(e.device, p);
    assert.ok(typeof e.hint === 'string');
  });

  it('corrupt superblock: E_SB_CORRUPT with fsck as the fix', async function () {
    const p = join(dir, 'bad.img');
    const { readFileSync } = await import('node:fs');
    const b = readFileSync(img.o2cb!).subarray(0, 1 << 20);
    const c = Buffer.from(b);
    c.writeUInt32LE(25, 8192 + 0xfc); // cluster size bits
    writeFileSync(p, c);
    const r = await run(['volume', 'inspect', p]);
    assert.equal(r.code, 1);
    assert.match(r.err, /corrupt OCFS2 superblock at byte 8192: cluster size bits 25/);
    assert.match(r.err, /fix: run fsck\.ocfs2 -f/);
  });

  it('list and inspect UUID=/LABEL= over --root (a fake /sys and /dev)', async function () {
    const root = join(dir, 'root');
    for (const [name, image] of [
      ['nvme0n1', img.o2cb!],
      ['vdb', img.pcmk!],
      ['loop0', null],
    ] as const) {
      const sys = join(root, 'sys/devices/virtual/block', name);
      mkdirSync(join(sys, 'queue'), { recursive: true });
      writeFileSync(join(sys, 'size'), image ? `${(64 << 20) / 512}\n` : '0\n');
      writeFileSync(join(sys, 'queue/logical_block_size'), '512\n');
      mkdirSync(join(root, 'sys/class/block'), { recursive: true });
      symlinkSync(sys, join(root, 'sys/class/block', name));
      mkdirSync(join(root, 'dev'), { recursive: true });
      if (image) symlinkSync(image, join(root, 'dev', name));
    }
    let r = await run(['--root', root, 'volume', 'list', '--json']);
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse(r.out) as { volumes: { device: string; label: string; stack: unknown }[]; scanned: number; empty: number };
    assert.deepEqual(
      s.volumes.map((v) => [v.device, v.label]),
      [
        ['/dev/nvme0n1', 'test'],
        ['/dev/vdb', 'pv'],
      ],
    );
    assert.equal(s.scanned, 3);
    assert.equal(s.empty, 1);
    r = await run(['--root', root, 'volume', 'list']);
    assert.match(r.out, /^DEVICE\s+STACK\s+CLUSTER\s+F\s+UUID\s+LABEL$/m);
    assert.match(r.out, /^\/dev\/vdb\s+pcmk\s+hacluster\s+[0-9A-F]{32}\s+pv$/m);
    assert.match(r.out, /3 block devices scanned, 1 empty, 0 not OCFS2/);
    r = await run(['--root', root, 'volume', 'inspect', '--json', 'LABEL=pv']);
    assert.equal((JSON.parse(r.out) as { device: string }).device, '/dev/vdb');
    const uuid = debugfsStats(img.o2cb!).uuid;
    r = await run(['--root', root, 'volume', 'inspect', `UUID=${uuid}`]);
    assert.match(r.out, /^\/dev\/nvme0n1: OCFS2 volume "test"/);
    r = await run(['--root', root, 'volume', 'inspect', 'LABEL=nope']);
    assert.equal(r.code, 1);
    assert.match(r.err, /no OCFS2 volume with LABEL=nope\n {2}fix: o2stack volume list/);
  });

  it('runs as a program: node --import tsx lib/cli/main.ts volume inspect --json IMG', function () {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', 'volume', 'inspect', '--json', img.pcmk!], { encoding: 'utf8', cwd: new URL('../..', import.meta.url).pathname });
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { uuid: string; stack: unknown; heartbeat: { blocks: number } };
    assert.equal(j.uuid, debugfsStats(img.pcmk!).uuid);
    assert.deepEqual(j.stack, { name: 'pcmk', clusterName: 'hacluster', globalHeartbeat: false });
    assert.equal(j.heartbeat.blocks, 255);
  });
});
