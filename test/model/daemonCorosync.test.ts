import assert from 'node:assert/strict';
import { corosyncConfigFromCmap } from '../../lib/kernel/corosync.js';
import { corosyncHostnames, DaemonCorosyncError, daemonSetupFromCorosync } from '../../lib/model/daemonCorosync.js';

const cfg = (extra: Record<string, string | number> = {}, nodes = [[1, '192.0.2.1'], [2, '192.0.2.2']] as [number, string][]) =>
  corosyncConfigFromCmap({
    'totem.cluster_name': 'demo',
    ...Object.fromEntries(nodes.flatMap(([id, a], i) => [[`nodelist.node.${i}.nodeid`, id], [`nodelist.node.${i}.ring0_addr`, a], [`nodelist.node.${i}.name`, `n${id}`]])),
    ...extra,
  });

const fails = (f: () => unknown, code: string, msg: RegExp, hint: RegExp) =>
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DaemonCorosyncError);
    assert.equal(e.code, code);
    assert.match(e.message, msg);
    assert.match(e.hint, hint);
    return true;
  });

describe('daemon setup from corosync (cluster name, nodelist)', function () {
  it('cluster name and comms from cmap; --cluster and --node-id may repeat what corosync says', function () {
    assert.deepEqual(daemonSetupFromCorosync({}, cfg(), 2), {
      clusterName: 'demo',
      localNodeId: 2,
      nodes: [{ name: 'n1', nodeid: 1, addresses: ['192.0.2.1'] }, { name: 'n2', nodeid: 2, addresses: ['192.0.2.2'] }],
    });
    assert.equal(daemonSetupFromCorosync({ clusterName: 'demo', nodeId: 1 }, cfg(), 1).clusterName, 'demo');
  });

  it('a cluster name that differs from totem.cluster_name is refused with both fixes', function () {
    fails(() => daemonSetupFromCorosync({ clusterName: 'other' }, cfg(), 1), 'E_CLUSTER_NAME', /--cluster other does not match corosync's totem.cluster_name 'demo'/, /--cluster demo .*cluster_name: other.*systemctl restart corosync/);
    fails(() => daemonSetupFromCorosync({}, cfg({ 'totem.cluster_name': '' }), 1), 'E_NO_CLUSTER_NAME', /no totem.cluster_name/, /cluster_name: NAME/);
  });

  it('the local node must be in the nodelist; --node-id must equal corosync\'s', function () {
    fails(() => daemonSetupFromCorosync({}, cfg(), 3), 'E_LOCAL_NODE', /node id 3\) is not in corosync's nodelist \(1, 2\)/, /nodeid: 3 +ring0_addr/);
    fails(() => daemonSetupFromCorosync({ nodeId: 2 }, cfg(), 1), 'E_NODE_ID', /--node-id 2 but corosync says this node is 1/, /omit --node-id/);
    fails(() => daemonSetupFromCorosync({}, cfg({}, []), 1), 'E_NO_NODELIST', /no nodelist/, /nodelist/);
  });

  it('host names need resolving; one address family; up to three links', function () {
    const c = cfg({ 'nodelist.node.1.ring1_addr': '10.0.0.2', 'nodelist.node.0.ring1_addr': 'fd00::1' }, [[1, '192.0.2.1'], [2, 'n2.example']]);
    assert.deepEqual(corosyncHostnames(c), ['n2.example']);
    fails(() => daemonSetupFromCorosync({}, c, 1), 'E_NODE_ADDRESS', /'n2.example' does not resolve/, /\/etc\/hosts/);
    const s = daemonSetupFromCorosync({}, c, 1, { 'n2.example': '192.0.2.2' });
    assert.deepEqual(s.nodes.map((n) => n.addresses), [['192.0.2.1'], ['192.0.2.2', '10.0.0.2']], 'the IPv6 link of node 1 is dropped (IPv4 first address)');
  });
});
