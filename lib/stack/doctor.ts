// Gathers the facts o2stack doctor judges (lib/model/doctor.ts). Read-only, like status.
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { KernelBackend } from '../kernel/backend.js';
import { scanVolumes } from '../kernel/blockdev.js';
import { downHazard } from '../kernel/control.js';
import { ConfigError } from '../model/errors.js';
import { type DoctorFacts, runChecks } from '../model/doctor.js';
import { loadConfigFile } from './configFile.js';
import { detectStack } from './detect.js';
import { findPlockServer } from './mount.js';
import { isUserStackMount } from '../model/mounts.js';
import { planFromCluster, selectCluster } from './o2cbConfig.js';

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
