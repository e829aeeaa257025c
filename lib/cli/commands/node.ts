// o2stack node add | remove | list: edit the cluster configuration (written atomically under a
// lock), and with --apply make the running kernel match it (nodes are added and removed live where
// the kernel allows it).
import type { Command } from 'commander';
import { CliError, EXIT, type GlobalOptions, printJson, writeOut } from '../output.js';

interface NodeOptions extends GlobalOptions {
  cluster?: string;
  ip?: string;
  port?: string;
  number?: string;
  apply?: boolean;
  dryRun?: boolean;
  node?: string;
}

async function editConfig(o: NodeOptions, change: (clusters: import('../../model/cluster.js').ClusterConfig[]) => { clusters: import('../../model/cluster.js').ClusterConfig[]; node: import('../../model/cluster.js').NodeConfig }) {
  const [{ loadConfigFile, updateFileAtomic, missingConfigError }, { parseAny }, { formatClusterConf }, { formatJsonConfig }] = await Promise.all([
    import('../../stack/configFile.js'),
    import('../../config/detect.js'),
    import('../../config/clusterConf.js'),
    import('../../config/json.js'),
  ]);
  const file = o.config ?? '/etc/ocfs2/cluster.conf';
  // the read, the change and the write happen under the file's lock: concurrent edits (two
  // `node add` choosing the lowest free number) serialize instead of overwriting each other
  const edit = (loaded: { format: string; clusters: import('../../model/cluster.js').ClusterConfig[] }) => {
    if (loaded.format !== 'ocfs2' && loaded.format !== 'json') {
      throw new CliError(`${file} is a ${loaded.format} file; o2stack edits ocfs2 cluster.conf and JSON files only`, EXIT.FAILED, `convert it first: o2stack config convert --to ocfs2 ${file} > /etc/ocfs2/cluster.conf`);
    }
    const r = change(loaded.clusters);
    return { ...r, text: loaded.format === 'json' ? formatJsonConfig(r.clusters) : formatClusterConf(r.clusters) };
  };
  let result: ReturnType<typeof edit> | undefined;
  // a cluster with no nodes yet can be edited (its first node is added here)
  if (o.dryRun) result = edit(await loadConfigFile(file, { allowNoNodes: true }));
  else {
    await updateFileAtomic(file, (current) => {
      if (current === undefined) throw missingConfigError(file);
      result = edit(parseAny(current, { file, allowNoNodes: true }));
      return result.text;
    });
  }
  const { clusters, node, text } = result!;
  let applied: unknown = null;
  if (o.apply && !o.dryRun) {
    const [{ NativeBackend }, { selectCluster, planFromCluster }, { applyO2nmPlan }] = await Promise.all([import('../../kernel/backend.js'), import('../../stack/o2cbConfig.js'), import('../../stack/o2nmApply.js')]);
    const b = new NativeBackend({ root: o.root ?? '/' });
    const { plan } = planFromCluster(b, selectCluster(clusters, o.cluster, file), { node: o.node });
    applied = applyO2nmPlan(b, plan).applied.length;
  }
  return { file, text, node, applied };
}

export function register(program: Command): void {
  const node = program.command('node').description('add, remove or list the nodes of the cluster configuration');
  node
    .command('add <name>')
    .description('add a node to the configuration (number: the lowest free one unless given; port 7777)')
    .requiredOption('--ip <address>', 'the IPv4 address o2net uses on that node')
    .option('--port <port>', 'o2net port', '7777')
    .option('--number <n>', 'node number 0–254 (default: the lowest unused)')
    .option('--cluster <name>', 'the cluster, when the file describes several')
    .option('--apply', 'also add it to the running kernel (o2stack apply)')
    .option('--node <name>', 'with --apply: this machine’s node name')
    .option('--dry-run', 'print the new configuration; write nothing')
    .action(async (name: string, _o, cmd: Command) => {
      const o = cmd.optsWithGlobals<NodeOptions>();
      const { addNode } = await import('../../config/edit.js');
      const num = o.number === undefined ? undefined : Number(o.number);
      const port = Number(o.port);
      const r = await editConfig(o, (clusters) => addNode(clusters, o.cluster, { name, ipAddress: o.ip!, port, number: num }));
      if (o.json) return printJson({ added: r.node, file: r.file, written: !o.dryRun, appliedSteps: r.applied });
      if (o.dryRun) return void writeOut(r.text);
      writeOut(`added node '${r.node.name}' (number ${r.node.number}, ${r.node.ipAddress}:${r.node.port}) to ${r.file}${r.applied !== null ? `; applied ${r.applied} configfs operations` : ''}\n`);
    });
  node
    .command('remove <name>')
    .description('remove a node from the configuration')
    .option('--cluster <name>', 'the cluster, when the file describes several')
    .option('--apply', 'also remove it from the running kernel (refused by the kernel while it is connected)')
    .option('--node <name>', 'with --apply: this machine’s node name')
    .option('--dry-run', 'print the new configuration; write nothing')
    .action(async (name: string, _o, cmd: Command) => {
      const o = cmd.optsWithGlobals<NodeOptions>();
      const { removeNode } = await import('../../config/edit.js');
      const r = await editConfig(o, (clusters) => removeNode(clusters, o.cluster, name));
      if (o.json) return printJson({ removed: r.node, file: r.file, written: !o.dryRun, appliedSteps: r.applied });
      if (o.dryRun) return void writeOut(r.text);
      writeOut(`removed node '${r.node.name}' from ${r.file}${r.applied !== null ? `; applied ${r.applied} configfs operations` : ''}\n`);
    });
  node
    .command('list')
    .description('the nodes of the configuration')
    .option('--cluster <name>', 'the cluster, when the file describes several')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<NodeOptions>();
      const [{ loadConfigFile }, { selectCluster }] = await Promise.all([import('../../stack/configFile.js'), import('../../stack/o2cbConfig.js')]);
      const file = o.config ?? '/etc/ocfs2/cluster.conf';
      const c = selectCluster((await loadConfigFile(file)).clusters, o.cluster, file);
      const nodes = [...c.nodes].sort((a, b) => a.number - b.number).map((n) => ({ name: n.name, number: n.number, ipAddress: n.ipAddress, port: n.port }));
      if (o.json) return printJson({ cluster: c.name, nodes });
      writeOut(`cluster ${c.name}: ${nodes.length} nodes\n` + nodes.map((n) => `  ${String(n.number).padStart(3)} ${n.name} ${n.ipAddress}:${n.port}\n`).join(''));
    });
}
