// vm/common.sh's vm_wait and vm_rc on the host, with a sleeping process standing in for qemu: a
// guest whose command is over (RUNDIR/rc written) but which never powers off is killed after
// VM_HALT_GRACE and its command's status stands; one with no status is killed at the deadline
// and counts as died (125). CI lost 16 minutes and a green run to such a halt (partition.three's
// fenced n3, 2026-12-06).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const common = join(import.meta.dirname, '..', '..', 'vm', 'common.sh');

/** Runs vm_wait on a `sleep 30` "qemu" in bash; returns vm_wait's status, vm_rc's answer, the ms taken and whether the sleeper was left alive. */
function waitOn(opts: { writeRcAfterMs?: number; rc?: string; deadlineMs: number; graceS: number }) {
  const run = mkdtempSync(join(tmpdir(), 'o2s-vmwait-'));
  try {
    const script = `
      set -euo pipefail
      source ${JSON.stringify(common)}
      set +e
      sleep 30 & pid=$!
      ${opts.writeRcAfterMs !== undefined ? `( sleep ${opts.writeRcAfterMs / 1000}; echo ${opts.rc ?? 0} > "$RUN/rc" ) &` : ''}
      t0=$(now_ms)
      vm_wait "$pid" $(( t0 + ${opts.deadlineMs} )) "$RUN"; st=$?
      echo "$st $(vm_rc "$RUN" "$st") $(( $(now_ms) - t0 )) $(kill -0 "$pid" 2>/dev/null && echo alive || echo gone)"
    `;
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, RUN: run, VM_HALT_GRACE: String(opts.graceS) }, timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    const [st, rc, ms, alive] = r.stdout.trim().split('\n').at(-1)!.split(' ');
    return { st: Number(st), rc: Number(rc), ms: Number(ms), alive };
  } finally {
    rmSync(run, { recursive: true, force: true });
  }
}

describe('vm harness: waiting for a VM (vm/common.sh vm_wait, vm_rc)', () => {
  it('a VM whose command exited but which does not power off is killed after VM_HALT_GRACE; the command status stands', () => {
    const r = waitOn({ writeRcAfterMs: 200, rc: '3', deadlineMs: 15_000, graceS: 1 });
    assert.equal(r.st, 123);
    assert.equal(r.rc, 3);
    assert.equal(r.alive, 'gone');
    assert.ok(r.ms >= 1000 && r.ms < 8000, `took ${r.ms} ms (grace 1 s, deadline 15 s)`);
  });

  it('a VM with no command status is killed at the deadline and counts as died (125)', () => {
    const r = waitOn({ deadlineMs: 1500, graceS: 1 });
    assert.equal(r.st, 124);
    assert.equal(r.rc, 125);
    assert.equal(r.alive, 'gone');
  });
});
