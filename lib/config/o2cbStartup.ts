// What `o2stack start` brings up: the cluster from cluster.conf, with the settings of the o2cb
// defaults file (/etc/default/o2cb, /etc/sysconfig/o2cb) that o2cb's init script applies on top —
// the boot cluster, the heartbeat dead threshold and the three o2net timeouts. Pure: both files
// come in as parsed text; conflicts come back as one ConfigError naming both files and lines.
import { type ClusterConfig, type Timeouts, validateCluster } from '../model/cluster.js';
import { ConfigError, type ConfigIssue } from '../model/errors.js';
import { displayed, timeoutKey } from '../model/o2nmAttributes.js';
import { clusterStanzaLines } from './clusterConf.js';
import type { O2cbDefaults, O2cbDefaultsFile, O2cbVariable } from './o2cbDefaults.js';

/** Each defaults variable that sets a cluster.conf timeout, with the cluster.conf key of the same setting (from the attribute table). */
export const DEFAULTS_TIMEOUTS: { variable: O2cbVariable; field: keyof O2cbDefaults; timeout: keyof Timeouts; confKey: string; unit: string }[] = displayed()
  .filter((a) => a.o2cbDefaults && timeoutKey(a) && a.clusterConf)
  .map((a) => ({
    variable: a.o2cbDefaults!.variable as O2cbVariable,
    field: a.o2cbDefaults!.field as keyof O2cbDefaults,
    timeout: timeoutKey(a)!,
    confKey: a.clusterConf!.key,
    unit: a.unit === 'ms' ? ' ms' : '',
  }));

export interface StartupInput {
  /** every cluster of the configuration file (parsed and validated) */
  clusters: ClusterConfig[];
  configFile: string;
  /** the configuration text when it is an ocfs2 cluster.conf (for the lines of its attributes) */
  configText?: string;
  /** the defaults file, parsed; absent when there is none */
  defaults?: { file: string; parsed: O2cbDefaultsFile };
  /** --cluster: wins over O2CB_BOOTCLUSTER */
  cluster?: string;
}

export interface StartupConfig {
  /** the cluster to start, its timeouts merged from both files */
  cluster: ClusterConfig;
  /** where each timeout comes from, for the plan's explanations: "O2CB_IDLE_TIMEOUT_MS, /etc/default/o2cb:14" */
  sources: Partial<Record<keyof Timeouts, string>>;
  /** how the cluster was chosen */
  chosenBy: 'option' | 'bootcluster' | 'only';
  /** O2CB_ENABLED as written (undefined: no file or no such variable) */
  enabled?: boolean;
  notes: string[];
}

function lineOf(d: O2cbDefaultsFile, variable: string): number | undefined {
  let line: number | undefined;
  for (const a of d.assignments) if (a.name === variable) line = a.line;
  return line;
}

const where = (file: string, line: number | undefined) => (line ? `${file}:${line}` : file);

/**
 * Chooses the cluster and merges the defaults file's settings into it. A setting given in both
 * files with different values, a boot cluster that cluster.conf does not describe, a user-stack
 * O2CB_STACK, or a merged result the kernel would refuse (keepalive ≥ idle) is an error.
 */
export function resolveStartup(input: StartupInput): StartupConfig {
  const { clusters, configFile } = input;
  const d = input.defaults?.parsed;
  const dfile = input.defaults?.file ?? '';
  const issues: ConfigIssue[] = [];
  const notes: string[] = [];
  const names = clusters.map((c) => c.name);

  if (d?.values.stack !== undefined && d.values.stack !== 'o2cb') {
    issues.push({
      file: dfile,
      line: lineOf(d, 'O2CB_STACK'),
      code: 'E_O2CB_STACK_USER',
      key: 'O2CB_STACK',
      message: `O2CB_STACK=${d.values.stack} selects the user stack, but o2stack start runs the o2cb stack`,
      hint: `for the user stack run o2stack select ${d.values.stack} and o2stack daemon; for o2cb set O2CB_STACK=o2cb (o2stack configure --stack o2cb --defaults ${dfile})`,
    });
  }

  let cluster: ClusterConfig | undefined;
  let chosenBy: StartupConfig['chosenBy'] = 'only';
  const boot = d?.values.bootCluster;
  if (input.cluster !== undefined) {
    cluster = clusters.find((c) => c.name === input.cluster);
    chosenBy = 'option';
    if (!cluster) {
      issues.push({ file: configFile, code: 'E_START_NO_CLUSTER', key: 'cluster.name', message: `--cluster ${input.cluster}: ${configFile} has no such cluster (it has: ${names.join(', ') || 'none'})`, hint: 'pass one of those names, or add the cluster (o2stack o2cb add-cluster NAME)' });
    } else if (boot !== undefined && boot !== input.cluster) {
      notes.push(`--cluster ${input.cluster} overrides O2CB_BOOTCLUSTER=${boot} (${where(dfile, lineOf(d!, 'O2CB_BOOTCLUSTER'))})`);
    }
  } else if (boot !== undefined) {
    cluster = clusters.find((c) => c.name === boot);
    chosenBy = 'bootcluster';
    if (!cluster) {
      issues.push({
        file: dfile,
        line: lineOf(d!, 'O2CB_BOOTCLUSTER'),
        code: 'E_O2CB_BOOTCLUSTER',
        key: 'O2CB_BOOTCLUSTER',
        message: `O2CB_BOOTCLUSTER=${boot} names a cluster that ${configFile} does not describe (it has: ${names.join(', ') || 'none'})`,
        hint: names.length === 1 ? `o2stack configure --boot-cluster ${names[0]} --defaults ${dfile}, or pass --cluster ${names[0]}` : `o2stack configure --boot-cluster NAME --defaults ${dfile} with one of those names, or pass --cluster NAME`,
      });
    }
  } else if (clusters.length === 1) {
    cluster = clusters[0];
  } else {
    issues.push({
      file: configFile,
      code: clusters.length ? 'E_START_WHICH_CLUSTER' : 'E_START_NO_CLUSTER',
      message: clusters.length ? `${configFile} describes ${clusters.length} clusters (${names.join(', ')}) and nothing says which to start; the kernel holds one` : `${configFile} describes no cluster`,
      hint: clusters.length ? `pass --cluster NAME, or set the boot cluster: o2stack configure --boot-cluster NAME` : 'add one: o2stack o2cb add-cluster NAME, then o2stack o2cb add-node NAME NODE --ip ADDRESS',
    });
  }
  if (!cluster) throw new ConfigError(issues);

  // the lines of the cluster stanza's timeout attributes, for messages: looked up (a second lex of
  // the file) only when the file sets a timeout; a 255-node file is 1,500 lines
  const setsTimeout = DEFAULTS_TIMEOUTS.some((t) => cluster.timeouts[t.timeout] !== undefined);
  const stanza = setsTimeout && input.configText !== undefined ? clusterStanzaLines(input.configText).find((s) => s.name === cluster.name) : undefined;
  const timeouts: Timeouts = { ...cluster.timeouts };
  const sources: StartupConfig['sources'] = {};
  for (const t of DEFAULTS_TIMEOUTS) {
    const fromConf = cluster.timeouts[t.timeout];
    const confLine = stanza?.attrs[t.confKey]?.line ?? cluster.loc?.line;
    if (fromConf !== undefined) sources[t.timeout] = `${t.confKey}, ${where(configFile, confLine)}`;
    const v = d?.values[t.field] as number | undefined;
    if (v === undefined) continue;
    const line = lineOf(d!, t.variable);
    if (fromConf !== undefined && fromConf !== v) {
      issues.push({
        file: dfile,
        line,
        code: 'E_O2CB_CONFLICT',
        key: t.variable,
        message: `${t.variable}=${v} (${where(dfile, line)}) conflicts with ${t.confKey} = ${fromConf}${t.unit} of cluster '${cluster.name}' (${where(configFile, confLine)})`,
        hint: `keep the setting in one file: remove ${t.confKey} from ${configFile}, or set ${t.variable}=${fromConf} (o2stack configure --defaults ${dfile} ...)`,
      });
      continue;
    }
    if (fromConf === undefined) {
      timeouts[t.timeout] = v;
      sources[t.timeout] = `${t.variable}, ${where(dfile, line)}`;
    }
  }
  const merged: ClusterConfig = { ...cluster, timeouts };
  if (issues.length === 0) {
    for (const i of validateCluster(merged)) {
      if (i.code !== 'E_CONF_KEEPALIVE' && i.code !== 'E_CONF_TIMEOUT') continue; // the rest was checked when the file was read
      const from = (k: keyof Timeouts) => sources[k] ?? 'the kernel default';
      issues.push({ ...i, file: dfile || configFile, message: `${i.message}, with the settings of both files merged (keepalive from ${from('keepaliveDelayMs')}, idle from ${from('idleTimeoutMs')})` });
    }
  }
  if (issues.length) throw new ConfigError(issues);
  return { cluster: merged, sources, chosenBy, ...(d?.values.enabled !== undefined ? { enabled: d.values.enabled } : {}), notes };
}
