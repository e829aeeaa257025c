// The daemon's --fence-pacemaker runner: fences a node through Pacemaker's fencer with its CLI
// (stonith_admin), planned by lib/model/pacemakerFence.ts. Steps: the node's Pacemaker name
// (corosync's nodelist name, else `crm_node -l`), `stonith_admin --last NAME` (already fenced after
// its failure: done), else `stonith_admin --fence NAME --tolerance 5s --timeout S` (--reboot
// instead when the cluster's stonith-action is reboot, Pacemaker's default: see stonithVerb). One attempt per
// call, like runFenceAgent (fence.ts), with the same outcome shape: the daemon logs it, counts it
// and multicasts the result exactly as for an agent.
import { spawn } from 'node:child_process';
import { PacemakerFenceError, pacemakerNodeName, parseCrmNodeList, parseStonithLast, planPacemakerFence, stonithVerb, type CrmNode } from '../../model/pacemakerFence.js';
import type { FenceOutcome } from './fence.js';

export interface PacemakerFenceRequest {
  nodeid: number;
  /** when the node was declared dead (ms since the epoch) */
  failTime: number;
  /** every node, with corosync's nodelist names */
  nodes: readonly { nodeid: number; name?: string }[];
  /** the whole run's limit (the fencer gets this less 5 s); default 60 s */
  timeoutMs?: number;
  /** the programs (tests put fakes here); default found on PATH */
  stonithAdmin?: string;
  crmNode?: string;
  crmAttribute?: string;
}

interface Run {
  code: number | null;
  signal: string | null;
  out: string;
  err: string;
  error?: string;
}

/** Runs a command to its end, or SIGKILLs it at the deadline; never throws. TZ=UTC: see parseStonithLast. */
function run(cmd: string, args: string[], deadline: number): Promise<Run> {
  return new Promise((resolve) => {
    let out = '';
    let err = '';
    let done = false;
    const finish = (r: Run) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
    child.stdout.on('data', (b: Buffer) => {
      if (out.length < 65536) out += b.toString('utf8');
    });
    child.stderr.on('data', (b: Buffer) => {
      if (err.length < 4096) err += b.toString('utf8');
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      finish({ code: null, signal: 'SIGKILL', out, err, error: `timeout: ${cmd} ${args.join(' ')} still running at the fence time limit` });
    }, Math.max(1, deadline - Date.now()));
    child.on('error', (e) => finish({ code: null, signal: null, out, err, error: `${cmd}: ${e.message}` }));
    child.on('close', (code, signal) => finish({ code, signal, out, err }));
  });
}

const status = (r: Run) => r.error ?? (r.signal ? `signal ${r.signal}` : `exit ${r.code}`);

export async function runPacemakerFence(r: PacemakerFenceRequest): Promise<FenceOutcome & { name?: string; already?: boolean }> {
  const t0 = Date.now();
  const timeoutMs = r.timeoutMs ?? 60_000;
  const deadline = t0 + timeoutMs;
  const stonithAdmin = r.stonithAdmin ?? 'stonith_admin';
  const transcript: string[] = [];
  const fail = (detail: string, name?: string) => ({ ok: false, detail, ms: Date.now() - t0, output: transcript.join('\n').slice(0, 4096), ...(name !== undefined ? { name } : {}) });

  let name: string;
  try {
    let crm: CrmNode[] | undefined;
    if (!r.nodes.find((n) => n.nodeid === r.nodeid)?.name) {
      const c = await run(r.crmNode ?? 'crm_node', ['-l'], deadline);
      transcript.push(`crm_node -l: ${status(c)}`);
      if (c.code === 0) crm = parseCrmNodeList(c.out);
      else transcript.push(c.err.trim());
    }
    name = pacemakerNodeName(r.nodeid, r.nodes, crm);
  } catch (e) {
    if (e instanceof PacemakerFenceError) return fail(`${e.message} (fix: ${e.hint})`);
    throw e;
  }

  const last = await run(stonithAdmin, ['--last', name], deadline);
  transcript.push(`stonith_admin --last ${name}: ${status(last)}: ${last.out.trim()}${last.err.trim() ? ` ${last.err.trim()}` : ''}`);
  let lastFenced: number | null;
  if (last.code !== 0) return fail(`stonith_admin --last ${name} failed (${status(last)}): is Pacemaker's fencer running (crm_mon -1)?`, name);
  try {
    lastFenced = parseStonithLast(last.out, name);
  } catch (e) {
    if (e instanceof PacemakerFenceError) return fail(e.message, name);
    throw e;
  }

  // the cluster's stonith-action: the same verb as Pacemaker's own fencing of the node (merged)
  const attr = await run(r.crmAttribute ?? 'crm_attribute', ['--type', 'crm_config', '--name', 'stonith-action', '--query', '--quiet'], deadline);
  const verb = stonithVerb(attr.code === 0 ? attr.out : undefined);
  transcript.push(`crm_attribute stonith-action: ${status(attr)}: ${attr.out.trim() || '(unset: reboot)'}`);
  const plan = planPacemakerFence({ name, failTime: r.failTime, lastFenced, timeoutMs, verb });
  if (plan.action === 'already-fenced') return { ok: true, detail: `already fenced: ${plan.why}`, ms: Date.now() - t0, output: transcript.join('\n'), name, already: true };

  const f = await run(stonithAdmin, plan.args!, deadline);
  transcript.push(`stonith_admin ${plan.args!.join(' ')}: ${status(f)}: ${(f.out + f.err).trim()}`);
  const ok = f.code === 0;
  return { ok, detail: `stonith_admin ${verb} ${name}: ${status(f)} (${plan.why})`, ms: Date.now() - t0, output: transcript.join('\n').slice(0, 4096), name };
}
