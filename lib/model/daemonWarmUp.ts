// A rehearsal of the daemon's event handling on a scratch model, run once at start: two nodes, a
// lockspace joined through its group's start barrier, the peer's death (quorum drop, group
// change, fencing, comm removal, restart), its return, and the leave. The first real node death
// then runs code V8 has already compiled and profiled instead of compiling it on the spot, which
// on a slow machine (a TCG VM) is most of the time the daemon spends on it. Pure: the scratch
// model's actions are fed back (starts delivered, fences acknowledged), never executed.
import type { DlmMember } from './dlm.js';
import { DlmControlModel, type DaemonAction, type DaemonEvent } from './dlmDaemon.js';
import type { GroupMember, GroupMemberChange } from './membership.js';

export interface WarmUpResult {
  events: number;
  actions: number;
  /** the scenario reached a restarted lockspace after the death, as a real recovery does */
  recovered: boolean;
}

/** Runs the rehearsal `rounds` times (each on a fresh model); local node 1, peer 2. */
export function warmUpDaemonModel(opts: { legacy?: boolean; rounds?: number } = {}): WarmUpResult {
  let events = 0;
  let actions = 0;
  let recovered = true;
  for (let round = 0; round < (opts.rounds ?? 3); round++) {
    const r = rehearse(opts.legacy ?? false);
    events += r.events;
    actions += r.actions;
    recovered &&= r.recovered;
  }
  return { events, actions, recovered };
}

function rehearse(legacy: boolean): WarmUpResult {
  const nodes: DlmMember[] = [
    { nodeid: 1, addresses: ['192.0.2.1'] },
    { nodeid: 2, addresses: ['192.0.2.2'] },
  ];
  const model = new DlmControlModel({ localNodeId: 1, nodes, quorate: true, membership: 'groups', legacy, fenceRetryDelayMs: 0 });
  // an ocfs2 volume's lockspace name (32 hex digits), so the legacy DOWN path runs too
  const ls = '0123456789ABCDEF0123456789ABCDEF';
  const me: GroupMember = { nodeid: 1, pid: 100 };
  const peer: GroupMember = { nodeid: 2, pid: 200 };
  let members: GroupMember[] = [];
  let events = 0;
  let actions = 0;
  let at = 1;
  const queue: DaemonEvent[] = [];
  const feed = (ev: DaemonEvent) => {
    queue.push(ev);
    while (queue.length) {
      const out = model.handle(queue.shift()!);
      events++;
      actions += out.length;
      for (const a of out) echo(a);
    }
  };
  // what the executor and the other nodes would answer
  const echo = (a: DaemonAction) => {
    if (a.type === 'group-send') for (const m of members) queue.push({ type: 'group-message', ls: a.ls, nodeid: m.nodeid, pid: m.pid, data: a.data, at: at++ });
    else if (a.type === 'fence') queue.push({ type: 'fence-result', nodeid: a.nodeid, ok: true, at: at++ });
    else if (a.type === 'down') queue.push({ type: 'down-result', uuid: a.uuid, nodeid: a.nodeid, ok: true, at: at++ });
  };
  const change = (next: GroupMember[], joined: GroupMemberChange[], left: GroupMemberChange[]) => {
    members = next;
    feed({ type: 'group-change', ls, members: next, joined, left, at: at++ });
  };
  feed({ type: 'quorum', quorate: true, at: at++ });
  feed({ type: 'online', ls, at: at++ });
  change([me], [{ ...me, reason: 'join' }], []);
  change([me, peer], [{ ...peer, reason: 'join' }], []);
  // the peer dies: corosync's quorum event, then its group change
  feed({ type: 'node-down', nodeid: 2, at: at++, why: 'left the membership' });
  feed({ type: 'quorum', quorate: true, at: at++ });
  change([me], [], [{ ...peer, reason: 'nodedown' }]);
  const recovered = model.snapshot().lockspaces.some((l) => l.name === ls && l.state === 'running' && l.members.join() === '1');
  // it comes back and mounts again, then this node leaves
  feed({ type: 'node-up', nodeid: 2, at: at++ });
  change([me, peer], [{ ...peer, reason: 'join' }], []);
  feed({ type: 'offline', ls, at: at++ });
  change([peer], [], [{ ...me, reason: 'leave' }]);
  return { events, actions, recovered };
}
