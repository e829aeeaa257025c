// Which configuration format a text is, and one entry point that parses and validates any of them.
import { validateCluster } from '../model/cluster.js';
import { ConfigError, type ConfigIssue } from '../model/errors.js';
import { parseCmanXml } from './cmanXml.js';
import { parseClusterConf } from './clusterConf.js';
import type { ImportOptions, ParseResult } from './common.js';
import { parseCorosyncConfCluster } from './corosyncConf.js';
import { parseJsonConfig } from './json.js';

export type ConfigFormat = 'ocfs2' | 'cman' | 'corosync' | 'json';
export const CONFIG_FORMATS: readonly ConfigFormat[] = ['ocfs2', 'cman', 'corosync', 'json'];

/**
 * Detects the format from the first significant line (comments and blank lines skipped): '{' JSON,
 * '<' cman XML, "word:" an ocfs2 stanza header, "word {" a corosync section. The file name only
 * decides when the content cannot (an empty file). Throws ConfigError if neither tells.
 */
export function detectFormat(text: string, fileName?: string): ConfigFormat {
  const first = firstSignificantLine(text);
  if (first !== undefined) {
    if (first.startsWith('{') || first.startsWith('[')) return 'json';
    if (first.startsWith('<')) return 'cman';
    if (/^[A-Za-z0-9_]+[ \t]*:[ \t]*$/.test(first)) return 'ocfs2';
    if (/^[A-Za-z0-9_.-]+[ \t]*\{/.test(first)) return 'corosync';
  }
  const base = (fileName ?? '').split('/').pop()!.toLowerCase();
  if (base.endsWith('.json')) return 'json';
  if (base.endsWith('.xml')) return 'cman';
  if (base.startsWith('corosync')) return 'corosync';
  if (first === undefined) return 'ocfs2'; // empty: ocfs2-tools treats an empty/missing cluster.conf as no clusters
  throw new ConfigError([
    {
      ...(fileName !== undefined ? { file: fileName } : {}),
      code: 'E_CONF_FORMAT',
      message: `cannot tell the configuration format from the first line ${JSON.stringify(first.slice(0, 80))}`,
      hint: 'expected an ocfs2 cluster.conf ("cluster:"), cman XML ("<cluster …>"), corosync.conf ("totem {") or JSON ("{"); pass --from FORMAT to choose',
    },
  ]);
}

/** Every kind of file `o2stack config check` reads: the cluster configurations, and o2cb's defaults file. */
export type FileKind = ConfigFormat | 'o2cb-defaults';

/**
 * Like detectFormat, and also recognises the o2cb defaults file (/etc/default/o2cb,
 * /etc/sysconfig/o2cb): shell assignments (`O2CB_ENABLED=true`, `export NAME=value`) from the first
 * significant line, or, when the file has none, its name `o2cb`.
 */
export function detectFileKind(text: string, fileName?: string): FileKind {
  const first = firstSignificantLine(text);
  if (first !== undefined && /^(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_]*=/.test(first)) return 'o2cb-defaults';
  if (first === undefined && (fileName ?? '').split('/').pop() === 'o2cb') return 'o2cb-defaults';
  return detectFormat(text, fileName);
}

/** The first line that is neither blank nor a comment, trimmed; only that much of the text is looked at. */
function firstSignificantLine(text: string): string | undefined {
  const re = /[^\r\n]*(?:\r\n|\n|\r|$)/y;
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (start < text.length) {
    re.lastIndex = start;
    const m = re.exec(text)!;
    const line = m[0].trim();
    if (line !== '' && !line.startsWith('#')) return line;
    start += m[0].length;
  }
  return undefined;
}

export interface ParseAnyOptions extends ImportOptions {
  /** Skip detection. */
  format?: ConfigFormat;
  /** A cluster with no nodes yet is not an error (a file being edited: o2stack node add) */
  allowNoNodes?: boolean;
}

export interface ParseAnyResult extends ParseResult {
  format: ConfigFormat;
}

/**
 * Parses any supported format and validates every cluster (validateCluster). All problems —
 * syntax and model — are thrown together as one ConfigError with file:line.
 */
export function parseAny(text: string, opts: ParseAnyOptions = {}): ParseAnyResult {
  if (opts.format === undefined && detectFileKind(text, opts.file) === 'o2cb-defaults') {
    throw new ConfigError([
      {
        ...(opts.file !== undefined ? { file: opts.file } : {}),
        code: 'E_CONF_IS_O2CB_DEFAULTS',
        message: `${opts.file ?? 'the file'} is an o2cb defaults file (O2CB_* shell variables), not a cluster configuration`,
        hint: 'pass the cluster configuration with --config (default /etc/ocfs2/cluster.conf); the defaults file is read by o2stack start --defaults FILE and checked with o2stack config check FILE',
      },
    ]);
  }
  const format = opts.format ?? detectFormat(text, opts.file);
  let parsed: ParseResult;
  switch (format) {
    case 'ocfs2':
      parsed = parseClusterConf(text, opts);
      break;
    case 'cman':
      parsed = parseCmanXml(text, opts);
      break;
    case 'corosync':
      parsed = parseCorosyncConfCluster(text, opts);
      break;
    case 'json':
      parsed = parseJsonConfig(text, opts);
      break;
    default:
      throw new ConfigError([{ code: 'E_CONF_FORMAT', message: `unknown format '${String(format)}'`, hint: `use one of ${CONFIG_FORMATS.join(', ')}` }]);
  }
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, number | undefined>();
  for (const c of parsed.clusters) {
    // validateCluster takes the file from loc; make sure it is there even if a parser left it out.
    for (const i of validateCluster(c)) {
      if (opts.allowNoNodes && i.code === 'E_CONF_NO_NODES') continue;
      issues.push(opts.file !== undefined && i.file === undefined ? { file: opts.file, ...i } : i);
    }
    if (seen.has(c.name)) {
      issues.push({
        ...c.loc,
        code: 'E_CONF_DUP_CLUSTER',
        key: 'cluster.name',
        message: `cluster '${c.name}' is defined twice${seen.get(c.name) ? ` (first at line ${seen.get(c.name)})` : ''}`,
        hint: 'merge the two definitions',
      });
    } else seen.set(c.name, c.loc?.line);
  }
  if (issues.length) throw new ConfigError(issues);
  return { format, clusters: parsed.clusters, warnings: parsed.warnings };
}
