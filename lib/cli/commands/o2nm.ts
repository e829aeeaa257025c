// o2stack plan | apply | show: the o2cb cluster in configfs.
import type { Command } from 'commander';
import type { O2nmPlan, PlanStep } from '../../model/o2nmPlan.js';
import { type GlobalOptions, printJson, writeOut } from '../output.js';

interface PlanOptions extends GlobalOptions {
  cluster?: string;
  node?: string;
  keepUnknownNodes?: boolean;
  dryRun?: boolean;
  defaults?: string;
}

async function backendFor(root: string | undefined) {
  const { NativeBackend } = await import('../../kernel/backend.js');
  return new NativeBackend({ root: root ?? '/' });
}

async function plannedFromOptions(o: PlanOptions) {
  const [{ loadStartup }, { planFromCluster, hostIPv4Addresses }] = await Promise.all([import('../../stack/startup.js'), import('../../stack/o2cbConfig.js')]);
  const file = o.config ?? '/etc/ocfs2/cluster.conf';
  // the same cluster and settings as o2stack start: cluster.conf with the o2cb defaults file
  const s = await loadStartup(file, { defaults: o.defaults, cluster: o.cluster });
  const backend = await backendFor(o.root);
  const hostAddresses = hostIPv4Addresses(o.root ?? '/');
  const planned = planFromCluster(backend, s.cluster, { node: o.node, keepUnknownNodes: o.keepUnknownNodes, timeoutSources: s.sources, configFile: file, ...(hostAddresses ? { hostAddresses } : {}) });
  planned.plan.warnings.unshift(...s.notes);
  return { backend, ...planned };
}

export function stepJson(s: PlanStep) {
  return { op: s.op, path: s.path, ...(s.data !== undefined ? { data: s.data } : {}), why: s.why, ...(s.caveat ? { caveat: s.caveat } : {}) };
}

function printPlan(plan: O2nmPlan, where: string): void {
  const out: string[] = [];
  if (plan.steps.length === 0 && plan.blocked.length === 0) out.push(`cluster '${plan.cluster}' on ${where}: up to date, nothing to do`);
  else out.push(`cluster '${plan.cluster}' on ${where}: ${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'}${plan.localNode ? `, local node '${plan.localNode}'` : ''}`);
  plan.steps.forEach((s, i) => {
    const what = s.op === 'write' ? `write ${JSON.stringify(s.data)} ${s.path}` : `${s.op} ${s.path}`;
    out.push(`  ${String(i + 1).padStart(3)}. ${what}\n       ${s.why}${s.caveat ? ` (${s.caveat})` : ''}`);
  });
  if (plan.blocked.length) {
    out.push('cannot be done on the running kernel:');
    for (const b of plan.blocked) out.push(`  ${b.path}: ${b.reason}\n    fix: ${b.fix}`);
  }
  for (const w of plan.warnings) out.push(`warning: ${w}`);
  writeOut(out.join('\n') + '\n');
}

/** The top-level commands register() adds (the bin runs them from the small bundle, mainO2nm.ts). */
export const O2NM_COMMANDS = ['plan', 'apply', 'show'] as const;

export function register(program: Command): void {
  const common = (c: Command) =>
    c
      .option('--cluster <name>', 'the cluster to use when the file describes several')
      .option('--node <name>', 'this machine’s node name (default: the node named after the host name)')
      .option('--keep-unknown-nodes', 'keep nodes that are in the kernel but not in the configuration')
      .option('--defaults <file>', 'the o2cb defaults file, as for o2stack start ("none" to ignore it)');

  common(program.command('plan').description('show the configfs operations that would make the kernel match the configuration')).action(async (_o, cmd: Command) => {
    const o = cmd.optsWithGlobals<PlanOptions>();
    const { backend, plan } = await plannedFromOptions(o);
    if (o.json) printJson({ cluster: plan.cluster, localNode: plan.localNode ?? null, noop: plan.steps.length === 0 && plan.blocked.length === 0, ops: plan.steps.map(stepJson), blocked: plan.blocked, warnings: plan.warnings });
    else printPlan(plan, backend.description);
    if (plan.blocked.length) process.exitCode = 1;
  });

  common(program.command('apply').description('apply the configuration to configfs (idempotent)'))
    .option('--dry-run', 'plan only; write nothing')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<PlanOptions>();
      const { backend, plan } = await plannedFromOptions(o);
      const { applyO2nmPlan } = await import('../../stack/o2nmApply.js');
      const result = applyO2nmPlan(backend, plan, { dryRun: o.dryRun });
      if (o.json) {
        printJson({ cluster: result.cluster, localNode: plan.localNode ?? null, noop: result.noop, dryRun: result.dryRun, ops: (o.dryRun ? plan.steps : result.applied).map(stepJson), warnings: plan.warnings });
      } else if (o.dryRun) {
        printPlan(plan, `${backend.description} (dry run: nothing written)`);
      } else {
        const msg = result.noop ? `cluster '${result.cluster}' is up to date: nothing to do` : `cluster '${result.cluster}': applied ${result.applied.length} step${result.applied.length === 1 ? '' : 's'} on ${backend.description}`;
        writeOut(msg + '\n' + plan.warnings.map((w) => `warning: ${w}\n`).join(''));
      }
    });

  program
    .command('show')
    .description('the o2cb cluster registered in configfs, read back from the kernel')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const [{ readO2nmState }, { stateToConfig }, { settingsSummary }] = await Promise.all([import('../../kernel/o2nm.js'), import('../../model/o2nmState.js'), import('../../model/o2nmAttributes.js')]);
      const backend = await backendFor(o.root);
      const state = readO2nmState(backend);
      const clusters = state.clusters.map((c) => ({
        ...stateToConfig(c),
        localNode: c.nodes.find((n) => n.local)?.name ?? null,
        nodes: c.nodes.map((n) => ({ name: n.name, number: n.num, ipAddress: n.ipv4Address, port: n.ipv4Port, local: n.local })).sort((a, b) => a.number - b.number),
        regions: c.heartbeat.regions,
      }));
      if (o.json) {
        printJson({ available: state.available, clusters });
      } else if (!state.available) {
        writeOut('no o2cb cluster: configfs is not mounted or ocfs2_nodemanager is not loaded (o2stack start)\n');
      } else if (clusters.length === 0) {
        writeOut('no cluster is registered (o2stack apply --config FILE)\n');
      } else {
        for (const c of clusters) {
          writeOut(
            `cluster ${c.name}: ${c.nodes.length} nodes, heartbeat ${c.heartbeatMode}, ${settingsSummary(c).join(', ')}\n` +
              c.nodes.map((n) => `  ${String(n.number).padStart(3)} ${n.name} ${n.ipAddress}:${n.port}${n.local ? ' (local)' : ''}\n`).join('') +
              c.regions.map((r) => `  region ${r.name} ${r.dev ? `on ${r.dev}, pid ${r.pid}` : '(not started)'}\n`).join(''),
          );
        }
      }
      if (!state.available || clusters.length === 0) process.exitCode = 3;
    });
}
