// Startup fencing through the daemons (StaticCluster hub, fake kernel trees): node 3 of three is
// down when the cluster forms. Node 2's daemon starts first (it sees the cluster form); node 1's
// joins the running daemon group later and takes node 2's list of unseen nodes. No lockspace
// starts anywhere until node 3 is fenced, once, by node 1 (the lowest live daemon).
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeBackend } from '../../lib/kernel/backend.js';
import { DlmDaemon } from '../../lib/stack/daemon/daemon.js';
import { InjectedUevents } from '../../lib/stack/daemon/injectedUevents.js';
import { StaticCluster } from '../../lib/stack/membership/static.js';
import { until } from '../support/until.js';

const LS = '5747A27F5E4C4B0FA11D0E5A7A1B2C3D';


describe('o2stack daemon: startup fencing (node 3 down when the cluster forms; node 1 joins late)', function () {
  this.timeout(20000);
  let dir: string;
  const daemons = new Map<number, DlmDaemon>();
  const uevents = new Map<number, InjectedUevents>();
  const root = (id: number) => join(dir, `n${id}`);
  const read = (id: number, p: string) => (existsSync(join(root(id), p)) ? readFileSync(join(root(id), p), 'utf8') : undefined);
  const fences = () => (existsSync(join(dir, 'fence.log')) ? readFileSync(join(dir, 'fence.log'), 'utf8') : '');

  after(async function () {
    for (const d of daemons.values()) await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the late joiner inherits the unseen node; nothing starts before node 3 is fenced, once, by node 1', async function () {
    dir = mkdtempSync(join(tmpdir(), 'o2d-startup-'));
    writeFileSync(join(dir, 'fence.sh'), `#!/bin/sh\n{ cat; echo "by=$by"; } >> ${join(dir, 'fence.log')}\n`);
    chmodSync(join(dir, 'fence.sh'), 0o755);
    const cluster = new StaticCluster({ nodes: [1, 2, 3].map((i) => ({ nodeid: i, name: `n${i}`, addr: `192.0.2.${i}` })), down: [3] });
    const start = async (id: number) => {
      mkdirSync(join(root(id), 'sys/kernel/config/dlm'), { recursive: true });
      const ue = new InjectedUevents();
      const logs: string[] = [];
      const d = new DlmDaemon({
        backend: new NativeBackend({ root: root(id), fakeTree: true }),
        clusterName: 'demo',
        nodes: [1, 2, 3].map((i) => ({ name: `n${i}`, nodeid: i, addresses: [`192.0.2.${i}`] })),
        membership: cluster.source(id),
        groups: true,
        monitorPath: null,
        uevents: ue,
        socketPath: null,
        fenceAgent: join(dir, 'fence.sh'),
        fenceArgs: { by: `n${id}` },
        postJoinDelayMs: 400,
        log: (l) => logs.push(l),
      });
      await d.start();
      daemons.set(id, d);
      uevents.set(id, ue);
      return logs;
    };
    const logs2 = await start(2);
    await new Promise((r) => setTimeout(r, 50));
    const logs1 = await start(1);
    for (const id of [1, 2]) {
      mkdirSync(join(root(id), 'sys/kernel/dlm', LS), { recursive: true });
      uevents.get(id)!.lockspace('online', LS);
    }
    // n1 learned the list from n2 (it could not know it by itself)
    await until(() => logs1.some((l) => /startup fencing as node 2 sees it: node 3 not seen/.test(l)), "n1 taking n2's unseen list");
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(read(1, `sys/kernel/dlm/${LS}/event_done`), undefined, 'n1 joined before node 3 was fenced');
    assert.equal(read(2, `sys/kernel/dlm/${LS}/event_done`), undefined, 'n2 joined before node 3 was fenced');
    await until(() => read(1, `sys/kernel/dlm/${LS}/event_done`) === '0' && read(2, `sys/kernel/dlm/${LS}/event_done`) === '0', 'both joins answered after the fence', 10000);
    assert.equal((fences().match(/node=3/g) ?? []).length, 1, fences());
    assert.match(fences(), /by=n1/);
    assert.ok(logs2.some((l) => /post-join delay \(400 ms\) over: node 3 never joined/.test(l)));
  });
});
