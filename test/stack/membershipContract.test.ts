// The MembershipSource contract (test/contract/membership.contract.ts) against StaticCluster: three
// sources in one process. The same contract runs against corosync in `npm run test:cluster`.
import { membershipContract, type ContractEvent, type ContractNode } from '../contract/membership.contract.js';
import { StaticCluster, type StaticMembership } from '../../lib/stack/membership/static.js';

const sources: StaticMembership[] = [];
const nodes: ContractNode[] = [];

describe('StaticCluster as a MembershipSource', function () {
  before(async function () {
    const cluster = new StaticCluster({ nodes: [1, 2, 3].map((i) => ({ nodeid: i, name: `n${i}` })) });
    for (const id of [1, 2, 3]) {
      const s = cluster.source(id);
      const events: ContractEvent[] = [];
      s.on('members', (c) => events.push({ kind: 'members', group: c.group, members: c.members, joined: c.joined, left: c.left }));
      s.on('message', (m) => events.push({ kind: 'message', group: m.group, nodeid: m.nodeid, pid: m.pid, text: m.data.toString('utf8') }));
      await s.start();
      sources.push(s);
      nodes.push({
        nodeid: id,
        pid: 1, // static sources use pid 1 (lib/model/membership.ts)
        join: (g) => s.joinGroup(g),
        leave: (g) => s.leaveGroup(g),
        send: (g, t) => s.send(g, t),
        sendNow: (g, t) => s.sendNow(g, t),
        quorum: async () => ({ nodes: s.quorum().nodes, quorate: s.isQuorate() }),
        events: () => events,
      });
    }
  });
  after(async function () {
    for (const s of sources) await s.close();
  });

  membershipContract('StaticCluster (host)', () => nodes, { group: 'o2s:contract', timeoutMs: 5000 });
});
