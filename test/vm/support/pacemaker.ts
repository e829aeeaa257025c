// Pacemaker inside a test VM (vm/guest-pacemaker.sh: Debian's Pacemaker 2.1 from the host's cache,
// pacemakerd without systemd), for the two-VM suite pacemaker.two: start/stop/logs, crm_mon, and
// the CIB edits made with Pacemaker's own CLI (cibadmin, crm_attribute, crm_resource).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './run.js';

export const GUEST_PACEMAKER = join(root, 'vm', 'guest-pacemaker.sh');
export const PACEMAKER_ROOT = join(process.env.O2STACK_VM_CACHE ?? '/var/cache/o2stack-vm', 'pacemaker-root');
/** Where fence_o2test records what it was asked (on the node that ran it). */
export const FENCE_O2TEST_LOG = '/var/lib/o2stack-test/fence.log';

export function pacemakerAvailable(): boolean {
  return existsSync(join(PACEMAKER_ROOT, 'usr/sbin/pacemakerd'));
}

/** Runs vm/guest-pacemaker.sh, bounded; never throws. */
export function guestPacemaker(args: string[], timeoutMs: number, live = false): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((res) => {
    const c = spawn('bash', [GUEST_PACEMAKER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const take = (d: Buffer) => {
      out += d.toString();
      if (live) process.stdout.write(d); // on the console as it comes (a slow start is visible)
    };
    c.stdout.on('data', take);
    c.stderr.on('data', take);
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      out += `\n(guest-pacemaker.sh ${args.join(' ')}: killed after ${timeoutMs} ms)`;
    }, timeoutMs);
    c.on('close', (code) => {
      clearTimeout(t);
      res({ code, out, ms: Date.now() - t0 });
    });
  });
}

/** A Pacemaker CLI tool (crm_mon, cibadmin, ...), bounded. */
export function pcmk(cmd: string, args: string[], timeoutMs = 120_000): { code: number | null; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

export const crmMon = () => pcmk('crm_mon', ['-1', '-r']).out;

/** The nodes crm_mon -1 lists for a clone's "Started: [ ... ]" line (pacemaker 2.1's text output). */
export function cloneStartedOn(mon: string, clone: string): string[] {
  const lines = mon.split('\n');
  const i = lines.findIndex((l) => l.includes(`Clone Set: ${clone} `));
  if (i < 0) return [];
  for (let j = i + 1; j < lines.length && /^\s{4,}/.test(lines[j]!); j++) {
    const m = /Started: \[ (.*) \]/.exec(lines[j]!);
    if (m) return m[1]!.trim().split(/\s+/);
  }
  return [];
}
