// o2stack detect | select | start | stop: the cluster stack itself.
import type { Command } from 'commander';
import { type GlobalOptions, printJson, writeOut } from '../output.js';

async function backend(o: GlobalOptions) {
  const { NativeBackend } = await import('../../kernel/backend.js');
  return new NativeBackend({ root: o.root ?? '/' });
}

async function system(o: GlobalOptions) {
  const { nativeSystem } = await import('../../kernel/system.js');
  if (o.root && o.root !== '/') {
    // A chroot or fake tree: never load modules or mount on the host for it.
    const { UsageError } = await import('../output.js');
    const refuse = async (what: string) => {
      throw new UsageError(`--root ${o.root}: refusing to ${what} on the running system for another root`, 'load modules and mount configfs on the running kernel without --root');
    };
    return { modprobe: (m: string) => refuse(`modprobe ${m}`), mount: (_s: string, t: string) => refuse(`mount ${t}`), umount: (t: string) => refuse(`umount ${t}`) };
  }
  return nativeSystem;
}

export function register(program: Command): void {
  program
    .command('detect')
    .description('which cluster stack is loaded and selected (read-only: loads nothing, mounts nothing)')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const { detectStack } = await import('../../stack/detect.js');
      const d = detectStack(await backend(o));
      if (o.json) return printJson(d);
      const yes = (v: boolean) => (v ? 'yes' : 'no');
      const lines = [
        `kernel ${d.kernelRelease}`,
        `modules: ${Object.entries(d.modules).map(([m, v]) => `${m}${v ? '' : ' (not loaded)'}`).join(', ')}`,
        `configfs mounted: ${yes(d.configfsMounted)}`,
        `stack label (cluster_stack): ${d.stackglue.clusterStack ?? 'none (ocfs2_stackglue not loaded)'}`,
        `loaded plugins: ${d.stackglue.loadedPlugins.join(', ') || 'none'}; active plugin: ${d.stackglue.activePlugin ?? 'none (nothing mounted)'}`,
        `dlm recovery callbacks supported: ${yes(d.stackglue.recoverCallbackSupport)}`,
        `o2cb cluster registered: ${d.o2cb.state.clusters.map((c) => c.name).join(', ') || 'none'}`,
        `fs/dlm configured: ${yes(d.dlm.configured)}${d.dlm.clusterName ? ` (cluster_name ${d.dlm.clusterName})` : ''}`,
        `unmount helper (hb_ctl_path): ${d.hbCtlPath ?? 'n/a'}`,
        `OCFS2 mounts: ${d.mounts.map((m) => `${m.device} on ${m.dir}`).join(', ') || 'none'}`,
        `stack in use: ${d.stack ?? 'none'}`,
      ];
      writeOut(lines.join('\n') + '\n');
    });

  program
    .command('status')
    .description('the stack, the o2cb cluster and its nodes (heartbeating, connected), regions and mounts; exit 3 when offline')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const { readStatus, formatStatus } = await import('../../stack/status.js');
      const s = readStatus(await backend(o));
      if (o.json) printJson(s);
      else writeOut(formatStatus(s));
      if (!s.online) process.exitCode = 3;
    });

  program
    .command('doctor')
    .description('check everything that can go wrong, each problem with the command that fixes it (exit 1 if any check fails)')
    .option('--node <name>', 'this machine’s node name (default: the node named after the host name)')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { node?: string }>();
      const { doctor } = await import('../../stack/doctor.js');
      const { checks } = await doctor(await backend(o), o.config ?? '/etc/ocfs2/cluster.conf', { root: o.root, node: o.node });
      const failed = checks.filter((c) => c.status === 'fail').length;
      if (o.json) printJson({ ok: failed === 0, checks });
      else {
        const mark = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' } as const;
        writeOut(checks.map((c) => `${mark[c.status]} ${c.message}${c.fix ? `\n     fix: ${c.fix}` : ''}\n`).join('') + `${failed ? `${failed} check(s) failed` : 'no failed checks'}\n`);
      }
      if (failed) process.exitCode = 1;
    });

  program
    .command('select <label>')
    .description('select the cluster stack: o2cb, or a 4-character user-stack label such as pcmk (loads modules, mounts configfs)')
    .action(async (label: string, _o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const { selectStack } = await import('../../stack/select.js');
      const r = await selectStack(await backend(o), await system(o), label);
      if (o.json) return printJson(r);
      writeOut(r.actions.length ? r.actions.map((a) => `${a}\n`).join('') + `stack '${label}' selected\n` : `stack '${label}' was already selected: nothing to do\n`);
    });

  program
    .command('start')
    .description('start the o2cb cluster from the configuration (idempotent)')
    .option('--cluster <name>', 'the cluster to start when the file describes several')
    .option('--node <name>', 'this machine’s node name (default: the node named after the host name)')
    .option('--hb-ctl-path <path>', 'install this program as the kernel’s unmount helper')
    .option('--defaults <file>', 'the o2cb defaults file (O2CB_BOOTCLUSTER, threshold, timeouts); default with the system cluster.conf: /etc/sysconfig/o2cb or /etc/default/o2cb; "none" to ignore it')
    .option('--if-enabled', 'do nothing (exit 0) unless the defaults file says O2CB_ENABLED=true (the systemd unit uses this)')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { cluster?: string; node?: string; hbCtlPath?: string; defaults?: string; ifEnabled?: boolean }>();
      const [{ loadStartup, enabledWhere }, { startO2cb }, { hostIPv4Addresses }] = await Promise.all([import('../../stack/startup.js'), import('../../stack/o2cb.js'), import('../../stack/o2cbConfig.js')]);
      const file = o.config ?? '/etc/ocfs2/cluster.conf';
      const s = await loadStartup(file, { defaults: o.defaults, cluster: o.cluster });
      if (o.ifEnabled && s.defaultsFile && s.enabled !== true) {
        const msg = `O2CB_ENABLED is not true (${enabledWhere(s)}): not starting`;
        if (o.json) return printJson({ cluster: s.cluster.name, started: false, reason: msg, fix: `o2stack configure --enabled true --defaults ${s.defaultsFile}` });
        return void writeOut(`${msg} (to start at boot: o2stack configure --enabled true --defaults ${s.defaultsFile})\n`);
      }
      const hostAddresses = hostIPv4Addresses(o.root ?? '/');
      const r = await startO2cb(await backend(o), await system(o), s.cluster, { node: o.node, hbCtlPath: o.hbCtlPath, timeoutSources: s.sources, configFile: file, ...(hostAddresses ? { hostAddresses } : {}) });
      const warnings = [...s.notes, ...r.plan.warnings, ...r.warnings];
      if (o.json) return printJson({ cluster: r.cluster, localNode: r.localNode, alreadyRunning: r.alreadyRunning, actions: r.actions, regions: r.regions, defaultsFile: s.defaultsFile ?? null, timeoutSources: s.sources, warnings });
      writeOut(
        (r.alreadyRunning ? `cluster '${r.cluster}' is already running: nothing to do\n` : r.actions.map((a) => `${a}\n`).join('') + `cluster '${r.cluster}' is online${r.localNode ? ` (local node '${r.localNode}')` : ''}${r.regions.length ? `; global heartbeat started on ${r.regions.length} region(s)` : ''}\n`) +
          warnings.map((w) => `warning: ${w}\n`).join(''),
      );
    });

  program
    .command('stop [cluster]')
    .description('stop the o2cb cluster: unregister it (or only CLUSTER) from configfs (refused while volumes are mounted)')
    .action(async (name: string | undefined, _o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const { stopO2cb } = await import('../../stack/o2cb.js');
      const r = await stopO2cb(await backend(o), await system(o), name);
      if (o.json) return printJson(r);
      writeOut(r.alreadyStopped ? 'no o2cb cluster is registered: nothing to do\n' : r.actions.map((a) => `${a}\n`).join(''));
    });
}
