// Reads what `o2stack start` (and plan/apply) bring up: cluster.conf and the o2cb defaults file,
// merged by lib/config/o2cbStartup.ts. The only file access is here.
import { type StartupConfig, resolveStartup } from '../config/o2cbStartup.js';
import type { O2cbDefaultsFile } from '../config/o2cbDefaults.js';
import { defaultsPathFor, loadConfigFile, loadO2cbDefaultsFile } from './configFile.js';

export interface LoadedStartup extends StartupConfig {
  configFile: string;
  /** the defaults file read, if any */
  defaultsFile?: string;
  defaults?: O2cbDefaultsFile;
}

export async function loadStartup(configFile: string, options: { defaults?: string; cluster?: string } = {}): Promise<LoadedStartup> {
  const loaded = await loadConfigFile(configFile);
  const where = defaultsPathFor(options.defaults, configFile);
  const defaults = where ? loadO2cbDefaultsFile(where.path, where.explicit) : undefined;
  const configText = loaded.format === 'ocfs2' ? loaded.text : undefined;
  const r = resolveStartup({
    clusters: loaded.clusters,
    configFile,
    ...(configText !== undefined ? { configText } : {}),
    ...(defaults && where ? { defaults: { file: where.path, parsed: defaults } } : {}),
    ...(options.cluster !== undefined ? { cluster: options.cluster } : {}),
  });
  return { ...r, configFile, ...(defaults && where ? { defaultsFile: where.path, defaults } : {}) };
}

/** Where O2CB_ENABLED is set, for messages: "FILE:LINE" or the file. */
export function enabledWhere(s: LoadedStartup): string {
  const a = [...(s.defaults?.assignments ?? [])].reverse().find((x) => x.name === 'O2CB_ENABLED');
  return a ? `${s.defaultsFile}:${a.line}` : (s.defaultsFile ?? '(no defaults file)');
}
