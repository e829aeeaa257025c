// `npm run fuzz` itself (test/fuzz/fuzz.ts), run for a few inputs: its options parse (a default
// that failed its own check once made the script print its usage and exit 2 on every run), each
// target passes a handful of inputs, and --from replays the same sequence from an input on.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const fuzz = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'test/fuzz/fuzz.ts', ...args], { cwd: repo, encoding: 'utf8', timeout: 120_000 });

describe('npm run fuzz (the script)', () => {
  it('every target takes 20 inputs and the run ends "N passed, 0 failed"', function () {
    this.timeout(150_000);
    const r = fuzz(['--inputs', '20']);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const line = /^(\d+) passed, 0 failed$/m.exec(r.stdout);
    assert.ok(line && Number(line[1]) >= 10, r.stdout);
    assert.doesNotMatch(r.stdout, /^FAIL/m);
  });

  it('--from I runs inputs I.. only; a bad option says what is wrong and exits 2', function () {
    this.timeout(60_000);
    const r = fuzz(['--only', 'uevent', '--inputs', '3000', '--from', '2990']);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /uevent datagram: 10 inputs/);
    const bad = fuzz(['--from', 'x']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--from "x": a whole number/);
  });
});
