// Concurrent edits of one cluster.conf by separate o2stack processes (the built CLI): the lock
// covers the read-modify-write, so every run's node lands, with a number of its own, and the file
// is whole at every moment.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseClusterConf } from '../../lib/config/clusterConf.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'dist', 'o2stack.cjs');
const CONF = 'cluster:\n\tnode_count = 1\n\tname = demo\n\nnode:\n\tip_port = 7777\n\tip_address = 192.0.2.1\n\tnumber = 0\n\tname = n0\n\tcluster = demo\n';

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    // bounded: a run that hangs is killed (by its own PID) and fails the test
    const t = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

describe('concurrent o2stack node add (built CLI, 20 processes)', function () {
  this.timeout(120_000);
  let dir: string;
  before(function () {
    if (!existsSync(bin)) this.skip(); // not built: `npm run build` makes dist/
  });
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'o2s-conc-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('all 20 nodes land with distinct numbers, the file is never torn, and the result is a serial order', async () => {
    const conf = join(dir, 'cluster.conf');
    writeFileSync(conf, CONF);
    const N = 20;
    let reads = 0;
    let running = true;
    // a reader polling the file all along: every version it sees parses, whole
    const reader = (async () => {
      for (let i = 0; running && i < 100_000; i++) {
        const text = readFileSync(conf, 'utf8');
        const c = parseClusterConf(text).clusters[0]!;
        assert.equal(Number(/node_count = (\d+)/.exec(text)?.[1]), c.nodes.length, `torn or inconsistent file:\n${text}`);
        reads++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const runs = await Promise.all(
      Array.from({ length: N }, (_, i) => run(['node', 'add', `n${i + 1}`, '--ip', `192.0.2.${i + 10}`, '--config', conf, '--json'])),
    );
    running = false;
    await reader;
    for (const r of runs) assert.equal(r.code, 0, r.err);
    const reported = runs.map((r) => JSON.parse(r.out).added as { name: string; number: number });
    const nodes = parseClusterConf(readFileSync(conf, 'utf8')).clusters[0]!.nodes;
    assert.equal(nodes.length, N + 1, 'a node was lost');
    // serial order: each run took the lowest free number at its turn, so the numbers are 0..N
    assert.deepEqual(nodes.map((n) => n.number).sort((a, b) => a - b), Array.from({ length: N + 1 }, (_, i) => i));
    for (const r of reported) assert.equal(nodes.find((n) => n.name === r.name)?.number, r.number, `${r.name}: printed number differs from the file`);
    assert.ok(reads > 0);
  });
});
