// The fence hook: runs an agent the way dlm_controld does (docs/user-stack-daemon.md#fence-agents):
// stdin gets key=value lines (the configured extra arguments, then `node=<id>` and
// `fail_time=<unix seconds>`), exit status 0 = the node is fenced, anything else (or a signal, or
// the time limit) = failure. One attempt per call, bounded by timeoutMs (the agent is SIGKILLed by
// its pid then); the daemon's model decides about further rounds.
import { spawn } from 'node:child_process';

export interface FenceRequest {
  agent: string;
  nodeid: number;
  /** when the node was declared dead (ms since the epoch) */
  failTime: number;
  /** extra key=value arguments, written before node= and fail_time= */
  args?: Record<string, string>;
  timeoutMs?: number;
}

export interface FenceOutcome {
  ok: boolean;
  /** exit status, or the signal, or 'timeout' / 'spawn error' */
  detail: string;
  ms: number;
  /** the agent's output (stdout and stderr, at most 4 KiB) */
  output: string;
}

export function fenceInput(r: Pick<FenceRequest, 'nodeid' | 'failTime' | 'args'>): string {
  const lines = Object.entries(r.args ?? {}).filter(([k]) => k !== 'node' && k !== 'fail_time').map(([k, v]) => `${k}=${v}`);
  lines.push(`node=${r.nodeid}`, `fail_time=${Math.floor(r.failTime / 1000)}`);
  return lines.join('\n') + '\n';
}

export function runFenceAgent(r: FenceRequest): Promise<FenceOutcome> {
  const t0 = Date.now();
  const timeoutMs = r.timeoutMs ?? 60_000;
  return new Promise((resolve) => {
    let out = '';
    let settled = false;
    const finish = (ok: boolean, detail: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ok, detail, ms: Date.now() - t0, output: out });
    };
    const child = spawn(r.agent, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const take = (b: Buffer) => {
      if (out.length < 4096) out += b.toString('utf8').slice(0, 4096 - out.length);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.stdin.on('error', () => undefined); // an agent that does not read its stdin
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      finish(false, `timeout after ${timeoutMs} ms`);
    }, timeoutMs);
    child.on('error', (e) => finish(false, `spawn error: ${e.message}`));
    child.on('close', (code, signal) => finish(code === 0, signal ? `signal ${signal}` : `exit ${code}`));
    child.stdin.end(fenceInput(r));
  });
}
