// Is dlm_controld running? Then fs/dlm is its business and the o2stack daemon must not touch it.
// Checked two ways: a process whose /proc/<pid>/comm is "dlm_controld", and dlm_controld's
// lockfile /run/dlm_controld/dlm_controld.pid naming a live process.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DLM_CONTROLD_LOCKFILES = ['/run/dlm_controld/dlm_controld.pid', '/var/run/dlm_controld/dlm_controld.pid'];

export function findDlmControld(proc = '/proc', lockfiles = DLM_CONTROLD_LOCKFILES): { pid: number; how: string } | undefined {
  let entries: string[] = [];
  try {
    entries = readdirSync(proc);
  } catch {
    /* no /proc */
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(join(proc, e, 'comm'), 'utf8').trim() === 'dlm_controld') return { pid: Number(e), how: `${proc}/${e}/comm` };
    } catch {
      /* exited meanwhile */
    }
  }
  for (const f of lockfiles) {
    try {
      const pid = Number(readFileSync(f, 'utf8').trim().split(/\s+/)[0]);
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 0);
          return { pid, how: f };
        } catch {
          /* stale lockfile */
        }
      }
    } catch {
      /* none */
    }
  }
  return undefined;
}
