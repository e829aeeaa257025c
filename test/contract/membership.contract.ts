// The MembershipSource contract (lib/model/membership.ts's header says it in words) as tests, run
// against every implementation: StaticCluster on the host (test/stack/membershipContract.test.ts)
// and CorosyncMembership in the network-namespace cluster (test/cluster/membership.cluster.ts,
// one agent process per node). The daemon relies on exactly these: a join shows the joiner (pid
// included) in `joined`; every member ends with the same member list and sees the same sequence of
// changes from there on; messages reach every member, the sender too, in one order that keeps each
// sender's own order; a leave is seen by the others with reason 'leave' and ends the leaver's events.
import assert from 'node:assert/strict';

export interface ContractMemberRef {
  nodeid: number;
  pid: number;
  reason?: string;
}
export type ContractEvent =
  | { kind: 'members'; group: string; members: ContractMemberRef[]; joined: ContractMemberRef[]; left: ContractMemberRef[] }
  | { kind: 'message'; group: string; nodeid: number; pid: number; text: string };

/** One node's membership source, as the contract needs to drive and watch it. */
export interface ContractNode {
  nodeid: number;
  /** the pid its group memberships carry */
  pid: number;
  join(group: string): Promise<void>;
  leave(group: string): Promise<void>;
  send(group: string, text: string): Promise<void>;
  /** the source's sendNow, where it has one (MembershipSource.sendNow is optional) */
  sendNow?(group: string, text: string): boolean;
  quorum(): Promise<{ nodes: number[]; quorate: boolean }>;
  /** every event seen so far, in order */
  events(): ContractEvent[];
}

async function until(cond: () => boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const key = (m: { nodeid: number; pid: number }) => `${m.nodeid}:${m.pid}`;

/**
 * Registers the contract's tests; `nodes()` is called inside them (after the caller's setup). With
 * inline, they are plain tests of the current suite, run where they are registered (mocha runs a
 * nested suite only after all of its parent's tests, which may have broken the cluster by then).
 */
export function membershipContract(name: string, nodes: () => ContractNode[], o: { group: string; timeoutMs: number; messages?: number; inline?: boolean }): void {
  const G = o.group;
  const ofGroup = (n: ContractNode) => n.events().filter((e) => e.group === G);
  const changes = (n: ContractNode) => ofGroup(n).filter((e): e is Extract<ContractEvent, { kind: 'members' }> => e.kind === 'members');

  const title = (t: string) => (o.inline ? `[contract, ${name}] ${t}` : t);
  const register = () => {
    it(title('every node reports the same quorate membership'), async function () {
      const qs = await Promise.all(nodes().map((n) => n.quorum()));
      for (const q of qs) {
        assert.equal(q.quorate, true);
        assert.deepEqual(q.nodes, qs[0]!.nodes);
      }
      assert.deepEqual(qs[0]!.nodes, nodes().map((n) => n.nodeid).sort((a, b) => a - b));
    });

    it(title('a join shows the joiner (with its pid) in `joined`; all end with the same members and, from the last join on, the same changes'), async function () {
      const all = nodes();
      for (const n of all) {
        await n.join(G);
        await until(() => changes(n).some((c) => c.joined.some((j) => key(j) === key(n) && j.reason === 'join')), `node ${n.nodeid}'s own join`, o.timeoutMs);
      }
      const want = all.map((n) => key(n)).sort();
      await until(() => all.every((n) => JSON.stringify(changes(n).at(-1)?.members.map(key).sort()) === JSON.stringify(want)), 'every node with all members', o.timeoutMs);
      const last = all.at(-1)!;
      const fromLast = (n: ContractNode) => {
        const cs = changes(n).map((c) => JSON.stringify([c.members.map(key).sort(), c.joined.map((j) => `${key(j)}/${j.reason}`), c.left.map((l) => `${key(l)}/${l.reason}`)]));
        return cs.slice(cs.findIndex((c) => c.includes(`"${key(last)}/join"`)));
      };
      for (const n of all) assert.deepEqual(fromLast(n), fromLast(last), `node ${n.nodeid} saw other changes than node ${last.nodeid}`);
    });

    it(title("messages reach every member, the sender too, in one order that keeps each sender's order"), async function () {
      const all = nodes();
      const N = o.messages ?? 20;
      const marks = all.map((n) => ofGroup(n).length);
      // where a source has sendNow, every other message goes through it (falling back to send
      // when it says wait): the two paths must keep one order
      const sendOne = (n: ContractNode, i: number): Promise<void> => (n.sendNow && i % 2 === 0 && n.sendNow(G, `${n.nodeid}:${i}`) ? Promise.resolve() : n.send(G, `${n.nodeid}:${i}`));
      await Promise.all(all.map((n) => Promise.all(Array.from({ length: N }, (_x, i) => sendOne(n, i)))));
      const seq = (n: ContractNode, k: number) => ofGroup(n).slice(marks[k]).filter((e): e is Extract<ContractEvent, { kind: 'message' }> => e.kind === 'message').map((e) => `${e.nodeid}/${e.text}`);
      await until(() => all.every((n, k) => seq(n, k).length >= all.length * N), `${all.length * N} messages everywhere`, o.timeoutMs);
      const first = seq(all[0]!, 0);
      all.forEach((n, k) => assert.deepEqual(seq(n, k), first, `node ${n.nodeid} saw another order`));
      for (const s of all) {
        const mine = first.filter((m) => m.startsWith(`${s.nodeid}/`)).map((m) => Number(m.split(':')[1]));
        assert.deepEqual(mine, Array.from({ length: N }, (_x, i) => i), `node ${s.nodeid}'s messages, once each, in send order`);
      }
    });

    it(title("a leave is seen by the others with reason 'leave'; the leaver gets nothing more from the group"), async function () {
      const all = nodes();
      const leaver = all.at(-1)!;
      const others = all.slice(0, -1);
      const marks = others.map((n) => ofGroup(n).length);
      await leaver.leave(G);
      const after = ofGroup(leaver).length;
      await until(() => others.every((n, k) => ofGroup(n).slice(marks[k]).some((e) => e.kind === 'members' && e.left.some((l) => key(l) === key(leaver) && l.reason === 'leave'))), 'the others seeing the leave', o.timeoutMs);
      await others[0]!.send(G, 'after-leave');
      await until(() => others.every((n) => ofGroup(n).some((e) => e.kind === 'message' && e.text === 'after-leave')), 'the message after the leave', o.timeoutMs);
      assert.equal(ofGroup(leaver).length, after, 'the leaver got events for a group it left');
    });
  };
  if (o.inline) register();
  else describe(`MembershipSource contract: ${name}`, register);
}
