// The bench runner (`npm run bench` = bench/report.ts) must not break silently: one fast bench,
// one run, its --json document checked for shape, and a bad --only refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const report = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'bench/report.ts', ...args], { cwd: repo, encoding: 'utf8', timeout: 60000 });

describe('bench/report.ts (npm run bench)', function () {
  this.timeout(60000);
  it('--only control --runs 1 --json: one document with the date, the machine and the control figures, each with its target', function () {
    const r = report(['--only', 'control', '--runs', '1', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      date: string;
      machine: { cpu: string; cores: number; node: string; kernel: string };
      runs: number;
      command: string;
      rows: { bench: string; figure: string; label: string; unit: string; values: number[]; median: number; min: number; max: number; target: string | null; met: boolean | null }[];
      failures: unknown[];
    };
    assert.ok(!Number.isNaN(Date.parse(doc.date)), doc.date);
    assert.equal(doc.machine.node, process.version);
    assert.ok(doc.machine.cores >= 1 && doc.machine.cpu.length > 0 && doc.machine.kernel.startsWith('Linux'));
    assert.equal(doc.runs, 1);
    assert.equal(doc.command, 'npm run bench -- --runs 1 --only control');
    assert.deepEqual(doc.failures, []);
    assert.deepEqual(doc.rows.map((x) => x.figure).sort(), ['callsPerSec', 'p50us', 'p99us']);
    for (const row of doc.rows) {
      assert.equal(row.bench, 'control');
      assert.equal(row.values.length, 1);
      assert.ok(Number.isFinite(row.median) && row.min <= row.median && row.median <= row.max, JSON.stringify(row));
      assert.ok(row.label.length > 0 && row.unit.length > 0);
    }
    const p99 = doc.rows.find((x) => x.figure === 'p99us')!;
    assert.equal(p99.target, '< 1000 †');
    assert.equal(p99.met, p99.median < 1000);
  });

  it('--only with an unknown benchmark: exit 2 naming the known ones', function () {
    const r = report(['--only', 'nope']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--only nope: no such benchmark; one of apply, .*vm-plock/);
  });
});
