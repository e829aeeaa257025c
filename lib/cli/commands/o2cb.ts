// o2stack o2cb VERB ...: o2cb(8)'s verbs, arguments and options (the configuration edited
// atomically under a lock, the kernel where o2cb touches it, list-* in o2cb's exact formats), and
// o2stack configure: the o2cb defaults file written non-interactively, as `o2cb.init configure`
// and `dpkg-reconfigure ocfs2-tools` do.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import type { ClusterConfig } from '../../model/cluster.js';
import { configureOption, displayed } from '../../model/o2nmAttributes.js';
import { CliError, EXIT, type GlobalOptions, printJson, writeErr, writeOut } from '../output.js';

/** `configure`'s options for the o2nm settings of /etc/default/o2cb, in the summaries' order. */
const CONFIGURE_OPTIONS = displayed().flatMap((a) => configureOption(a) ?? []);

interface O2cbOptions extends GlobalOptions {
  configFile?: string;
  verbose?: boolean;
  oneline?: boolean;
  ip?: string;
  port?: string;
  number?: string;
  node?: string;
}

const confPath = (o: O2cbOptions) => o.configFile ?? o.config ?? '/etc/ocfs2/cluster.conf';

async function readConf(file: string) {
  const [{ readTextOrMissing }, { readO2cbConf }] = await Promise.all([import('../../stack/configFile.js'), import('../../config/o2cbVerbs.js')]);
  return readO2cbConf(readTextOrMissing(file), file); // missing: no clusters, as in o2cb
}

/** Read-modify-write of cluster.conf under its lock; returns the clusters written. */
async function editConf(o: O2cbOptions, change: (conf: import('../../config/o2cbVerbs.js').O2cbConf, file: string) => ClusterConfig[]): Promise<ClusterConfig[]> {
  // node built-ins are imported statically: the bundled CLI runs from a V8 code cache, where a
  // dynamic import() of a built-in has no loader ("A dynamic import callback was not specified")
  const [{ updateFileAtomic }, { readO2cbConf }, { formatClusterConf }] = await Promise.all([import('../../stack/configFile.js'), import('../../config/o2cbVerbs.js'), import('../../config/clusterConf.js')]);
  const file = confPath(o);
  mkdirSync(dirname(file), { recursive: true }); // o2cb makes /etc/ocfs2 too
  let out: ClusterConfig[] = [];
  await updateFileAtomic(file, (text) => {
    out = change(readO2cbConf(text, file), file);
    return formatClusterConf(out);
  });
  return out;
}

function int(v: string | undefined, what: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= max)) throw new CliError(`${what} ${JSON.stringify(v)}: expected an integer from ${min} to ${max}`, EXIT.USAGE);
  return n;
}

async function backend(o: GlobalOptions) {
  const { NativeBackend } = await import('../../kernel/backend.js');
  return new NativeBackend({ root: o.root ?? '/' });
}

/** A heartbeat argument: a device path (its UUID is read from the superblock) or a UUID. */
async function regionOf(arg: string): Promise<string> {
  if (!arg.startsWith('/')) {
    const { normalizeRegion } = await import('../../config/o2cbVerbs.js');
    return normalizeRegion(arg);
  }
  const { inspectVolume } = await import('../../kernel/blockdev.js');
  try {
    return inspectVolume(arg).superblock.uuid;
  } catch (e) {
    throw new CliError(`${arg}: cannot read an OCFS2 superblock: ${(e as Error).message}`, EXIT.FAILED, 'give a heartbeat device made with mkfs.ocfs2 -H (or any OCFS2 volume), or its UUID');
  }
}

async function resolveIPv4(name: string): Promise<string> {
  const { lookupIPv4 } = await import('../../stack/o2cbVerbs.js');
  try {
    return await lookupIPv4(name);
  } catch (e) {
    throw new CliError(`cannot find an IPv4 address for host '${name}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, EXIT.FAILED, `pass it: o2stack o2cb add-node --ip ADDRESS CLUSTER ${name}`);
  }
}

export function register(program: Command): void {
  const o2cb = program
    .command('o2cb')
    .description("o2cb(8)'s verbs: edit cluster.conf (atomically), register/unregister the cluster, global heartbeat, listings in o2cb's formats")
    .option('--config-file <path>', 'cluster.conf to use (o2cb’s option; the same as --config)')
    .option('-v, --verbose', 'say what was changed');

  const verb = (name: string, args: string, description: string) => o2cb.command(`${name}${args ? ` ${args}` : ''}`).description(description);
  const opts = (cmd: Command) => cmd.optsWithGlobals<O2cbOptions>();
  const done = (o: O2cbOptions, json: Record<string, unknown>, text: string) => {
    if (o.json) printJson(json);
    else if (o.verbose && text) writeErr(`${text}\n`);
  };

  verb('add-cluster', '<cluster>', 'add a cluster (local heartbeat, no nodes) to the configuration').action(async (name: string, _o, cmd: Command) => {
    const o = opts(cmd);
    const { addCluster } = await import('../../config/o2cbVerbs.js');
    await editConf(o, (conf) => addCluster(conf, name));
    done(o, { added: { cluster: name }, file: confPath(o) }, `added cluster '${name}' to ${confPath(o)}`);
  });
  verb('remove-cluster', '<cluster>', 'remove a cluster with its nodes and heartbeat regions from the configuration').action(async (name: string, _o, cmd: Command) => {
    const o = opts(cmd);
    const { removeCluster } = await import('../../config/o2cbVerbs.js');
    await editConf(o, (conf, file) => removeCluster(conf, name, file));
    done(o, { removed: { cluster: name }, file: confPath(o) }, `removed cluster '${name}' from ${confPath(o)}`);
  });
  verb('add-node', '<cluster> <node>', 'add a node (address: --ip, else the host name looked up; port 7777; number: the lowest free)')
    .option('--ip <address>', 'IPv4 address o2net uses on that node')
    .option('--port <port>', 'o2net port (default 7777)')
    .option('--number <n>', 'node number 0–254 (default: the lowest unused)')
    .action(async (cluster: string, node: string, _o, cmd: Command) => {
      const o = opts(cmd);
      const { addNode } = await import('../../config/o2cbVerbs.js');
      const port = int(o.port, '--port', 1, 65534);
      const number = int(o.number, '--number', 0, 254);
      // the cluster must exist before a name is looked up
      const { findCluster } = await import('../../config/o2cbVerbs.js');
      findCluster(await readConf(confPath(o)), cluster, confPath(o));
      const ip = o.ip ?? (await resolveIPv4(node));
      const out = await editConf(o, (conf, file) => addNode(conf, cluster, { name: node, ipAddress: ip, ...(port !== undefined ? { port } : {}), ...(number !== undefined ? { number } : {}) }, file));
      const n = out.find((c) => c.name === cluster)!.nodes.find((x) => x.name === node)!;
      done(o, { added: { ...n, cluster }, file: confPath(o) }, `added node '${node}' (number ${n.number}, ${n.ipAddress}:${n.port}) to cluster '${cluster}' in ${confPath(o)}`);
    });
  verb('remove-node', '<cluster> <node>', 'remove a node from the configuration').action(async (cluster: string, node: string, _o, cmd: Command) => {
    const o = opts(cmd);
    const { removeNode } = await import('../../config/o2cbVerbs.js');
    await editConf(o, (conf, file) => removeNode(conf, cluster, node, file));
    done(o, { removed: { node, cluster }, file: confPath(o) }, `removed node '${node}' from cluster '${cluster}' in ${confPath(o)}`);
  });
  verb('add-heartbeat', '<cluster> <uuid-or-device>', 'add a global heartbeat region (a device’s UUID is read from its superblock)').action(async (cluster: string, arg: string, _o, cmd: Command) => {
    const o = opts(cmd);
    const { addHeartbeat } = await import('../../config/o2cbVerbs.js');
    const region = await regionOf(arg);
    const out = await editConf(o, (conf, file) => addHeartbeat(conf, cluster, region, file));
    const local = out.find((c) => c.name === cluster)?.heartbeatMode === 'local';
    if (local && !o.json) writeErr(`warning: cluster '${cluster}' uses local heartbeat: regions are used in global mode only (o2stack o2cb heartbeat-mode ${cluster} global)\n`);
    done(o, { added: { region, cluster }, file: confPath(o), ...(local ? { warnings: ['regions are used in global heartbeat mode only'] } : {}) }, `added heartbeat region ${region} to cluster '${cluster}'`);
  });
  verb('remove-heartbeat', '<cluster> <uuid-or-device>', 'remove a global heartbeat region from the configuration').action(async (cluster: string, arg: string, _o, cmd: Command) => {
    const o = opts(cmd);
    const { removeHeartbeat } = await import('../../config/o2cbVerbs.js');
    const region = await regionOf(arg);
    await editConf(o, (conf, file) => removeHeartbeat(conf, cluster, region, file));
    done(o, { removed: { region, cluster }, file: confPath(o) }, `removed heartbeat region ${region} from cluster '${cluster}'`);
  });
  verb('heartbeat-mode', '<cluster> <mode>', 'set the heartbeat mode: local or global').action(async (cluster: string, mode: string, _o, cmd: Command) => {
    const o = opts(cmd);
    const { setHeartbeatMode } = await import('../../config/o2cbVerbs.js');
    await editConf(o, (conf, file) => setHeartbeatMode(conf, cluster, mode, file));
    done(o, { cluster, heartbeatMode: mode.toLowerCase(), file: confPath(o) }, `cluster '${cluster}': heartbeat mode ${mode.toLowerCase()}`);
  });

  verb('list-clusters', '', 'the cluster names, one a line').action(async (_o, cmd: Command) => {
    const o = opts(cmd);
    const conf = await readConf(confPath(o));
    if (o.json) return printJson({ clusters: conf.clusters.map((c) => c.name) });
    writeOut(conf.clusters.map((c) => `${c.name}\n`).join(''));
  });
  for (const [name, part, what] of [
    ['list-cluster', 'cluster', 'the heartbeat regions, nodes and cluster stanza'],
    ['list-nodes', 'nodes', 'the nodes'],
    ['list-heartbeats', 'heartbeats', 'the heartbeat regions'],
  ] as const) {
    verb(name, '<cluster>', `${what} of a cluster, as o2cb prints them (--oneline: one a line)`)
      .option('--oneline', 'one line each: "heartbeat: REGION CLUSTER", "node: NUM NAME IP:PORT CLUSTER", "cluster: COUNT MODE NAME"')
      .action(async (cluster: string, _o, cmd: Command) => {
        const o = opts(cmd);
        const { findCluster, formatListing, listingJson } = await import('../../config/o2cbVerbs.js');
        const conf = await readConf(confPath(o));
        const c = findCluster(conf, cluster, confPath(o));
        if (o.json) return printJson(listingJson(conf, c, part));
        writeOut(formatListing(conf, c, part, o.oneline === true));
      });
  }

  verb('register-cluster', '<cluster>', 'register the cluster and its nodes in configfs (idempotent; a failure undoes this run)')
    .option('--node <name>', 'this machine’s node name (default: the node named after the host name)')
    .action(async (cluster: string, _o, cmd: Command) => {
      const o = opts(cmd);
      const [{ findCluster }, { registerCluster }, { hostIPv4Addresses }] = await Promise.all([import('../../config/o2cbVerbs.js'), import('../../stack/o2cbVerbs.js'), import('../../stack/o2cbConfig.js')]);
      const c = findCluster(await readConf(confPath(o)), cluster, confPath(o));
      const hostAddresses = hostIPv4Addresses(o.root ?? '/');
      const r = registerCluster(await backend(o), c, { node: o.node, configFile: confPath(o), ...(hostAddresses ? { hostAddresses } : {}) });
      if (o.json) return printJson(r);
      for (const w of r.warnings) writeErr(`warning: ${w}\n`);
      if (o.verbose) writeErr(`cluster '${cluster}' registered (${r.operations} configfs operations${r.localNode ? `, local node '${r.localNode}'` : ''})\n`);
    });
  verb('unregister-cluster', '<cluster>', 'unregister the cluster from configfs (refused while heartbeat regions are active)').action(async (cluster: string, _o, cmd: Command) => {
    const o = opts(cmd);
    const { unregisterCluster } = await import('../../stack/o2cbVerbs.js');
    const r = unregisterCluster(await backend(o), cluster);
    done(o, r, r.actions.join('\n'));
  });
  verb('start-heartbeat', '<cluster>', 'start global heartbeat on every configured region (nothing in local mode)').action(async (cluster: string, _o, cmd: Command) => {
    const o = opts(cmd);
    const [{ findCluster }, { startHeartbeat }] = await Promise.all([import('../../config/o2cbVerbs.js'), import('../../stack/o2cbVerbs.js')]);
    const c = findCluster(await readConf(confPath(o)), cluster, confPath(o));
    const r = await startHeartbeat(await backend(o), c);
    if (o.json) return printJson(r);
    for (const w of r.warnings) writeErr(`warning: ${w}\n`);
    if (o.verbose) writeErr(r.actions.map((a) => `${a}\n`).join(''));
    if (r.mode === 'global') writeOut('Global heartbeat started\n');
  });
  verb('stop-heartbeat', '<cluster> [regions...]', 'stop global heartbeat: every region, or only the regions given (UUIDs or devices)').action(async (cluster: string, regions: string[], _o, cmd: Command) => {
    const o = opts(cmd);
    const { stopHeartbeat } = await import('../../stack/o2cbVerbs.js');
    const uuids = await Promise.all(regions.map(regionOf));
    const r = stopHeartbeat(await backend(o), cluster, uuids);
    if (o.json) return printJson(r);
    if (r.notRunning.length && uuids.length) writeErr(`warning: not running: ${r.notRunning.join(', ')}\n`);
    if (o.verbose) writeErr(r.stopped.map((u) => `stopped heartbeat region ${u}\n`).join(''));
    if (r.mode === 'global' && !uuids.length) writeOut('Global heartbeat stopped\n');
  });
  verb('cluster-status', '[cluster]', "says whether the cluster is online; exit 0 if it is, 1 if not").action(async (cluster: string | undefined, _o, cmd: Command) => {
    const o = opts(cmd);
    const { clusterStatus } = await import('../../stack/o2cbVerbs.js');
    const s = clusterStatus(await backend(o), cluster);
    if (o.json) printJson(s);
    else writeOut(s.cluster ? `Cluster '${s.cluster}' is ${s.online ? 'online' : 'offline'}\n` : 'offline\n');
    if (!s.online) process.exitCode = EXIT.FAILED;
  });

  const configure = program
    .command('configure')
    .description('write the o2cb defaults file (/etc/default/o2cb or /etc/sysconfig/o2cb) non-interactively, atomically and under a lock; comments and other lines are kept')
    .option('--defaults <file>', 'the file (default: /etc/sysconfig/o2cb if it exists, else /etc/default/o2cb)')
    .option('--enabled <bool>', 'O2CB_ENABLED: start the cluster at boot (true|false)')
    .option('--stack <label>', 'O2CB_STACK: o2cb, or a user-stack label such as pcmk')
    .option('--boot-cluster <name>', 'O2CB_BOOTCLUSTER: the cluster to start ("none": none)');
  // the o2nm settings' options, from the attribute table (--heartbeat-threshold, --idle-timeout-ms, …)
  for (const opt of CONFIGURE_OPTIONS) configure.option(opt.flag, opt.help);
  configure
    .option('--dry-run', 'print the new file; write nothing')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & Record<string, string | boolean | undefined>>();
      const [{ updateFileAtomic, O2CB_DEFAULTS_PATHS, readTextIfAny }, { updateO2cbDefaults, formatO2cbDefaults, parseO2cbDefaults }] = await Promise.all([import('../../stack/configFile.js'), import('../../config/o2cbDefaults.js')]);
      const file = (o.defaults as string | undefined) ?? O2CB_DEFAULTS_PATHS.find((p) => existsSync(p)) ?? O2CB_DEFAULTS_PATHS[1];
      const update: Record<string, unknown> = {};
      if (o.enabled !== undefined) {
        if (o.enabled !== 'true' && o.enabled !== 'false') throw new CliError(`--enabled ${JSON.stringify(o.enabled)}: expected true or false`, EXIT.USAGE);
        update.enabled = o.enabled === 'true';
      }
      const raw: [string, string][] = [['stack', 'stack'], ['bootCluster', 'bootCluster'], ...CONFIGURE_OPTIONS.map((opt): [string, string] => [opt.field, opt.field])];
      // the values go through the parser's own checks as text (minimums, keepalive < idle)
      for (const [opt, field] of raw) if (o[opt] !== undefined) update[field] = o[opt];
      if (Object.keys(update).length === 0) {
        throw new CliError('nothing to configure: give at least one setting', EXIT.USAGE, 'e.g. o2stack configure --enabled true --boot-cluster ocfs2 --heartbeat-threshold 31');
      }
      const change = (text: string | undefined) => (text === undefined ? formatO2cbDefaults({}) : text);
      let next: string | undefined;
      if (o.dryRun) {
        next = updateO2cbDefaults(change(readTextIfAny(file)), update, { file });
        return o.json ? printJson({ file, written: false, text: next }) : writeOut(next);
      }
      next = await updateFileAtomic(file, (text) => updateO2cbDefaults(change(text), update, { file }));
      const values = parseO2cbDefaults(next ?? '', { file }).values;
      if (o.json) return printJson({ file, written: true, values });
      writeOut(`wrote ${file}\n(o2stack start applies it; o2stack config check ${file} shows it)\n`);
    });
}
