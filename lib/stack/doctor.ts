// Gathers the facts o2stack doctor judges (lib/model/doctor.ts). Read-only, like status.
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { KernelBackend } from '../kernel/backend.js';
import { scanVolumes } from '../kernel/blockdev.js';
import { downHazard } from '../kernel/control.js';
import { ConfigError } from '../model/errors.js';
import { type DoctorFacts, runChecks } from '../model/doctor.js';
import { defaultsPathFor, loadConfigFile } from './configFile.js';
import { loadStartup } from './startup.js';
import { detectStack } from './detect.js';
import { findPlockServer } from './mount.js';
import { isUserStackMount } from '../model/mounts.js';
import { localAddressProblem } from '../model/localAddress.js';
import { hostIPv4Addresses, planFromCluster, selectCluster, selectLocalNode } from './o2cbConfig.js';

export async function gatherDoctorFacts(b: KernelBackend, configFile: string, options: { root?: string; node?: string } = {}): Promise<DoctorFacts> {
  const det = detectStack(b);
  const root = options.root ?? '/';
  const modDir = join(root, 'lib/modules', det.kernelRelease);
  const kernelHasOcfs2 = det.modules.ocfs2 || (b.tryRead(`/lib/modules/${det.kernelRelease}/modules.dep`) ?? '').includes('/ocfs2.ko') || existsSync(join(modDir, 'kernel/fs/ocfs2'));
  let config: DoctorFacts['config'];
  try {
    config = { clusters: (await loadConfigFile(configFile)).clusters };
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT' || /does not exist|no such file/i.test((e as Error).message)) config = { missing: true };
    else if (e instanceof ConfigError) config = { issues: e.issues };
    else config = { issues: [{ code: 'E_CONF', message: (e as Error).message }] };
  }
  const c = det.o2cb.state.clusters[0];
  let plan: DoctorFacts['plan'] = null;
  if (c && 'clusters' in config) {
    try {
      plan = planFromCluster(b, selectCluster(config.clusters, c.name, configFile), { node: options.node }).plan;
    } catch {
      plan = null; // the configuration has no cluster of that name: reported by the config check
    }
  }
  // the o2cb defaults file, as start reads it: a conflict with cluster.conf is found before start
  let defaults: DoctorFacts['defaults'];
  const where = defaultsPathFor(undefined, configFile);
  if (where && 'clusters' in config) {
    try {
      await loadStartup(configFile, c ? { cluster: c.name } : {});
      defaults = { file: where.path, issues: [] };
    } catch (e) {
      defaults = { file: where.path, issues: e instanceof ConfigError ? e.issues : [{ code: 'E_O2CB_DEFAULTS', message: (e as Error).message }] };
    }
  }
  // before anything is written: the kernel refuses a local node whose address is not this host's
  let localAddress: DoctorFacts['localAddress'];
  const hostAddresses = hostIPv4Addresses(root);
  if (hostAddresses && 'clusters' in config && config.clusters.length) {
    try {
      const cl = selectCluster(config.clusters, c?.name ?? (config.clusters.length === 1 ? undefined : config.clusters[0]!.name), configFile);
      const local = selectLocalNode(cl, options.node);
      const n = local ? cl.nodes.find((x) => x.name === local) : undefined;
      if (n) localAddress = { node: n.name, address: n.ipAddress, problem: localAddressProblem(cl, n.name, hostAddresses, configFile) ?? null };
    } catch {
      /* no such cluster or node: the config and local-node checks say so */
    }
  }
  let hbCtlExecutable = false;
  if (det.hbCtlPath) {
    try {
      accessSync(join(root, det.hbCtlPath), constants.X_OK);
      hbCtlExecutable = true;
    } catch {
      hbCtlExecutable = false;
    }
  }
  let volumes: DoctorFacts['volumes'] = [];
  let volumeScanError: string | undefined;
  try {
    volumes = scanVolumes({ sysRoot: root, devRoot: root }).volumes.map((v) => ({ device: v.device, uuid: v.uuid, stack: v.stack, userStack: v.stack !== null && v.stack.name !== 'o2cb', localMount: v.localMount, heartbeatDevice: v.heartbeatDevice }));
  } catch (e) {
    volumeScanError = (e as Error).message;
  }
  const hz = downHazard();
  // read-only: the daemon's status over its socket, /proc and dlm.conf
  const userStackMounts = det.mounts.filter(isUserStackMount).map((m) => ({ dir: m.dir, options: m.options }));
  const plockServer = userStackMounts.length > 0 ? await findPlockServer() : undefined;
  return {
    kernelRelease: det.kernelRelease,
    kernelHasOcfs2,
    modulesLoaded: { ocfs2: det.modules.ocfs2, o2cbPlugin: det.modules.ocfs2_stack_o2cb, userPlugin: det.modules.ocfs2_stack_user, dlm: det.modules.dlm },
    configfsMounted: det.configfsMounted,
    clusterStack: det.stackglue.clusterStack,
    activePlugin: det.stackglue.activePlugin,
    configFile,
    config,
    registered: c ? { name: c.name, localNode: c.nodes.find((n) => n.local)?.name ?? null, deadThreshold: c.heartbeat.deadThreshold, mode: c.heartbeat.mode, regionsRunning: c.heartbeat.regions.filter((r) => r.dev !== '').length } : null,
    plan,
    ...(localAddress ? { localAddress } : {}),
    ...(defaults ? { defaults } : {}),
    hbCtlPath: det.hbCtlPath,
    hbCtlExecutable,
    dlmfs: det.dlmfs,
    downHazard: { hazardous: hz.hazardous, reason: hz.reason },
    dlm: det.dlm,
    volumes,
    ...(volumeScanError ? { volumeScanError } : {}),
    userStackMounts,
    ...(plockServer ? { plockServer } : {}),
  };
}

export async function doctor(b: KernelBackend, configFile: string, options: { root?: string; node?: string } = {}) {
  const facts = await gatherDoctorFacts(b, configFile, options);
  return { checks: runChecks(facts), facts };
}
