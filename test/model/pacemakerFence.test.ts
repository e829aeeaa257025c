// --fence-pacemaker's pure part: node names (corosync's nodelist, crm_node -l), stonith_admin
// --last's answer, the fence-or-not decision and its stonith_admin arguments, the default from the
// environment Pacemaker gives its resources.
import assert from 'node:assert/strict';
import { defaultFenceFromEnv, PacemakerFenceError, pacemakerNodeName, parseCrmNodeList, parseStonithLast, planPacemakerFence, stonithVerb } from '../../lib/model/pacemakerFence.js';

describe('--fence-pacemaker: node names', function () {
  it('crm_node -l: "ID NAME STATE" lines; other lines ignored', function () {
    assert.deepEqual(parseCrmNodeList('1 n1 member\n2 n2 lost\n\n  3   web-3   member  \nerror: x\n0 zero member\nabc\n'), [
      { id: 1, name: 'n1', state: 'member' },
      { id: 2, name: 'n2', state: 'lost' },
      { id: 3, name: 'web-3', state: 'member' },
    ]);
    assert.deepEqual(parseCrmNodeList(''), []);
  });

  it("corosync's nodelist name first, then crm_node -l; none, or two names for one id: an error with the fix", function () {
    const nodes = [{ nodeid: 1, name: 'alpha' }, { nodeid: 2 }];
    assert.equal(pacemakerNodeName(1, nodes, [{ id: 1, name: 'other', state: 'member' }]), 'alpha');
    assert.equal(pacemakerNodeName(2, nodes, [{ id: 2, name: 'beta', state: 'lost' }]), 'beta');
    const err = (f: () => unknown, msg: RegExp, hint: RegExp) => assert.throws(f, (e: unknown) => e instanceof PacemakerFenceError && e.code === 'E_PCMK_NODE_NAME' && msg.test(e.message) && hint.test(e.hint));
    err(() => pacemakerNodeName(2, nodes), /node 2 has no Pacemaker node name.*crm_node -l could not be asked/, /"name: NODENAME".*corosync\.conf/);
    err(() => pacemakerNodeName(2, nodes, []), /crm_node -l does not list it/, /name: NODENAME/);
    err(() => pacemakerNodeName(2, nodes, [{ id: 2, name: 'a', state: '' }, { id: 2, name: 'b', state: '' }]), /2 names \(a, b\)/, /crm_node --force -R/);
  });
});

describe('--fence-pacemaker: stonith_admin --last (TZ=UTC)', function () {
  it('a date (ctime, day padded with a space) or never; anything else throws', function () {
    assert.equal(parseStonithLast('Node n2 last fenced at: Sat Dec  5 16:59:28 2026\n', 'n2'), Date.UTC(2026, 11, 5, 16, 59, 28));
    assert.equal(parseStonithLast('Node n2 last fenced at: Tue Mar 14 01:02:03 2023', 'n2'), Date.UTC(2023, 2, 14, 1, 2, 3));
    assert.equal(parseStonithLast('Node n2 has never been fenced\n', 'n2'), null);
    for (const bad of ['', 'Node n3 has never been fenced', 'Node n2 last fenced at: yesterday', 'Node n2 last fenced at: Sat Foo  5 16:59:28 2026', 'Node n2 last fenced at: Sat Feb 31 16:59:28 2026']) {
      assert.throws(() => parseStonithLast(bad, 'n2'), (e: unknown) => e instanceof PacemakerFenceError && e.code === 'E_PCMK_LAST', bad);
    }
  });
});

describe('--fence-pacemaker: fence or not', function () {
  const failTime = Date.UTC(2026, 11, 5, 17, 0, 0, 700);
  it('never fenced, or fenced before the failure: stonith_admin --fence NAME --tolerance 5s --timeout (limit − 5 s)', function () {
    for (const lastFenced of [null, failTime - 60_000]) {
      const d = planPacemakerFence({ name: 'n2', failTime, lastFenced, timeoutMs: 60_000 });
      assert.equal(d.action, 'fence');
      assert.deepEqual(d.args, ['--fence', 'n2', '--tolerance', '5s', '--timeout', '55']);
    }
    assert.deepEqual(planPacemakerFence({ name: 'n2', failTime, lastFenced: null, timeoutMs: 3000 }).args!.slice(-1), ['1']);
  });

  it("the verb follows the cluster's stonith-action (unset: reboot, Pacemaker's default), so the fencer merges our request with its own", function () {
    assert.equal(stonithVerb(undefined), '--reboot');
    assert.equal(stonithVerb('reboot\n'), '--reboot');
    assert.equal(stonithVerb('off\n'), '--fence');
    assert.equal(stonithVerb('poweroff'), '--fence');
    assert.deepEqual(planPacemakerFence({ name: 'n2', failTime, lastFenced: null, timeoutMs: 60_000, verb: '--reboot' }).args!.slice(0, 2), ['--reboot', 'n2']);
  });

  it('fenced at or after the failure (whole seconds): already fenced, nothing run', function () {
    for (const lastFenced of [Date.UTC(2026, 11, 5, 17, 0, 0), failTime + 30_000]) {
      const d = planPacemakerFence({ name: 'n2', failTime, lastFenced, timeoutMs: 60_000 });
      assert.equal(d.action, 'already-fenced');
      assert.equal(d.args, undefined);
      assert.match(d.why, /Pacemaker fenced n2 at 2026-12-05T17:00/);
    }
  });

  it('the default method: Pacemaker when started as a resource (OCF_RESOURCE_INSTANCE or PCMK_service), else none', function () {
    assert.equal(defaultFenceFromEnv({ OCF_RESOURCE_INSTANCE: 'o2stack-daemon:0' }), 'pacemaker');
    assert.equal(defaultFenceFromEnv({ PCMK_service: 'pacemaker-execd' }), 'pacemaker');
    assert.equal(defaultFenceFromEnv({ OCF_RESOURCE_INSTANCE: '' }), undefined);
    assert.equal(defaultFenceFromEnv({}), undefined);
  });
});
