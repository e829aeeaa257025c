// --fence-pacemaker end to end on the host: the runner against fake stonith_admin / crm_node
// scripts (what they were asked is logged), and three daemons (fake kernel trees, one process) in
// which a dead node is fenced once through "Pacemaker", or found already fenced, or not fenced
// (the fencer fails: nothing restarts).
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPacemakerFence } from '../../lib/stack/daemon/pacemakerFence.js';
import { FakeDaemonCluster } from '../support/fakeDaemonCluster.js';
import { until } from '../support/until.js';

const LS = '7A1B2C3D4E5F60718293A4B5C6D7E8F9';
const C = 'sys/kernel/config/dlm/cluster';

/** Fake stonith_admin: logs its arguments and TZ; --last prints o.last; --fence/--reboot exit o.fenceRc. crm_attribute prints o.action (unset: exit 6). */
function fakeTools(dir: string, o: { last: string; fenceRc: number; crm?: string; action?: string }) {
  const log = join(dir, 'pcmk.log');
  rmSync(log, { force: true });
  writeFileSync(join(dir, 'stonith_admin'), `#!/bin/sh\necho "TZ=$TZ $*" >> ${log}\ncase "$1" in\n--last) printf '%s\\n' '${o.last}' ;;\n--fence|--reboot) [ ${o.fenceRc} = 0 ] && echo "Node $2 fenced" || echo "Command failed: No route to host" >&2; exit ${o.fenceRc} ;;\n*) exit 2 ;;\nesac\n`);
  writeFileSync(join(dir, 'crm_node'), `#!/bin/sh\necho "crm_node $*" >> ${log}\nprintf '%s\\n' '${o.crm ?? ''}'\n`);
  writeFileSync(join(dir, 'crm_attribute'), o.action === undefined ? '#!/bin/sh\nexit 6\n' : `#!/bin/sh\necho "crm_attribute $*" >> ${log}\necho ${o.action}\n`);
  for (const f of ['stonith_admin', 'crm_node', 'crm_attribute']) chmodSync(join(dir, f), 0o755);
  return { stonithAdmin: join(dir, 'stonith_admin'), crmNode: join(dir, 'crm_node'), crmAttribute: join(dir, 'crm_attribute'), log: () => (existsSync(log) ? readFileSync(log, 'utf8') : '') };
}

describe('--fence-pacemaker: the runner (fake stonith_admin, crm_node)', function () {
  this.timeout(10000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'o2s-pcmk-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('never fenced: --last then --fence NAME --tolerance 5s --timeout 25 (stonith-action off), with TZ=UTC; exit 0 = fenced', async function () {
    const t = fakeTools(dir, { last: 'Node n2 has never been fenced', fenceRc: 0, action: 'off' });
    const r = await runPacemakerFence({ nodeid: 2, failTime: Date.now(), nodes: [{ nodeid: 2, name: 'n2' }], timeoutMs: 30_000, ...t });
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.name, 'n2');
    assert.equal(t.log(), 'TZ=UTC --last n2\ncrm_attribute --type crm_config --name stonith-action --query --quiet\nTZ=UTC --fence n2 --tolerance 5s --timeout 25\n');
    assert.match(r.detail, /stonith_admin --fence n2: exit 0 \(n2 was never fenced\)/);
  });

  it('stonith-action unset (Pacemaker fences with reboot): --reboot, so the fencer merges it with its own', async function () {
    const t = fakeTools(dir, { last: 'Node n2 has never been fenced', fenceRc: 0 });
    const r = await runPacemakerFence({ nodeid: 2, failTime: Date.now(), nodes: [{ nodeid: 2, name: 'n2' }], timeoutMs: 30_000, ...t });
    assert.equal(r.ok, true, r.detail);
    assert.equal(t.log(), 'TZ=UTC --last n2\nTZ=UTC --reboot n2 --tolerance 5s --timeout 25\n');
  });

  it('fenced after the failure: success without --fence; a nameless node is named by crm_node -l', async function () {
    const failTime = Date.UTC(2026, 11, 5, 17, 0, 0);
    const t = fakeTools(dir, { last: 'Node web2 last fenced at: Sat Dec  5 17:00:04 2026', fenceRc: 0, crm: '1 web1 member\n2 web2 lost' });
    const r = await runPacemakerFence({ nodeid: 2, failTime, nodes: [{ nodeid: 2 }], ...t });
    assert.equal(r.ok, true);
    assert.equal(r.already, true);
    assert.equal(t.log(), 'crm_node -l\nTZ=UTC --last web2\n');
  });

  it('failures: the fencer says no (exit 1), an unknown --last answer, no name anywhere, stonith_admin missing', async function () {
    let t = fakeTools(dir, { last: 'Node n2 has never been fenced', fenceRc: 1 });
    let r = await runPacemakerFence({ nodeid: 2, failTime: Date.now(), nodes: [{ nodeid: 2, name: 'n2' }], ...t });
    assert.equal(r.ok, false);
    assert.match(r.detail, /--reboot n2: exit 1/);
    assert.match(r.output, /No route to host/);
    t = fakeTools(dir, { last: 'something else', fenceRc: 0 });
    r = await runPacemakerFence({ nodeid: 2, failTime: Date.now(), nodes: [{ nodeid: 2, name: 'n2' }], ...t });
    assert.equal(r.ok, false);
    assert.match(r.detail, /neither/);
    assert.doesNotMatch(t.log(), /--fence/);
    r = await runPacemakerFence({ nodeid: 3, failTime: Date.now(), nodes: [{ nodeid: 3 }], ...t });
    assert.equal(r.ok, false);
    assert.match(r.detail, /node 3 has no Pacemaker node name.*fix: give node 3 a "name: NODENAME"/);
    r = await runPacemakerFence({ nodeid: 2, failTime: Date.now(), nodes: [{ nodeid: 2, name: 'n2' }], stonithAdmin: join(dir, 'nonexistent') });
    assert.equal(r.ok, false);
    assert.match(r.detail, /is Pacemaker's fencer running/);
  });
});

describe('--fence-pacemaker: three daemons, node 3 dies', function () {
  this.timeout(20000);
  for (const c of [
    { what: 'fenced once by the lowest survivor through stonith_admin --reboot n3 (stonith-action unset); both restart without it', last: 'Node n3 has never been fenced', fenceRc: 0, fences: 1 },
    { what: 'Pacemaker fenced it already (last fenced after the failure): no --fence, both restart', last: 'Node n3 last fenced at: Fri Dec 31 23:59:59 2100', fenceRc: 0, fences: 0 },
  ]) {
    it(c.what, async function () {
      const f = new FakeDaemonCluster('o2d-pcmk-');
      const t = fakeTools(f.dir, { last: c.last, fenceRc: c.fenceRc });
      try {
        for (const id of [1, 2, 3]) await f.start(id, { fenceAgent: undefined, fencing: 'pacemaker', pacemakerTools: { stonithAdmin: t.stonithAdmin, crmNode: t.crmNode, crmAttribute: t.crmAttribute } });
        for (const id of [1, 2, 3]) f.mount(id, LS);
        await until(() => [1, 2, 3].every((id) => f.members(id, LS).length === 3 && f.read(id, `sys/kernel/dlm/${LS}/control`) === '1'), 'three members');
        await f.cluster.nodeDown(3);
        await until(() => [1, 2].every((id) => f.members(id, LS).join() === '1,2' && !existsSync(join(f.root(id), C, 'comms/3')) && f.read(id, `sys/kernel/dlm/${LS}/control`) === '1'), 'n3 removed after fencing');
        assert.equal((t.log().match(/--last n3/g) ?? []).length, 1, t.log());
        assert.equal((t.log().match(/--reboot n3 --tolerance 5s --timeout [0-9]+/g) ?? []).length, c.fences, t.log());
        const st = f.daemons.get(1)!.status() as { fencing: { mode: string }; counters: { fences: number } };
        assert.equal(st.fencing.mode, 'pacemaker');
        assert.equal(st.counters.fences, 1);
      } finally {
        await f.close();
      }
    });
  }

  it('the fencer fails: node 3 stays unfenced, the lockspace stays stopped on both survivors', async function () {
    const f = new FakeDaemonCluster('o2d-pcmk-');
    const t = fakeTools(f.dir, { last: 'Node n3 has never been fenced', fenceRc: 1 });
    try {
      for (const id of [1, 2, 3]) await f.start(id, { fenceAgent: undefined, fencing: 'pacemaker', pacemakerTools: { stonithAdmin: t.stonithAdmin, crmAttribute: t.crmAttribute }, maxFenceRounds: 2, fenceRetryDelayMs: 50 });
      for (const id of [1, 2, 3]) f.mount(id, LS);
      await until(() => [1, 2, 3].every((id) => f.members(id, LS).length === 3 && f.read(id, `sys/kernel/dlm/${LS}/control`) === '1'), 'three members');
      await f.cluster.nodeDown(3);
      await until(() => (t.log().match(/--reboot n3/g) ?? []).length >= 2, 'two fence rounds');
      for (const id of [1, 2]) {
        assert.equal(f.read(id, `sys/kernel/dlm/${LS}/control`), '0');
        assert.ok(existsSync(join(f.root(id), C, 'comms/3')), 'comm of n3 kept');
      }
    } finally {
      await f.close();
    }
  });
});
