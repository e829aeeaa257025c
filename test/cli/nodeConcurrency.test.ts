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

  it('node add and o2cb add-node mixed (10 + 10 processes), with configure on a defaults file beside: nothing lost', async () => {
    const conf = join(dir, 'cluster.conf');
    const defaults = join(dir, 'o2cb');
    writeFileSync(conf, CONF);
    const runs = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => run(['node', 'add', `a${i}`, '--ip', `192.0.2.${i + 10}`, '--config', conf])),
      ...Array.from({ length: 10 }, (_, i) => run(['o2cb', '--config-file', conf, 'add-node', '--ip', `192.0.2.${i + 30}`, 'demo', `b${i}`])),
      ...Array.from({ length: 6 }, (_, i) => run(['configure', '--defaults', defaults, ...[['--enabled', 'true'], ['--boot-cluster', 'demo'], ['--heartbeat-threshold', '31'], ['--idle-timeout-ms', '30000'], ['--keepalive-delay-ms', '2000'], ['--reconnect-delay-ms', '2000']][i]!])),
    ]);
    for (const r of runs) assert.equal(r.code, 0, r.err);
    const nodes = parseClusterConf(readFileSync(conf, 'utf8')).clusters[0]!.nodes;
    assert.equal(nodes.length, 21);
    assert.equal(new Set(nodes.map((n) => n.number)).size, 21, 'two nodes share a number');
    // each configure set a different variable: all six are there whatever the order
    const text = readFileSync(defaults, 'utf8');
    for (const v of ['O2CB_ENABLED=true', 'O2CB_BOOTCLUSTER=demo', 'O2CB_HEARTBEAT_THRESHOLD=31', 'O2CB_IDLE_TIMEOUT_MS=30000', 'O2CB_KEEPALIVE_DELAY_MS=2000', 'O2CB_RECONNECT_DELAY_MS=2000']) assert.ok(text.includes(v), `${v} lost:\n${text}`);
  });
});
