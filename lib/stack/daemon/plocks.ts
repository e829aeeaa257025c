// The daemon's POSIX-lock service: /dev/dlm_plock (lib/kernel/plock.ts) in, the replicated lock
// tables (lib/model/plockSync.ts) in the lockspaces' process groups, answers out. It is fed group
// changes and messages synchronously, as they are delivered, not through the daemon's event queue:
// the tables must see requests and member changes in the one delivery order, and a lock request
// must not wait behind a lockspace recovery's kernel work.
//
// Nothing may hang: a request is always answered — by the table, with -ENOSYS when plocks are off
// (--no-plocks, static membership), with -ENOLCK when its lockspace is unknown or its multicast
// failed, and every request still pending is answered -ENOLCK when membership is lost or the
// daemon stops.
import { PlockDevice, type PlockRequest } from '../../kernel/plock.js';
import { lockspaceId } from '../../model/dlm.js';
import { lockspaceGroupName } from '../../model/lockspaceGroup.js';
import type { GroupMemberChange, GroupMember, MembershipSource } from '../../model/membership.js';
import { decodePlockMessage, ENOLCK, PlockModel, type PlockAction } from '../../model/plockSync.js';
import { PlockTrace } from './plockTrace.js';

export interface PlockServiceOptions {
  localNodeId: number;
  membership: MembershipSource;
  /** where the device is: default /dev/dlm_plock (or /dev/misc/); {fd} adopts one (tests); null: no device (a fake kernel tree) */
  device?: { paths?: string[]; fd?: number } | null;
  /** set: plocks are off, every request is answered -ENOSYS; the text says why */
  off?: string;
  log: (level: 'info' | 'warn' | 'error', event: string, msg: string, data?: Record<string, unknown>) => void;
}

export class PlockService {
  readonly model: PlockModel<PlockRequest>;
  private device: PlockDevice | undefined;
  private readonly o: PlockServiceOptions;
  readonly trace = new PlockTrace();
  private tDeliv = 0;
  private tReadOf: number | undefined;

  constructor(o: PlockServiceOptions) {
    this.o = o;
    this.model = new PlockModel<PlockRequest>({ localNodeId: o.localNodeId, fsidOf: lockspaceId, ...(o.off !== undefined ? { off: o.off } : {}) });
  }

  /** Opens the device (plocks on or off: off still answers every request at once). Returns the teardown. */
  start(): () => void {
    if (this.o.device === null) {
      this.o.log('info', 'plocks', 'no plock device (fake kernel tree): POSIX locks are not served');
      return () => undefined;
    }
    try {
      this.device = new PlockDevice(this.o.device ?? {});
    } catch (e) {
      const x = e as Error & { code?: string };
      if (x.code !== 'ENOENT') throw e;
      // a dlm without the plock device cannot send POSIX locks anywhere: nothing can hang on it
      this.o.log('warn', 'plocks', `no plock device (${x.message}): this kernel's dlm does not hand POSIX locks to a daemon`);
      return () => undefined;
    }
    const dev = this.device;
    dev.on('requests', (reqs) => {
      if (!this.trace.on) return this.run(this.model.requests(reqs));
      const t = this.trace.now();
      for (const r of reqs) this.trace.read(r, t);
      this.trace.add('batchSize', reqs.length);
      this.run(this.model.requests(reqs));
      this.trace.add('batchJs', this.trace.now() - t);
    });
    dev.on('error', (e) => this.o.log('error', 'plock-device', `${dev.path}: reading stopped (${e.message}): POSIX locks on user-stack volumes will hang until the daemon restarts`, { code: e.code ?? null }));
    dev.ref();
    this.o.log('info', 'plocks', this.model.mode === 'cluster' ? `${dev.path} open: POSIX locks served cluster-wide through the lockspaces' process groups` : `${dev.path} open: POSIX locks are OFF (${this.model.offReason}); every request is answered at once with ENOSYS`, { mode: this.model.mode, device: dev.path });
    return () => {
      this.run(this.model.stop('the daemon stops'));
      dev.close();
      this.device = undefined;
    };
  }

  /** A change of a lockspace group, as delivered. */
  groupChange(ls: string, c: { members: GroupMember[]; joined: GroupMemberChange[]; left: GroupMemberChange[] }): void {
    if (!this.device) return;
    this.run(this.model.groupChange(ls, c));
  }

  /** A message in a lockspace group, as delivered (its bytes): true if it was plock's. */
  message(ls: string, from: { nodeid: number; pid: number }, data: Uint8Array): boolean {
    const t = this.trace.on ? this.trace.now() : 0;
    const m = decodePlockMessage(data);
    if (!m) return false;
    if (this.trace.on && m.type === 'plock' && from.nodeid === this.o.localNodeId) {
      const e = this.trace.delivered(m.rid, t);
      this.tDeliv = t;
      this.tReadOf = e?.read;
    } else this.tReadOf = undefined;
    const t1 = this.trace.on ? this.trace.now() : 0;
    if (this.trace.on) this.trace.add('deliverDecode', t1 - t);
    if ((m.type === 'plock-refused' || m.ls === undefined || m.ls === ls) && this.device) {
      const acts = this.model.message(ls, from, m);
      if (this.trace.on) this.trace.add('deliverModel', this.trace.now() - t1);
      this.run(acts);
    }
    this.tReadOf = undefined;
    if (this.trace.on) this.trace.add('deliverJs', this.trace.now() - t);
    return true;
  }

  /** This node left ls's group. */
  left(ls: string): void {
    this.run(this.model.leave(ls, `this node left the group of ${ls}`));
  }

  /** Membership is gone: answer everything pending and refuse the rest (the daemon exits next). */
  switchOff(why: string): void {
    this.run(this.model.switchOff(why));
  }

  status(): Record<string, unknown> {
    return { ...this.model.summary(), device: this.device?.stats() ?? null, ...(this.trace.on ? { trace: this.trace.summary() } : {}) };
  }

  private run(actions: PlockAction<PlockRequest>[]): void {
    for (const a of actions) {
      if (a.type === 'log') this.o.log(a.level, 'plock', a.msg, a.data);
      else if (a.type === 'answer') this.answer(a.req, a.rv, a.fields);
      else this.send(a.ls, a.data, a.rid);
    }
  }

  private answer(req: PlockRequest, rv: number, fields?: Extract<PlockAction<PlockRequest>, { type: 'answer' }>['fields']): void {
    if (!this.device) return;
    try {
      const ta = this.trace.on ? this.trace.now() : 0;
      this.device.answer(req, rv, fields);
      if (this.trace.on) this.trace.add('answerCall', this.trace.now() - ta);
      if (this.trace.on && this.tReadOf !== undefined) this.trace.answered(this.tDeliv, this.tReadOf);
    } catch (e) {
      this.o.log('error', 'plock-answer', `answer to plock request ${req.seq} (pid ${req.pid}) not written: ${(e as Error).message}`, { code: (e as Error & { code?: string }).code ?? null });
    }
  }

  private send(ls: string, data: string | Uint8Array, rid: number | undefined): void {
    if (this.trace.on && rid !== undefined) {
      const f = (this.model as unknown as { inFlight: Map<number, { req: object }> }).inFlight.get(rid);
      this.trace.sent(f?.req, rid, this.trace.now());
    }
    const m = this.o.membership;
    const group = lockspaceGroupName(ls);
    const bytes = typeof data === 'string' || Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    // at once where the membership can (no promise per POSIX lock); a failure is handled a tick
    // later, as a rejected send() is, not inside the caller's loop over the model's actions
    if (m.sendNow) {
      try {
        if (m.sendNow(group, bytes)) {
          if (this.trace.on && rid !== undefined) this.trace.resolved(rid);
          return;
        }
      } catch (e) {
        queueMicrotask(() => this.sendFailed(ls, rid, e as Error));
        return;
      }
    }
    const p = m.send(group, bytes);
    if (this.trace.on && rid !== undefined) void p.then(() => this.trace.resolved(rid), () => undefined);
    p.catch((e: unknown) => this.sendFailed(ls, rid, e as Error));
  }

  private sendFailed(ls: string, rid: number | undefined, e: Error): void {
    this.o.log('error', 'plock-send', `multicast in ${lockspaceGroupName(ls)} failed: ${e.message}`);
    // an own request that never left is answered now, not left to hang
    if (rid !== undefined) this.run(this.model.notSent(rid, ENOLCK, `multicast failed: ${e.message}`));
  }
}
