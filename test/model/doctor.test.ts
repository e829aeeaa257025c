import assert from 'node:assert/strict';
import { type DoctorFacts, runChecks } from '../../lib/model/doctor.js';
import { localAddressProblem } from '../../lib/model/localAddress.js';
import type { ClusterConfig } from '../../lib/model/cluster.js';

const base = (): DoctorFacts => ({
  kernelRelease: '6.1.0-56-amd64',
  kernelHasOcfs2: true,
  modulesLoaded: { ocfs2: true, o2cbPlugin: true, userPlugin: true, dlm: true },
  configfsMounted: true,
  clusterStack: 'o2cb',
  activePlugin: null,
  configFile: '/etc/ocfs2/cluster.conf',
  config: { clusters: [{ name: 'demo', nodes: [{ name: 'n1', number: 1, ipAddress: '192.0.2.1', port: 7777 }], heartbeatMode: 'local', heartbeatRegions: [], timeouts: {} }] },
  registered: { name: 'demo', localNode: 'n1', deadThreshold: 31, mode: 'local', regionsRunning: 0 },
  plan: { cluster: 'demo', steps: [], blocked: [], warnings: [] },
  hbCtlPath: '/sbin/o2stack-hb-ctl',
  hbCtlExecutable: true,
  dlmfs: { mounted: true, dirs: ['/dlm'], domains: [] },
  downHazard: { hazardous: true, reason: 'CONFIG_FORTIFY_SOURCE=y' },
  dlm: { configured: false, recoverCallbacks: null, clusterName: null },
  volumes: [],
});
const byId = (f: DoctorFacts) => Object.fromEntries(runChecks(f).map((c) => [c.id, c]));

describe('doctor checks', function () {
  it('a healthy o2cb node has no failed checks, and the DOWN hazard is reported as a warning', function () {
    const checks = runChecks(base());
    assert.deepEqual(checks.filter((c) => c.status === 'fail'), []);
    assert.equal(byId(base())['down-hazard']!.status, 'warn');
    assert.match(byId(base())['down-hazard']!.fix!, /recover_callbacks = 1/);
  });

  it('the local node’s address not on this host fails before anything is written, with the address and the fix', function () {
    const f = base();
    const cl = (f.config as { clusters: ClusterConfig[] }).clusters[0]!;
    const bad = byId({ ...f, registered: null, localAddress: { node: 'n1', address: '192.0.2.1', problem: localAddressProblem(cl, 'n1', ['127.0.0.1', '10.1.1.1']) ?? null } })['o2cb-local-address']!;
    assert.equal(bad.status, 'fail');
    assert.match(bad.message, /'n1' has address 192\.0\.2\.1, which is not an address of this host \(it has: 127\.0\.0\.1, 10\.1\.1\.1\)/);
    assert.match(bad.fix!, /ip addr add 192\.0\.2\.1\/PREFIX dev IFACE/);
    const good = byId({ ...f, localAddress: { node: 'n1', address: '192.0.2.1', problem: localAddressProblem(cl, 'n1', ['192.0.2.1']) ?? null } })['o2cb-local-address']!;
    assert.equal(good.status, 'ok');
    assert.equal(byId(f)['o2cb-local-address'], undefined, 'not checked: no check');
  });

  it('an /etc/default/o2cb that start would refuse fails with its line and fix; one that agrees is ok', function () {
    const issue = { file: '/etc/default/o2cb', line: 11, code: 'E_O2CB_BOOTCLUSTER', message: 'O2CB_BOOTCLUSTER=ocfs2 names a cluster that /etc/ocfs2/cluster.conf does not describe (it has: demo)', hint: 'o2stack configure --boot-cluster demo --defaults /etc/default/o2cb, or pass --cluster demo' };
    const bad = byId({ ...base(), defaults: { file: '/etc/default/o2cb', issues: [issue] } })['o2cb-defaults']!;
    assert.equal(bad.status, 'fail');
    assert.match(bad.message, /o2stack start would refuse \/etc\/default\/o2cb with \/etc\/ocfs2\/cluster\.conf: line 11: O2CB_BOOTCLUSTER=ocfs2/);
    assert.equal(bad.fix, issue.hint);
    assert.equal(byId({ ...base(), defaults: { file: '/etc/default/o2cb', issues: [] } })['o2cb-defaults']!.status, 'ok');
  });

  it('a cloud kernel without OCFS2 fails with the package to install', function () {
    const c = byId({ ...base(), kernelHasOcfs2: false }).kernel!;
    assert.equal(c.status, 'fail');
    assert.match(c.fix!, /linux-image-amd64/);
  });

  it('no local node, a kernel that differs from the config, a short dead threshold, a missing helper', function () {
    const f = base();
    f.registered = { ...f.registered!, localNode: null, deadThreshold: 3 };
    f.plan = { cluster: 'demo', steps: [{ op: 'write', path: '/x', data: '1\n', why: 'w' }], blocked: [], warnings: [] };
    f.hbCtlExecutable = false;
    const c = byId(f);
    assert.equal(c['o2cb-local-node']!.status, 'fail');
    assert.match(c['o2cb-local-node']!.fix!, /o2stack apply --node NAME/);
    assert.equal(c['o2cb-config-match']!.status, 'warn');
    assert.match(c['o2cb-config-match']!.fix!, /o2stack apply/);
    assert.equal(c['o2cb-dead-threshold']!.status, 'warn');
    assert.equal(c['hb-ctl-helper']!.status, 'warn');
    assert.equal(c['hb-ctl-helper']!.fix, 'o2stack hb-ctl --install');
  });

  it('dlmfs: ok when mounted (with the domains open), a warning with the fix when not, nothing without a cluster', function () {
    assert.equal(byId(base()).dlmfs!.status, 'ok');
    assert.match(byId({ ...base(), dlmfs: { mounted: true, dirs: ['/dlm'], domains: ['A'.repeat(32)] } }).dlmfs!.message, /1 dlm domain\(s\) open/);
    const off = byId({ ...base(), dlmfs: { mounted: false, dirs: [], domains: [] } }).dlmfs!;
    assert.equal(off.status, 'warn');
    assert.match(off.message, /fsck\.ocfs2, tunefs\.ocfs2 .* cannot take cluster locks/);
    assert.match(off.fix!, /^o2stack start/);
    assert.equal(byId({ ...base(), registered: null, dlmfs: { mounted: false, dirs: [], domains: [] } }).dlmfs, undefined);
  });

  it('mismatched volumes get the tunefs or select command', function () {
    const f = base();
    f.volumes = [
      { device: '/dev/vdb', uuid: 'A'.repeat(32), stack: { name: 'pcmk', clusterName: 'demo', globalHeartbeat: false }, userStack: true, localMount: false, heartbeatDevice: false },
      { device: '/dev/vdc', uuid: 'B'.repeat(32), stack: { name: 'o2cb', clusterName: 'other', globalHeartbeat: false }, userStack: false, localMount: false, heartbeatDevice: false },
      { device: '/dev/vdd', uuid: 'C'.repeat(32), stack: { name: 'o2cb', clusterName: 'demo', globalHeartbeat: true }, userStack: false, localMount: false, heartbeatDevice: false },
    ];
    const c = byId(f);
    assert.match(c['volume /dev/vdb']!.fix!, /o2stack select pcmk.*tunefs\.ocfs2 --update-cluster-stack \/dev\/vdb/);
    assert.match(c['volume /dev/vdc']!.message, /belongs to cluster 'other'/);
    assert.match(c['volume /dev/vdd']!.fix!, /heartbeat_mode = global/);
  });

  it('an invalid configuration fails with its line', function () {
    const c = byId({ ...base(), config: { issues: [{ code: 'E_CONF_NODE_PORT', message: 'port 0 is out of range', line: 7 }] } }).config!;
    assert.equal(c.status, 'fail');
    assert.match(c.message, /line 7: port 0 is out of range/);
  });

  it('user-stack mounts: POSIX locks nobody serves fail (they hang), ENOSYS from a daemon with plocks off warns; localflocks mounts and served locks pass', function () {
    const f = { ...base(), clusterStack: 'pcmk', userStackMounts: [{ dir: '/srv/a', options: ['rw', 'cluster_stack=pcmk'] }, { dir: '/srv/b', options: ['cluster_stack=pcmk', 'localflocks'] }] };
    const none = byId({ ...f, plockServer: { who: 'nobody', serving: false, detail: 'no control daemon runs' } }).plocks!;
    assert.equal(none.status, 'fail');
    assert.match(none.message, /on \/srv\/a never return.*nobody reads \/dev\/dlm_plock/);
    assert.match(none.fix!, /systemctl start o2stack-daemon.*localflocks.*corrupt data/);
    const off = byId({ ...f, plockServer: { who: 'o2stack daemon', serving: false, detail: 'switched off with --no-plocks' } }).plocks!;
    assert.equal(off.status, 'warn');
    assert.match(off.message, /refused at once with ENOSYS/);
    const ok = byId({ ...f, plockServer: { who: 'dlm_controld', serving: true, detail: 'dlm_controld (pid 9) serves them' } }).plocks!;
    assert.equal(ok.status, 'ok');
    assert.equal(byId({ ...f, userStackMounts: [{ dir: '/srv/b', options: ['localflocks'] }], plockServer: { who: 'nobody', serving: false, detail: 'x' } }).plocks, undefined, 'localflocks: nothing to serve');
  });
});
