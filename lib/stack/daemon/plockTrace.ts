// A measurement aid, off unless O2STACK_PLOCK_TRACE=1 in the daemon's environment: per-stage
// times (ms, performance.now()) of this node's own POSIX lock requests — device read, multicast
// call, its delivery back, the answer written, and the gap until the kernel's next request — and
// the JavaScript time of each device batch and each delivery. Summaries (n, mean, p10/p50/p90/p99)
// are in `daemon-ctl status` (plocks.trace); SIGUSR2 appends them to /tmp/plock-trace.json and
// starts afresh. bench/vm-plock.sh uses it; nothing is measured when it is off.
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const now = () => performance.now();
type Stage = 'readToSendCall' | 'sendCallToResolved' | 'sendCallToDelivered' | 'deliveredToAnswered' | 'readToAnswered' | 'answeredToNextRead' | 'batchJs' | 'deliverJs' | 'batchSize' | 'deliverDecode' | 'deliverModel' | 'answerCall';

export class PlockTrace {
  readonly on = process.env.O2STACK_PLOCK_TRACE === '1';
  private readonly samples = new Map<Stage, number[]>();
  private readonly byRid = new Map<number, { read: number; send?: number }>();
  private lastAnswer = 0;
  private pendingRead = new Map<object, number>();
  now = now;

  constructor() {
    if (!this.on) return;
    // SIGUSR2: the summary so far appended to /tmp/plock-trace.json, then a fresh start
    process.on('SIGUSR2', () => {
      appendFileSync('/tmp/plock-trace.json', `${JSON.stringify(this.summary())}\n`);
      this.reset();
    });
  }

  add(s: Stage, v: number): void {
    let a = this.samples.get(s);
    if (!a) this.samples.set(s, (a = []));
    if (a.length < 200_000) a.push(v);
  }
  read(req: object, t: number): void {
    this.pendingRead.set(req, t);
    if (this.lastAnswer) {
      this.add('answeredToNextRead', t - this.lastAnswer);
      this.lastAnswer = 0;
    }
  }
  sent(req: object | undefined, rid: number, tCall: number): void {
    const r = req ? this.pendingRead.get(req) : undefined;
    if (req) this.pendingRead.delete(req);
    if (r !== undefined) this.add('readToSendCall', tCall - r);
    this.byRid.set(rid, { read: r ?? tCall, send: tCall });
  }
  resolved(rid: number): void {
    const e = this.byRid.get(rid);
    if (e?.send !== undefined) this.add('sendCallToResolved', now() - e.send);
  }
  delivered(rid: number, t: number): { read: number } | undefined {
    const e = this.byRid.get(rid);
    if (!e) return undefined;
    this.byRid.delete(rid);
    if (e.send !== undefined) this.add('sendCallToDelivered', t - e.send);
    return e;
  }
  answered(tDeliv: number, tRead: number): void {
    const t = now();
    this.add('deliveredToAnswered', t - tDeliv);
    this.add('readToAnswered', t - tRead);
    this.lastAnswer = t;
  }
  summary(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, a] of this.samples) {
      const s = [...a].sort((x, y) => x - y);
      const q = (p: number) => Math.round((s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0) * 1000) / 1000;
      const sum = s.reduce((x, y) => x + y, 0);
      out[k] = { n: s.length, mean: Math.round((sum / s.length) * 1000) / 1000, p10: q(0.1), p50: q(0.5), p90: q(0.9), p99: q(0.99), sum: Math.round(sum) };
    }
    return out;
  }
  reset(): void {
    this.samples.clear();
  }
}
