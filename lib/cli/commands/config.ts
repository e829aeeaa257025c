// o2stack config check | convert: validate a cluster configuration in any supported format
// (ocfs2 cluster.conf, cman cluster.conf XML, corosync.conf, our JSON) and convert between them.
import { Command, Option } from 'commander';
import type { ClusterConfig } from '../../model/cluster.js';
import type { ConfigIssue } from '../../model/errors.js';
import { settingsSummary } from '../../model/o2nmAttributes.js';
import { CliError, EXIT, type GlobalOptions, printJson, writeOut, writeErr } from '../output.js';

interface ImportFlags {
  from?: 'ocfs2' | 'cman' | 'corosync' | 'json';
  address?: string[];
  port?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function importOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--from <format>', 'input format (default: detected from the content)').choices(['ocfs2', 'cman', 'corosync', 'json']))
    .option('--address <name=ip>', 'IPv4 address of a member the source names only by host name (cman, corosync); repeatable', collect)
    .option('--port <port>', 'o2net port for members imported from cman or corosync (default 7777)');
}

function parseFlags(o: ImportFlags): { format?: ImportFlags['from']; resolve?: Record<string, string>; port?: number } {
  const out: { format?: ImportFlags['from']; resolve?: Record<string, string>; port?: number } = {};
  if (o.from) out.format = o.from;
  if (o.address?.length) {
    out.resolve = {};
    for (const a of o.address) {
      const m = /^([^=\s]+)=(\S+)$/.exec(a);
      if (!m) throw new CliError(`--address ${JSON.stringify(a)}: expected NAME=IPv4`, EXIT.USAGE, 'e.g. --address node-02=192.0.2.12');
      out.resolve[m[1]!] = m[2]!;
    }
  }
  if (o.port !== undefined) {
    const p = /^\d+$/.test(o.port) ? Number(o.port) : NaN;
    if (!(p >= 1 && p <= 65534)) throw new CliError(`--port ${JSON.stringify(o.port)}: expected an integer from 1 to 65534`, EXIT.USAGE, 'the o2net default is 7777');
    out.port = p;
  }
  return out;
}

function issueJson(i: ConfigIssue): Record<string, unknown> {
  const out: Record<string, unknown> = { file: i.file ?? null, line: i.line ?? null, message: i.message, code: i.code, key: i.key ?? null, hint: i.hint ?? null };
  if (i.column !== undefined) out.column = i.column;
  return out;
}

async function load(file: string, o: ImportFlags) {
  const { loadConfigFile } = await import('../../stack/configFile.js');
  const { ConfigError } = await import('../../model/errors.js');
  const r = await loadConfigFile(file, parseFlags(o));
  if (r.clusters.length === 0) {
    throw new ConfigError([{ file, code: 'E_CONF_EMPTY', message: `${file} defines no cluster`, hint: 'add a cluster stanza ("cluster:" with name and node_count) and one node stanza per member' }]);
  }
  return r;
}

function describeCluster(c: ClusterConfig): string {
  const extra = settingsSummary(c);
  const lines = [`cluster ${c.name}: ${c.nodes.length} node${c.nodes.length === 1 ? '' : 's'}, ${c.heartbeatMode} heartbeat${extra.length ? `, ${extra.join(', ')}` : ''}`];
  for (const n of c.nodes) lines.push(`  ${String(n.number).padStart(3)}  ${n.name}  ${n.ipAddress}:${n.port}`);
  for (const r of c.heartbeatRegions) lines.push(`  heartbeat region ${r}`);
  return lines.join('\n') + '\n';
}

/**
 * `config check` of an o2cb defaults file: true when the file is one (and was reported), false
 * when it is something else (a cluster configuration, or unreadable: the normal path reports it).
 */
async function checkO2cbDefaults(path: string, json: boolean): Promise<boolean> {
  const [{ readTextIfAny }, { detectFileKind }, { parseO2cbDefaults, O2CB_VARIABLES }, { ConfigError, formatIssue }] = await Promise.all([
    import('../../stack/configFile.js'),
    import('../../config/detect.js'),
    import('../../config/o2cbDefaults.js'),
    import('../../model/errors.js'),
  ]);
  const text = readTextIfAny(path);
  if (text === undefined || detectFileKind(text, path) !== 'o2cb-defaults') return false;
  let parsed;
  try {
    parsed = parseO2cbDefaults(text, { file: path });
  } catch (e) {
    if (!(e instanceof ConfigError) || !json) throw e;
    printJson({ format: 'o2cb-defaults', errors: e.issues.map(issueJson) });
    process.exitCode = EXIT.FAILED;
    return true;
  }
  if (json) {
    printJson({ format: 'o2cb-defaults', values: parsed.values, variables: parsed.variables, warnings: parsed.warnings.map(issueJson) });
    return true;
  }
  for (const w of parsed.warnings) writeErr(`warning: ${formatIssue(w)}\n`);
  const lines = Object.entries(O2CB_VARIABLES).map(([name, d]) => {
    const v = parsed.values[d.field];
    const shown = v === undefined ? (name in parsed.variables ? `(empty: ${name === 'O2CB_BOOTCLUSTER' ? 'no boot cluster' : name === 'O2CB_ENABLED' || name === 'O2CB_STACK' ? `default ${d.default}` : 'kernel default'})` : '(not set)') : String(v);
    return `  ${name.padEnd(25)} ${shown}`;
  });
  writeOut(`${path}: valid o2cb defaults file\n${lines.join('\n')}\n`);
  return true;
}

export function register(program: Command): void {
  const config = program.command('config').description('check and convert cluster configuration files (ocfs2 cluster.conf, cman XML, corosync.conf, JSON)');

  importOptions(
    config
      .command('check')
      .argument('[file]', 'the file to check (default: the --config file)')
      .description('validate a configuration file: exit 0 and print the cluster model, or exit 1 and list every problem with file:line'),
  ).action(async (file: string | undefined, _o, cmd: Command) => {
    const o = cmd.optsWithGlobals<GlobalOptions & ImportFlags>();
    const path = file ?? o.config ?? '/etc/ocfs2/cluster.conf';
    const [{ ConfigError, formatIssue }, { clusterToJson }] = await Promise.all([import('../../model/errors.js'), import('../../config/json.js')]);
    if (!o.from && (await checkO2cbDefaults(path, o.json === true))) return;
    let r;
    try {
      r = await load(path, o);
    } catch (e) {
      if (!(e instanceof ConfigError) || !o.json) throw e;
      printJson({ errors: e.issues.map(issueJson) });
      process.exitCode = EXIT.FAILED;
      return;
    }
    if (o.json) {
      const warnings = r.warnings.map(issueJson);
      if (r.clusters.length === 1) printJson({ ...clusterToJson(r.clusters[0]!), format: r.format, warnings });
      else printJson({ clusters: r.clusters.map(clusterToJson), format: r.format, warnings });
      return;
    }
    for (const w of r.warnings) writeErr(`warning: ${formatIssue(w)}\n`);
    writeOut(`${path}: valid ${r.format} configuration\n${r.clusters.map(describeCluster).join('')}`);
  });

  config
    .command('enabled')
    .description('exit 0 if the o2cb defaults file says O2CB_ENABLED=true (or there is none), 1 if not: the systemd unit’s ExecCondition')
    .option('--defaults <file>', 'the o2cb defaults file (default: /etc/sysconfig/o2cb, else /etc/default/o2cb)')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { defaults?: string }>();
      const [{ defaultsPathFor, loadO2cbDefaultsFile, SYSTEM_CLUSTER_CONF }] = await Promise.all([import('../../stack/configFile.js')]);
      const where = defaultsPathFor(o.defaults, SYSTEM_CLUSTER_CONF);
      let parsed;
      try {
        parsed = where ? loadO2cbDefaultsFile(where.path, where.explicit) : undefined;
      } catch (e) {
        // systemd's ExecCondition skips the unit on 1–254: a broken file must fail it instead (255)
        throw Object.assign(e as Error, { exitCode: 255 });
      }
      const line = parsed ? [...parsed.assignments].reverse().find((a) => a.name === 'O2CB_ENABLED')?.line : undefined;
      const enabled = parsed === undefined || parsed.values.enabled === true;
      const why = parsed === undefined ? 'no o2cb defaults file: enabled' : `O2CB_ENABLED=${parsed.variables.O2CB_ENABLED ?? '(not set)'} in ${where!.path}${line ? `:${line}` : ''}${enabled ? '' : ': not enabled (o2stack configure --enabled true)'}`;
      if (o.json) printJson({ enabled, file: where?.path ?? null, reason: why });
      else writeOut(`${why}\n`);
      if (!enabled) process.exitCode = EXIT.FAILED;
    });

  importOptions(
    config
      .command('convert')
      .argument('[file]', 'the file to convert (default: the --config file)')
      .description('print the configuration in another format')
      .addOption(new Option('--to <format>', 'output format').choices(['ocfs2', 'json', 'corosync']).makeOptionMandatory())
      .option('--cluster <name>', 'the cluster to convert to corosync when the file holds several'),
  ).action(async (file: string | undefined, _o, cmd: Command) => {
    const o = cmd.optsWithGlobals<GlobalOptions & ImportFlags & { to: 'ocfs2' | 'json' | 'corosync'; cluster?: string }>();
    const path = file ?? o.config ?? '/etc/ocfs2/cluster.conf';
    const r = await load(path, o);
    let text: string;
    if (o.to === 'ocfs2') {
      const { formatClusterConf } = await import('../../config/clusterConf.js');
      text = formatClusterConf(r.clusters);
    } else if (o.to === 'json') {
      const { formatJsonConfig } = await import('../../config/json.js');
      text = formatJsonConfig(r.clusters);
    } else {
      const { formatCorosyncNodelist } = await import('../../config/corosyncConf.js');
      let c = r.clusters[0]!;
      if (o.cluster !== undefined) {
        const found = r.clusters.find((x) => x.name === o.cluster);
        if (!found) throw new CliError(`${path} has no cluster '${o.cluster}'`, EXIT.FAILED, `clusters in the file: ${r.clusters.map((x) => x.name).join(', ')}`);
        c = found;
      } else if (r.clusters.length > 1) {
        throw new CliError(`${path} holds ${r.clusters.length} clusters and corosync.conf describes one`, EXIT.USAGE, `choose one with --cluster (${r.clusters.map((x) => x.name).join(', ')})`);
      }
      text = formatCorosyncNodelist(c);
    }
    if (o.json) return printJson({ from: r.format, to: o.to, text, warnings: r.warnings.map(issueJson) });
    const { formatIssue } = await import('../../model/errors.js');
    for (const w of r.warnings) writeErr(`warning: ${formatIssue(w)}\n`);
    writeOut(text);
  });
}
