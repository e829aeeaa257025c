// o2stack doctor: every check that can fail, each with the exact command that fixes it. Pure: it
// judges facts gathered by lib/stack/doctor.ts.
import type { ClusterConfig } from './cluster.js';
import type { ConfigIssue } from './errors.js';
import type { LocalAddressProblem } from './localAddress.js';
import type { O2nmPlan } from './o2nmPlan.js';
import { plockWarning, type PlockServer } from './plockWarning.js';
import type { ClusterStack } from './superblock.js';
import { attributeNamed } from './o2nmAttributes.js';

/** ocfs2-tools' minimum dead threshold (O2CB_HEARTBEAT_THRESHOLD's) and its cluster.conf key, from the attribute table */
const DEAD_THRESHOLD_ADVICE = (() => {
  const a = attributeNamed('dead_threshold')!;
  return { min: a.o2cbDefaults!.min, key: a.clusterConf!.key };
})();

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  id: string;
  status: CheckStatus;
  message: string;
  fix?: string;
}

export interface DoctorFacts {
  kernelRelease: string;
  /** the running kernel ships OCFS2 modules (or has them loaded) */
  kernelHasOcfs2: boolean;
  modulesLoaded: { ocfs2: boolean; o2cbPlugin: boolean; userPlugin: boolean; dlm: boolean };
  configfsMounted: boolean;
  clusterStack: string | null;
  activePlugin: string | null;
  configFile: string;
  /** the loaded configuration, or why it could not be loaded */
  config: { clusters: ClusterConfig[] } | { missing: true } | { issues: ConfigIssue[] };
  registered: { name: string; localNode: string | null; deadThreshold: number; mode: string; regionsRunning: number } | null;
  /** plan of the configured cluster against the kernel (when both exist) */
  plan: O2nmPlan | null;
  /** the o2cb defaults file start reads with this configuration: absent when there is none, issues when start would refuse it */
  defaults?: { file: string; issues: ConfigIssue[] };
  /** the local node's address against this host's addresses: null when it is one of them, absent when not checked */
  localAddress?: { node: string; address: string; problem: LocalAddressProblem | null };
  hbCtlPath: string | null;
  hbCtlExecutable: boolean;
  /** ocfs2_dlmfs mounts and the dlm domains open in them */
  dlmfs: { mounted: boolean; dirs: string[]; domains: string[] };
  downHazard: { hazardous: boolean; reason: string };
  dlm: { configured: boolean; recoverCallbacks: boolean | null; clusterName: string | null };
  volumes: { device: string; uuid: string; stack: ClusterStack | null; userStack: boolean; localMount: boolean; heartbeatDevice: boolean }[];
  volumeScanError?: string;
  /** user-stack ocfs2 mounts here (their mount options), and who serves their POSIX locks */
  userStackMounts?: { dir: string; options: string[] }[];
  plockServer?: PlockServer;
}

export function runChecks(f: DoctorFacts): Check[] {
  const checks: Check[] = [];
  const add = (id: string, status: CheckStatus, message: string, fix?: string) => checks.push({ id, status, message, ...(fix ? { fix } : {}) });

  add('kernel', f.kernelHasOcfs2 ? 'ok' : 'fail', f.kernelHasOcfs2 ? `kernel ${f.kernelRelease} has OCFS2` : `kernel ${f.kernelRelease} has no OCFS2 modules (Debian's -cloud kernels are built without OCFS2 and DLM)`, f.kernelHasOcfs2 ? undefined : 'apt-get install linux-image-amd64 (the generic flavour) and boot it');
  add('modules', f.modulesLoaded.ocfs2 ? 'ok' : 'warn', f.modulesLoaded.ocfs2 ? `ocfs2 loaded; stack plugins: ${[f.modulesLoaded.o2cbPlugin ? 'o2cb' : '', f.modulesLoaded.userPlugin ? 'user' : ''].filter(Boolean).join(', ') || 'none'}` : 'the ocfs2 modules are not loaded', f.modulesLoaded.ocfs2 ? undefined : 'o2stack start (o2cb) or o2stack select pcmk (user stack)');
  add('configfs', f.configfsMounted ? 'ok' : 'fail', f.configfsMounted ? 'configfs is mounted at /sys/kernel/config' : 'configfs is not mounted at /sys/kernel/config', f.configfsMounted ? undefined : 'o2stack select o2cb (loads configfs and mounts it)');

  let cluster: ClusterConfig | undefined;
  if ('missing' in f.config) add('config', 'warn', `${f.configFile} does not exist`, `create it: o2stack node add NAME --ip ADDRESS --config ${f.configFile} (or o2stack config convert from cman/corosync)`);
  else if ('issues' in f.config) add('config', 'fail', `${f.configFile} is invalid: ${f.config.issues.map((i) => `${i.line ? `line ${i.line}: ` : ''}${i.message}`).join('; ')}`, `o2stack config check ${f.configFile}`);
  else {
    cluster = f.config.clusters[0];
    add('config', 'ok', `${f.configFile}: ${f.config.clusters.map((c) => `cluster '${c.name}' with ${c.nodes.length} nodes`).join(', ')}`);
  }

  if (f.defaults) {
    const bad = f.defaults.issues;
    add('o2cb-defaults', bad.length ? 'fail' : 'ok', bad.length ? `o2stack start would refuse ${f.defaults.file} with ${f.configFile}: ${bad.map((i) => `${i.line ? `line ${i.line}: ` : ''}${i.message}`).join('; ')}` : `${f.defaults.file} agrees with ${f.configFile}`, bad.length ? bad.map((i) => i.hint).filter(Boolean).join('; ') || `o2stack config check ${f.defaults.file}` : undefined);
  }
  const label = f.clusterStack;
  if (f.localAddress && (label === 'o2cb' || label === null)) {
    const p = f.localAddress.problem;
    add('o2cb-local-address', p ? 'fail' : 'ok', p ? p.message : `the local node '${f.localAddress.node}' has address ${f.localAddress.address}, an address of this host`, p?.fix);
  }
  if (label === 'o2cb' || label === null) {
    if (!f.registered) {
      add('o2cb-cluster', cluster ? 'fail' : 'skip', cluster ? `cluster '${cluster.name}' is not registered in the kernel` : 'no cluster registered', cluster ? 'o2stack start' : undefined);
    } else {
      add('o2cb-cluster', 'ok', `cluster '${f.registered.name}' is registered (heartbeat ${f.registered.mode})`);
      add('o2cb-local-node', f.registered.localNode ? 'ok' : 'fail', f.registered.localNode ? `local node '${f.registered.localNode}'` : 'no node of the cluster is marked local: o2net does not listen and heartbeat cannot start', f.registered.localNode ? undefined : 'o2stack apply --node NAME (the name of this machine in cluster.conf; ocfs2-tools matches `hostname -s`)');
      if (f.plan) {
        const pending = f.plan.steps.length + f.plan.blocked.length;
        add('o2cb-config-match', pending === 0 ? 'ok' : f.plan.blocked.length ? 'fail' : 'warn', pending === 0 ? 'the kernel matches the configuration' : `the kernel differs from the configuration: ${f.plan.steps.length} operation(s) to apply${f.plan.blocked.length ? `, ${f.plan.blocked.length} not possible live (${f.plan.blocked.map((b) => b.reason).join('; ')})` : ''}`, pending === 0 ? undefined : f.plan.blocked.length ? f.plan.blocked.map((b) => b.fix).join('; ') : 'o2stack plan, then o2stack apply');
      }
      const dt = f.registered.deadThreshold;
      const { min, key } = DEAD_THRESHOLD_ADVICE;
      add('o2cb-dead-threshold', dt >= min ? 'ok' : 'warn', `heartbeat dead threshold ${dt} (a node is declared dead after ${(dt - 1) * 2} s)`, dt >= min ? undefined : `set ${key} to at least ${min} (ocfs2-tools minimum) in cluster.conf on every node, then restart the cluster`);
      if (f.registered.mode === 'global' && f.registered.regionsRunning < 3) {
        add('o2cb-global-quorum', 'warn', `${f.registered.regionsRunning} global heartbeat region(s) running: with 3 or fewer, all are pinned while anything is mounted, and losing half of them fences the node`, 'use 3 or more heartbeat devices (heartbeat: stanzas in cluster.conf)');
      }
    }
    if (f.registered) {
      const d = f.dlmfs;
      add(
        'dlmfs',
        d.mounted ? 'ok' : 'warn',
        d.mounted ? `ocfs2_dlmfs is mounted on ${d.dirs.join(', ')}${d.domains.length ? ` (${d.domains.length} dlm domain(s) open: tools holding cluster locks)` : ''}` : 'ocfs2_dlmfs is not mounted: fsck.ocfs2, tunefs.ocfs2 and debugfs.ocfs2 -w cannot take cluster locks',
        d.mounted ? undefined : 'o2stack start (mounts it on /dlm), or mount -t ocfs2_dlmfs ocfs2_dlmfs /dlm',
      );
    }
    add('hb-ctl-helper', f.hbCtlExecutable ? 'ok' : f.hbCtlPath ? 'warn' : 'skip', f.hbCtlExecutable ? `the kernel runs ${f.hbCtlPath} at unmount` : f.hbCtlPath ? `the kernel runs ${f.hbCtlPath} at unmount, but it is missing or not executable: heartbeat regions then stay up until o2stack umount stops them` : 'ocfs2 is not loaded: no unmount helper', f.hbCtlExecutable || !f.hbCtlPath ? undefined : 'o2stack hb-ctl --install');
  } else {
    add('user-stack', f.dlm.configured ? 'ok' : 'warn', `user stack '${label}' selected; fs/dlm ${f.dlm.configured ? `configured (cluster_name '${f.dlm.clusterName ?? ''}')` : 'not configured: mounts will wait for a control daemon'}`, f.dlm.configured ? undefined : 'run the o2stack daemon, or dlm_controld');
    if (f.dlm.configured && f.dlm.recoverCallbacks === false) {
      add('dlm-recover-callbacks', 'warn', 'dlm recover_callbacks is 0: ocfs2 then needs /dev/ocfs2_control and DOWN messages to learn of node deaths', 'write 1 to /sys/kernel/config/dlm/cluster/recover_callbacks before mounting (o2stack daemon does)');
    }
  }
  add('down-hazard', f.downHazard.hazardous ? 'warn' : 'ok', f.downHazard.hazardous ? `legacy node-death path unusable on this kernel: ${f.downHazard.reason}` : `legacy DOWN messages are safe: ${f.downHazard.reason}`, f.downHazard.hazardous ? 'use dlm recovery callbacks (recover_callbacks = 1), never DOWN on /dev/ocfs2_control' : undefined);

  // POSIX locks of the user-stack volumes mounted here: served, or every fcntl lock hangs (or fails)
  const lockMounts = (f.userStackMounts ?? []).filter((m) => !m.options.includes('localflocks'));
  if (lockMounts.length > 0 && f.plockServer) {
    const w = plockWarning({ target: lockMounts.map((m) => m.dir).join(', '), options: [], server: f.plockServer });
    if (w) add('plocks', f.plockServer.who === 'o2stack daemon' ? 'warn' : 'fail', w.message, w.fix);
    else add('plocks', 'ok', `POSIX locks on ${lockMounts.map((m) => m.dir).join(', ')}: ${f.plockServer.detail}`);
  }

  if (f.volumeScanError) add('volumes', 'warn', `could not scan block devices: ${f.volumeScanError}`);
  for (const v of f.volumes) {
    if (v.heartbeatDevice || v.localMount) continue;
    const id = `volume ${v.device}`;
    if (v.userStack && v.stack) {
      if (label !== v.stack.name) add(id, 'warn', `${v.device} (${v.uuid}) uses the '${v.stack.name}' user stack (cluster '${v.stack.clusterName}'); the running stack is '${label ?? 'none'}'`, `o2stack select ${v.stack.name} to mount it, or tunefs.ocfs2 --update-cluster-stack ${v.device} to move it to the running stack`);
      else add(id, 'ok', `${v.device}: user stack '${v.stack.name}', cluster '${v.stack.clusterName}'`);
      continue;
    }
    if (label !== null && label !== 'o2cb') {
      add(id, 'warn', `${v.device} (${v.uuid}) is an o2cb volume; the running stack is '${label}'`, `o2stack select o2cb (with no user-stack volume mounted), or tunefs.ocfs2 --update-cluster-stack ${v.device}`);
    } else if (v.stack && f.registered && v.stack.clusterName !== f.registered.name) {
      add(id, 'warn', `${v.device} (${v.uuid}) belongs to cluster '${v.stack.clusterName}'; the registered cluster is '${f.registered.name}'`, `tunefs.ocfs2 --update-cluster-stack ${v.device} (with the volume unmounted everywhere), or register cluster '${v.stack.clusterName}'`);
    } else if (v.stack && f.registered && (v.stack.globalHeartbeat ? 'global' : 'local') !== f.registered.mode) {
      add(id, 'warn', `${v.device} uses ${v.stack.globalHeartbeat ? 'global' : 'local'} heartbeat; the cluster runs ${f.registered.mode}`, `set heartbeat_mode = ${v.stack.globalHeartbeat ? 'global' : 'local'} in cluster.conf and restart the cluster`);
    } else {
      add(id, 'ok', `${v.device}: o2cb${v.stack ? `, cluster '${v.stack.clusterName}'` : ''}`);
    }
  }
  return checks;
}
