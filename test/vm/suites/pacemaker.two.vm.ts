// @needs corosync (and vm/pacemaker-pkgs.sh's Pacemaker: vm/setup.sh extracts both)
// Issue 13 (items 4-6) on the real kernel, two VMs (vm/run-two.sh: n1 = 192.0.2.1, n2 =
// 192.0.2.2, NODE=1|2, one shared /dev/vda): Debian's Pacemaker 2.1 (pacemakerd without systemd,
// vm/guest-pacemaker.sh) on Debian's corosync runs the user stack through o2stack's OCF agents:
//   - `o2stack helpers install --replace-ocfs2-tools` puts mount.ocfs2 and the agents
//     ocf:o2stack:o2stack-daemon / o2stack-o2cb in place; resource-agents' ocf-tester passes on
//     o2stack-o2cb (n2, o2cb stack, before the user stack is selected) and on o2stack-daemon (n1,
//     on corosync, before the resources are configured);
//   - n1 configures the cluster with Pacemaker's own CLI (cibadmin, crm_attribute, crm_resource:
//     the commands README's "Pacemaker" section gives): stonith-enabled=true,
//     no-quorum-policy=freeze, a stonith device with the test agent fence_o2test
//     (test/vm/support/fence_o2test), the o2stack-daemon clone, an ocf:heartbeat:Filesystem clone
//     of the pcmk volume (fstype=ocfs2), order + colocation; both nodes mount it through
//     Pacemaker and read each other's file; crm_mon -1 shows both clones on both nodes;
//   - n2 dies with the volume mounted and a cluster flock held (its suite ends, its VM powers off);
//     Pacemaker's fencer fences it exactly once (fence_o2test's record on n1: one line), the daemon
//     (--fence-pacemaker) finds it fenced or has its request merged, removes n2's comm and
//     restarts the lockspace; n1 takes the flock and writes; crm_mon -1 shows n2 OFFLINE and the
//     clones on n1 only.
// Timeouts are long for TCG (every o2stack CLI start is seconds of JS in the guest): measured
// times are printed as o2stack-figure lines. The helpers are installed through the bundle
// (dist/o2stack.cjs; test:vm rebuilds it when stale), so the agents run it: ocf-tester took 499 s
// on o2stack-o2cb with the CLI run by tsx, 93 s with the bundle. Run to the end on 2026-12-05
// (TCG, two VMs, a loaded 2-core host): 21/21 in 831 s — Pacemaker install 33-52 s, pacemakerd
// start -> 2 nodes online with a DC 64 s, ocf-tester 94 s (o2stack-daemon) and 93 s
// (o2stack-o2cb), CIB configured -> both clones started and mounted 175-177 s, n2 gone -> n1
// writable 13.9 s (fence_o2test asked at 11.3 s, the lockspace restarted at 13.1 s).
// @vm-timeout 1800
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { inspectVolume } from '../../../lib/kernel/blockdev.js';
import { nativeSystem } from '../../../lib/kernel/system.js';
import { selectStack } from '../../../lib/stack/select.js';
import { clusterLogs, startCorosync } from '../support/corosync.js';
import { mkfsUserStack, mountLine as mountLineOf } from '../support/dlm.js';
import { FlagBoard } from '../support/flags.js';
import { answersPing, realBackend, requireTestVm, waitFor } from '../support/kernel.js';
import { cloneStartedOn, crmMon, FENCE_O2TEST_LOG, guestPacemaker, pacemakerAvailable, PACEMAKER_ROOT, pcmk } from '../support/pacemaker.js';
import { announceDeathHoldingFlock, awaitDeathAnnounced, cli, figure, readDaemonLog, root, sh } from '../support/run.js';

// npm run test:vm builds it when lib/ is newer (test/vm/run-suites.ts)
const BUNDLE = join(root, 'dist', 'o2stack.cjs');
function bundled(args: string[], timeoutMs: number): { code: number | null; out: string; err: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BUNDLE, ...args], { cwd: '/', encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, out: r.stdout, err: r.stderr + (r.error ? String(r.error) : ''), ms: Date.now() - t0 };
}

const DISK = '/dev/vda';
const MNT = '/mnt/shared';
const DLOG = '/var/log/o2stack-daemon.log';
const OCF_DIR = '/usr/lib/ocf/resource.d/o2stack';
const C = '/sys/kernel/config/dlm/cluster';
const me = Number(process.env.NODE);
const peer = 3 - me;
const flags = new FlagBoard(me);
const mountLine = () => mountLineOf(MNT);
const dmesg = () => execFileSync('dmesg', { encoding: 'utf8' });
const writeUnderFlock = (file: string, text: string, timeoutMs = 240_000) => sh(`flock -x ${MNT}/lockfile -c "echo '${text}' > ${MNT}/${file} && sync"`, timeoutMs);

function must(cmd: string, args: string[], timeoutMs = 120_000): string {
  const r = pcmk(cmd, args, timeoutMs);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: exit ${r.code}\n${r.out}${r.err}`);
  return r.out;
}

/** The CIB, as README's "Pacemaker" section configures it with cibadmin (timeouts for TCG). */
function configureCluster(): void {
  must('crm_attribute', ['--type', 'crm_config', '--name', 'stonith-enabled', '--update', 'true']);
  must('crm_attribute', ['--type', 'crm_config', '--name', 'no-quorum-policy', '--update', 'freeze']);
  const op = (id: string, name: string, interval: string, timeout: string) => `<op id="${id}-${name}" name="${name}" interval="${interval}" timeout="${timeout}"/>`;
  must('cibadmin', ['--create', '-o', 'resources', '--xml-text',
    `<primitive id="fence-test" class="stonith" type="fence_o2test"><instance_attributes id="fence-test-ia"><nvpair id="fence-test-hosts" name="pcmk_host_list" value="n1 n2"/></instance_attributes><operations>${op('fence-test', 'monitor', '120s', '60s')}</operations></primitive>`]);
  must('cibadmin', ['--create', '-o', 'resources', '--xml-text',
    `<clone id="o2stack-daemon-clone"><meta_attributes id="o2stack-daemon-clone-meta"><nvpair id="o2stack-daemon-clone-interleave" name="interleave" value="true"/></meta_attributes><primitive id="o2stack-daemon" class="ocf" provider="o2stack" type="o2stack-daemon"><operations>${op('o2stack-daemon', 'start', '0s', '300s')}${op('o2stack-daemon', 'stop', '0s', '300s')}${op('o2stack-daemon', 'monitor', '60s', '120s')}</operations></primitive></clone>`]);
  // created stopped: the constraints first, so that it never starts before the daemon
  must('cibadmin', ['--create', '-o', 'resources', '--xml-text',
    `<clone id="fs-clone"><meta_attributes id="fs-clone-meta"><nvpair id="fs-clone-interleave" name="interleave" value="true"/><nvpair id="fs-clone-target-role" name="target-role" value="Stopped"/></meta_attributes><primitive id="fs" class="ocf" provider="heartbeat" type="Filesystem"><instance_attributes id="fs-ia"><nvpair id="fs-device" name="device" value="${DISK}"/><nvpair id="fs-directory" name="directory" value="${MNT}"/><nvpair id="fs-fstype" name="fstype" value="ocfs2"/></instance_attributes><operations>${op('fs', 'start', '0s', '300s')}${op('fs', 'stop', '0s', '300s')}${op('fs', 'monitor', '60s', '120s')}</operations></primitive></clone>`]);
  must('cibadmin', ['--create', '-o', 'constraints', '--xml-text', '<rsc_order id="order-o2stack-daemon-then-fs" first="o2stack-daemon-clone" then="fs-clone" kind="Mandatory"/>']);
  must('cibadmin', ['--create', '-o', 'constraints', '--xml-text', '<rsc_colocation id="colocate-fs-with-o2stack-daemon" rsc="fs-clone" with-rsc="o2stack-daemon-clone" score="INFINITY"/>']);
  must('crm_resource', ['--resource', 'fs-clone', '--meta', '--set-parameter', 'target-role', '--parameter-value', 'Started']);
}

describe(`Pacemaker runs the user stack through o2stack's OCF agents, two VMs (this is n${me})`, function () {
  const k = realBackend();
  let uuid = '';
  let failed = false;
  let tConfigured = 0;

  before(async function () {
    requireTestVm();
    assert.ok(me === 1 || me === 2, `NODE must be 1 or 2 (vm/run-two.sh), got ${process.env.NODE}`);
    assert.ok(pacemakerAvailable(), `no Pacemaker for the guest in ${PACEMAKER_ROOT}: run vm/setup.sh (or vm/pacemaker-pkgs.sh) on the host`);
    mkdirSync(MNT, { recursive: true });
    writeFileSync('/proc/sys/fs/ocfs2/nm/hb_ctl_path', '/bin/true');
    await flags.serve();
  });

  // after a failure of a step the rest needs (corosync, Pacemaker, the configuration) the rest is
  // skipped here, and the peer is told (flag 'broken') so that it does not wait its full limits
  let broken = false;
  beforeEach(function () {
    if (broken) this.skip();
  });
  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    failed = true;
    if (/corosync|Pacemaker|configures|mounts the volume here|n2 waits/.test(this.currentTest.title)) {
      broken = true;
      flags.raise('broken');
    }
  });
  /** The peer raised `flag` (true), or 'broken' (false), within the limit (false). */
  const peerFlag = async (flag: string, timeoutMs: number) => {
    await waitFor(async () => {
      const f = await flags.of(peer);
      return f.includes(flag) || f.includes('broken');
    }, timeoutMs, 500);
    return (await flags.of(peer)).includes(flag);
  };

  after(async function () {
    if (me === 2 && !failed) return; // n2 dies with everything running: that is the test
    if (failed) {
      console.log((await guestPacemaker(['logs'], 120_000)).out);
      console.log(await clusterLogs());
      console.log(dmesg().split('\n').filter((l) => /dlm|ocfs2|JBD2/i.test(l)).slice(-40).join('\n'));
      if (existsSync(DLOG)) console.log(readFileSync(DLOG, 'utf8').split('\n').slice(-80).join('\n'));
    }
  });

  if (me === 1) {
    it('n1 makes the pcmk volume (cluster demo)', function () {
      uuid = mkfsUserStack(DISK);
      assert.match(uuid, /^[0-9A-F]{32}$/);
      flags.raise('mkfs');
    });
  } else {
    it('n2 sees the pcmk volume n1 made', async function () {
      this.timeout(300_000);
      assert.ok(await flags.awaitFlag(1, 'mkfs', 240_000), 'n1 never made the volume');
      execFileSync('blockdev', ['--flushbufs', DISK]);
      uuid = inspectVolume(DISK).superblock.uuid;
      assert.match(uuid, /^[0-9A-F]{32}$/);
    });
  }

  it('o2stack helpers install --replace-ocfs2-tools: mount.ocfs2 and the OCF agents (ocf:o2stack:*) by absolute path', function () {
    this.timeout(300_000);
    // through the bundle (the package's bin, as users install it): the agents then run it, which
    // starts in a fraction of tsx's time under TCG (ocf-tester calls the agent dozens of times)
    const r = existsSync(BUNDLE) ? bundled(['helpers', 'install', '--replace-ocfs2-tools'], 240_000) : cli(['helpers', 'install', '--replace-ocfs2-tools'], 240_000);
    assert.equal(r.code, 0, `exit ${r.code}\n${r.out}${r.err}`);
    for (const a of ['o2stack-daemon', 'o2stack-o2cb']) {
      const text = readFileSync(`${OCF_DIR}/${a}`, 'utf8');
      assert.match(text.split('\n')[1]!, /^# o2stack-helper: OCF resource agent/);
      const md = must(`${OCF_DIR}/${a}`, ['meta-data']);
      assert.match(md, new RegExp(`<resource-agent name="${a}"`));
    }
    figure(`n${me} helpers install (mount.ocfs2 + 2 OCF agents): ${r.ms} ms`);
  });

  it('installs Pacemaker in the guest (vm/guest-pacemaker.sh install: packages, hacluster/haclient, fence_o2test)', async function () {
    this.timeout(300_000);
    const r = await guestPacemaker(['install'], 240_000);
    assert.equal(r.code, 0, r.out);
    figure(`n${me} Pacemaker install in the guest: ${r.ms} ms`);
  });

  if (me === 2) {
    it('n2: ocf-tester passes on ocf:o2stack:o2stack-o2cb (o2cb stack, a one-node cluster.conf)', function () {
      this.timeout(900_000);
      writeFileSync('/tmp/o2cb-ocf.conf', 'cluster:\n\tnode_count = 1\n\tname = octest\n\nnode:\n\tip_port = 7777\n\tip_address = 192.0.2.2\n\tnumber = 2\n\tname = n2\n\tcluster = octest\n');
      const t0 = Date.now();
      const r = pcmk('ocf-tester', ['-n', 'o2cb-test', '-o', 'config=/tmp/o2cb-ocf.conf', '-o', 'node=n2', `${OCF_DIR}/o2stack-o2cb`], 840_000);
      console.log(r.out + r.err);
      assert.equal(r.code, 0, `ocf-tester exit ${r.code}`);
      assert.match(r.out, /passed all tests/);
      figure(`n2 ocf-tester o2stack-o2cb: ${Date.now() - t0} ms`);
    });
  }

  it('selects the user stack and starts corosync (cluster demo, both nodes, quorate)', async function () {
    this.timeout(900_000);
    flags.raise('ready-for-corosync');
    assert.ok(await peerFlag('ready-for-corosync', 840_000), 'the peer never got ready for corosync');
    assert.ok(await selectStack(k, nativeSystem, 'pcmk'), 'selectStack');
    const cs = await startCorosync({ clusterName: 'demo', waitS: 300 });
    figure(`n${me} corosync start -> 2 members quorate: ${cs.ms} ms`);
  });

  it('starts Pacemaker (pacemakerd without systemd): both nodes online, a DC elected', async function () {
    this.timeout(600_000);
    const r = await guestPacemaker(['start', '2', '360'], 420_000, true);
    assert.equal(r.code, 0, r.out);
    const m = /online after (\d+) ms/.exec(r.out);
    figure(`n${me} pacemakerd start -> 2 nodes online with a DC: ${m?.[1] ?? '?'} ms`);
    const mon = crmMon();
    assert.match(mon, /Online: \[ n1 n2 \]/, mon);
  });

  if (me === 1) {
    it('n1: ocf-tester passes on ocf:o2stack:o2stack-daemon (on corosync, stonith-enabled unset = true)', function () {
      this.timeout(900_000);
      const t0 = Date.now();
      const r = pcmk('ocf-tester', ['-n', 'o2d-test', '-o', 'logfile=/tmp/o2d-ocf-tester.log', `${OCF_DIR}/o2stack-daemon`], 840_000);
      console.log(r.out + r.err);
      assert.equal(r.code, 0, `ocf-tester exit ${r.code}${existsSync('/tmp/o2d-ocf-tester.log') ? `\n${readFileSync('/tmp/o2d-ocf-tester.log', 'utf8').split('\n').slice(-30).join('\n')}` : ''}`);
      assert.match(r.out, /passed all tests/);
      figure(`n1 ocf-tester o2stack-daemon: ${Date.now() - t0} ms`);
    });

    it('n1: stonith-enabled=false refuses the daemon\'s start (OCF_ERR_CONFIGURED, with the reason)', function () {
      this.timeout(300_000);
      must('crm_attribute', ['--type', 'crm_config', '--name', 'stonith-enabled', '--update', 'false']);
      const r = pcmk(`${OCF_DIR}/o2stack-daemon`, ['start'], 240_000);
      assert.equal(r.code, 6, `exit ${r.code}\n${r.out}${r.err}`);
      assert.match(r.err, /ocf-exit-reason:stonith-enabled=false in the cluster/);
    });

    it('n1 configures the cluster with cibadmin: stonith device, o2stack-daemon clone, Filesystem clone, order + colocation', function () {
      this.timeout(300_000);
      configureCluster();
      tConfigured = Date.now();
      flags.raise('configured');
    });
  } else {
    it('n2 waits for n1 to configure the cluster', async function () {
      this.timeout(1_500_000);
      assert.ok(await peerFlag('configured', 1_400_000), 'n1 never configured the cluster (or failed before)');
      tConfigured = Date.now();
    });
  }

  it('Pacemaker starts the daemon, then mounts the volume here (Filesystem, through o2stack\'s mount.ocfs2); crm_mon shows both clones on both nodes', async function () {
    this.timeout(1_200_000);
    const ok = await waitFor(() => {
      const mon = crmMon();
      return mountLine() !== undefined && cloneStartedOn(mon, 'fs-clone').length === 2 && cloneStartedOn(mon, 'o2stack-daemon-clone').length === 2;
    }, 1_100_000, 3000);
    const mon = crmMon();
    console.log(mon);
    assert.ok(ok, `not mounted and started on both within the limit:\n${mon}`);
    figure(`n${me} CIB configured -> daemon and Filesystem clones started on both nodes, mounted here: ${Date.now() - tConfigured} ms`);
    assert.deepEqual(cloneStartedOn(mon, 'o2stack-daemon-clone'), ['n1', 'n2']);
    assert.deepEqual(cloneStartedOn(mon, 'fs-clone'), ['n1', 'n2']);
    assert.match(mon, /fence-test\s+\(stonith:fence_o2test\):\s+Started n[12]/);
    assert.match(mountLine()!, /cluster_stack=pcmk/);
    const st = JSON.parse(cli(['daemon-ctl', 'status', '--json']).out) as { fencing: { mode: string } };
    assert.equal(st.fencing.mode, 'pacemaker');
  });

  it('writes a file and reads the one the peer wrote', async function () {
    this.timeout(300_000);
    writeFileSync(`${MNT}/from-n${me}.txt`, `written on n${me}\n`);
    execFileSync('sync');
    flags.raise('wrote');
    assert.ok(await peerFlag('wrote', 240_000), 'the peer never wrote');
    assert.ok(await waitFor(() => existsSync(`${MNT}/from-n${peer}.txt`), 60_000, 500), "the peer's file is not visible");
    assert.equal(readFileSync(`${MNT}/from-n${peer}.txt`, 'utf8'), `written on n${peer}\n`);
  });

  if (me === 2) {
    it('n2 now dies with the volume mounted, holding a cluster flock (the VM powers off when this suite ends)', async function () {
      this.timeout(300_000);
      assert.ok(await announceDeathHoldingFlock(MNT, 240_000), 'n1 never said it was watching');
    });
  } else {
    it('n1: n2 dies; Pacemaker fences it exactly once (fence_o2test), the daemon recovers the lockspace, n1 writes again', async function () {
      this.timeout(900_000);
      const { announced, flockBusy } = await awaitDeathAnnounced(MNT, 240_000);
      assert.ok(announced, 'n2 never announced its death');
      assert.ok(flockBusy, 'the flock n2 holds was free on n1');
      const tAnnounced = Date.now();
      assert.ok(await waitFor(() => !answersPing('192.0.2.2'), 240_000, 100), 'n2 still answers ping');
      const tGone = Date.now();
      const w = await writeUnderFlock('after-death.txt', 'written on n1 after n2 died', 600_000);
      const tWritable = Date.now();
      assert.ok(w.ok, `write after n2's death failed or hung: ${w.out}`);
      // give a second fencing (if any) time to show
      await new Promise((r) => setTimeout(r, 20_000));
      const fenceLines = existsSync(FENCE_O2TEST_LOG) ? readFileSync(FENCE_O2TEST_LOG, 'utf8').trim().split('\n').filter(Boolean) : [];
      console.log(`fence_o2test's record on n1:\n${fenceLines.join('\n')}`);
      const history = must('stonith_admin', ['--history', 'n2']);
      console.log(`stonith_admin --history n2:\n${history}`);
      const log = readDaemonLog(DLOG).filter((l) => Date.parse(l.t) >= tAnnounced);
      console.log(log.filter((l) => /quorum|model|fence|ops/.test(l.event)).slice(-30).map((l) => `o2stack daemon: ${l.t} ${l.event} ${l.msg}`).join('\n'));
      const fenceReq = log.find((l) => l.event === 'fence' && l.nodeid === 2);
      const fenceRes = log.find((l) => l.event === 'fence-result' && l.nodeid === 2 && l.ok === true);
      const restart = log.filter((l) => l.event === 'ops' && l.msg.startsWith(`restart ${uuid} with members 1 (-2;`)).pop();
      assert.equal(fenceLines.filter((l) => / n2 /.test(l)).length, 1, 'fence_o2test did not run exactly once for n2');
      assert.match(fenceLines[0]!, /^(reboot|off) n2 \d+ by n1$/);
      assert.match(history, /(reboot|off) of n2 successful/);
      assert.ok(fenceReq, 'the daemon never asked for node 2 to be fenced');
      assert.ok(fenceRes, `no successful fence result for node 2 in the daemon's log`);
      assert.match(String(fenceRes!.msg), /Pacemaker fencing for node 2: success/);
      assert.ok(restart, 'no lockspace restart without node 2');
      assert.equal(k.tryList(`${C}/comms/2`), undefined, "n2's comm is still there");
      const mon = crmMon();
      console.log(mon);
      assert.match(mon, /OFFLINE: \[ n2 \]/);
      assert.deepEqual(cloneStartedOn(mon, 'fs-clone'), ['n1']);
      assert.deepEqual(cloneStartedOn(mon, 'o2stack-daemon-clone'), ['n1']);
      assert.equal(readFileSync(`${MNT}/after-death.txt`, 'utf8'), 'written on n1 after n2 died\n');
      assert.equal(readFileSync(`${MNT}/from-n2.txt`, 'utf8'), 'written on n2\n');
      const fencedAt = Number(/ n2 (\d+) /.exec(fenceLines[0]!)?.[1]);
      const rel = (t: number | undefined) => (t === undefined ? '?' : `${t - tGone} ms`);
      figure(`n2 stopped answering ping -> n1 writable: ${tWritable - tGone} ms (fence_o2test asked at ${rel(fencedAt)}, daemon fence request ${rel(Date.parse(fenceReq!.t))}, result ${rel(Date.parse(fenceRes!.t))}, lockspace restarted ${rel(restart ? Date.parse(restart.t) : undefined)})`);
    });
  }
});
