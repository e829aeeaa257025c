// Liveness over the cluster link for static membership: each daemon listens on TCP port
// `port` (default 21065, next to dlm's 21064) of its first address and answers "o2stack <nodeid>";
// every `intervalMs` each peer is probed with a TCP connect (timeout = intervalMs). A peer that
// answered once and then has not answered for `deadMs` is reported dead; a dead peer that answers
// again is reported back. A peer never seen is never reported (nothing is known about it).
// This is a daemon-level liveness check, not a membership protocol: a peer whose daemon stops
// (node still running) is reported dead too, and fencing must make that true.
import { connect, createServer, type Server } from 'node:net';

export interface LivenessOptions {
  localNodeId: number;
  bind: string;
  peers: { nodeid: number; address: string }[];
  port?: number;
  intervalMs?: number;
  deadMs?: number;
  onDead: (nodeid: number, silentMs: number) => void;
  onBack: (nodeid: number) => void;
}

export class LivenessProbe {
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly last = new Map<number, number>();
  private readonly dead = new Set<number>();
  private readonly inflight = new Set<number>();
  readonly port: number;

  constructor(private readonly o: LivenessOptions) {
    this.port = o.port ?? 21065;
  }

  async start(): Promise<void> {
    const server = createServer((s) => {
      s.on('error', () => undefined);
      s.end(`o2stack ${this.o.localNodeId}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.o.bind, () => resolve());
    });
    server.unref();
    this.server = server;
    const interval = this.o.intervalMs ?? 1000;
    this.timer = setInterval(() => this.round(interval), interval);
    this.timer.unref();
    this.round(interval);
  }

  state(): { nodeid: number; lastSeenMsAgo: number | null; dead: boolean }[] {
    const now = Date.now();
    return this.o.peers.map((p) => ({ nodeid: p.nodeid, lastSeenMsAgo: this.last.has(p.nodeid) ? now - this.last.get(p.nodeid)! : null, dead: this.dead.has(p.nodeid) }));
  }

  private round(timeoutMs: number): void {
    const now = Date.now();
    const deadMs = this.o.deadMs ?? 5000;
    for (const p of this.o.peers) {
      const seen = this.last.get(p.nodeid);
      if (seen !== undefined && !this.dead.has(p.nodeid) && now - seen >= deadMs) {
        this.dead.add(p.nodeid);
        this.o.onDead(p.nodeid, now - seen);
      }
      if (this.inflight.has(p.nodeid)) continue;
      this.inflight.add(p.nodeid);
      const s = connect({ host: p.address, port: this.port, localAddress: this.o.bind });
      const done = (ok: boolean) => {
        clearTimeout(t);
        s.destroy();
        this.inflight.delete(p.nodeid);
        if (!ok) return;
        this.last.set(p.nodeid, Date.now());
        if (this.dead.delete(p.nodeid)) this.o.onBack(p.nodeid);
      };
      const t = setTimeout(() => done(false), timeoutMs);
      s.once('connect', () => done(true));
      s.once('error', () => done(false));
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.server?.close();
  }
}
