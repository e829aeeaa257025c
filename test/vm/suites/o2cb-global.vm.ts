// @vm-disks 4
// o2cb global heartbeat on the 6.1 kernel: three heartbeat-only devices (/dev/vdb..vdd, mkfs.ocfs2
// -H) and a global-heartbeat data volume (/dev/vda). o2stack start finds the regions by UUID and
// starts them (idempotent), status shows them, the volume mounts with heartbeat=global, a region
// dropped from the configuration stays while a mount pins all three (≤ 3 regions) and is stopped by
// the next start after the unmount, a UUID with no device is a clear error (on a stopped cluster:
// nothing registered, no region started), stop removes all.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { formatClusterConf } from '../../../lib/config/clusterConf.js';
import { inspectVolume } from '../../../lib/kernel/blockdev.js';
import type { ClusterConfig } from '../../../lib/model/cluster.js';
import { o2nm } from '../../../lib/model/paths.js';
import { resetO2nm } from '../../contract/o2nm.contract.js';
import { runCli } from '../../support/runCli.js';
import { realBackend, requireTestVm } from '../support/kernel.js';

const HOST = readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
const CONF = '/tmp/o2cb-global.conf';
const MNT = '/mnt/global';
const HB = ['/dev/vdb', '/dev/vdc', '/dev/vdd'];

async function cli(args: string[]) {
  const r = await runCli(args);
  return { ...r, json: r.out.trim().startsWith('{') ? JSON.parse(r.out) : undefined };
}

function writeConf(regions: string[]): void {
  const c: ClusterConfig = {
    name: 'demo',
    nodes: [{ name: HOST, number: 1, ipAddress: '127.0.0.1', port: 7777 }, { name: 'other', number: 2, ipAddress: '127.0.0.2', port: 7777 }],
    heartbeatMode: 'global',
    heartbeatRegions: regions,
    timeouts: {},
  };
  writeFileSync(CONF, formatClusterConf([c]));
}

describe('o2cb global heartbeat on one VM (Debian 6.1 kernel, four virtio disks)', function () {
  let uuids: string[] = [];
  before(function () {
    requireTestVm();
    for (const d of ['/dev/vda', ...HB]) if (!existsSync(d)) throw new Error(`${d} is missing: the suite header asks for 4 disks (// @vm-disks 4)`);
    resetO2nm(realBackend());
    const mkfs = (args: string[]) => execFileSync('mkfs.ocfs2', ['-q', '-F', ...args], { input: 'y\n', stdio: 'pipe' }); // 'y': no cluster to check yet
    // heartbeat-only devices: ocfs2-tools 1.8.7 cannot make them with 4K blocks
    for (const d of HB) mkfs(['-H', '-b', '1K', '--cluster-stack=o2cb', '--cluster-name=demo', d]);
    mkfs(['-b', '4K', '-C', '4K', '-N', '4', '-J', 'size=8M', '--global-heartbeat', '--cluster-stack=o2cb', '--cluster-name=demo', '/dev/vda']);
    uuids = HB.map((d) => inspectVolume(d).superblock.uuid);
    assert.ok(HB.every((d) => inspectVolume(d).superblock.heartbeatDevice));
    writeConf(uuids);
    mkdirSync(MNT, { recursive: true });
  });

  it('start finds the three regions by UUID and starts them; a second start does nothing', async function () {
    const s = await cli(['start', '--json', '--config', CONF]);
    assert.equal(s.code, 0, s.err + s.out);
    assert.deepEqual(s.json.regions.map((r: { uuid: string; device: string; started: boolean }) => [r.uuid, r.device, r.started]), uuids.map((u, i) => [u, HB[i], true]));
    console.log(`      region starts: ${s.json.regions.map((r: { ms: number }) => `${r.ms} ms`).join(', ')}`);
    assert.equal(readFileSync(o2nm.heartbeatAttr('demo', 'mode'), 'utf8'), 'global\n');
    for (const [i, u] of uuids.entries()) assert.equal(readFileSync(o2nm.regionAttr('demo', u, 'dev'), 'utf8'), `${HB[i]!.slice(5)}\n`);
    const again = await cli(['start', '--json', '--config', CONF]);
    assert.equal(again.json.alreadyRunning, true, JSON.stringify(again.json));
    const st = await cli(['status', '--json']);
    assert.equal(st.json.online, true);
    assert.deepEqual(st.json.regions.map((r: { uuid: string; device: string; running: boolean }) => [r.uuid, r.device, r.running]).sort(), uuids.map((u, i) => [u, HB[i], true]).sort());
  });

  it('mounts the global-heartbeat volume with heartbeat=global and no region of its own; stop is refused while mounted', async function () {
    const m = await cli(['mount', '--json', '/dev/vda', MNT]);
    assert.equal(m.code, 0, m.err + m.out);
    assert.equal(m.json.kind, 'o2cb-global');
    assert.equal(m.json.options, 'heartbeat=global');
    assert.equal(m.json.heartbeat, undefined, 'no per-volume region in global mode');
    writeFileSync(`${MNT}/g.txt`, 'global\n');
    assert.equal(readFileSync(`${MNT}/g.txt`, 'utf8'), 'global\n');
    const stop = await cli(['stop']);
    assert.equal(stop.code, 1);
    assert.match(stop.err, /OCFS2 volumes are mounted/);
  });

  it('while mounted, all three regions are pinned: a region dropped from the configuration stays, with a warning', async function () {
    writeConf(uuids.slice(0, 2));
    const s = await cli(['start', '--json', '--config', CONF]);
    assert.equal(s.code, 0, s.err + s.out);
    assert.deepEqual(s.json.actions, []);
    assert.ok(s.json.warnings.some((w: string) => w.includes(`heartbeat region ${uuids[2]} is no longer configured but stays running: a mounted volume pins it`)), JSON.stringify(s.json.warnings));
    assert.ok(s.json.warnings.some((w: string) => /2 global heartbeat region\(s\) configured: use 3 or more/.test(w)), JSON.stringify(s.json.warnings));
    assert.equal(readFileSync(o2nm.regionAttr('demo', uuids[2]!, 'dev'), 'utf8'), `${HB[2]!.slice(5)}\n`, 'still running');
    const u = await cli(['umount', '--json', MNT]);
    assert.equal(u.code, 0, u.err);
  });

  it('a region dropped from the configuration is stopped by the next start; an unknown UUID is a clear error', async function () {
    const s = await cli(['start', '--json', '--config', CONF]);
    assert.equal(s.code, 0, s.err + s.out);
    assert.deepEqual(s.json.actions, [`stopped heartbeat region ${uuids[2]} (no longer configured)`]);
    assert.equal(existsSync(o2nm.region('demo', uuids[2]!)), false);
    writeConf([...uuids.slice(0, 2), 'F'.repeat(32)]);
    const bad = await cli(['start', '--config', CONF]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /no block device holds the heartbeat region F{32}/);
    assert.match(bad.err, /o2stack volume list/);
  });

  it('stop removes every region and the cluster', async function () {
    const t = await cli(['stop', '--json']);
    assert.equal(t.code, 0, t.err);
    assert.deepEqual(t.json.actions.slice(0, 2).sort(), uuids.slice(0, 2).map((u) => `stopped heartbeat region ${u}`).sort()); // configfs lists them in its own order
    assert.equal(existsSync(o2nm.cluster('demo')), false);
  });

  it('from a stopped cluster, an unknown UUID among good ones starts nothing and registers nothing', async function () {
    writeConf([...uuids, 'F'.repeat(32)]);
    const t0 = Date.now();
    const bad = await cli(['start', '--json', '--config', CONF]);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /no block device holds the heartbeat region F{32}/);
    assert.match(bad.out, /o2stack volume list/);
    console.log(`      refused in ${Date.now() - t0} ms (no region start, each takes seconds)`);
    assert.equal(existsSync(o2nm.cluster('demo')), false, 'nothing registered');
    const st = await cli(['status', '--json']);
    assert.deepEqual(st.json.regions, []);
    assert.equal(st.json.cluster, null);
  });
});
