// Pacemaker OCF resource agents shipped in the package (ocf/): ocf:o2stack:o2stack-daemon (the
// user stack's control daemon, a clone like ocf:pacemaker:controld) and ocf:o2stack:o2stack-o2cb
// (the classic stack: o2stack start/stop/status). `o2stack helpers install` writes them into
// Pacemaker's provider directory with the o2stack CLI's absolute path filled in; `helpers remove`
// deletes them. Pure: rendering a template, and the install/remove plans from what the directory
// holds (read by lib/stack/helpers.ts). The provider directory "o2stack" is ours: a file there that
// does not carry HELPER_MARKER is never replaced nor removed.
import { HELPER_MARKER, HelperRefusal } from './helperInstall.js';

export const OCF_AGENT_NAMES = ['o2stack-daemon', 'o2stack-o2cb'] as const;
export type OcfAgentName = (typeof OCF_AGENT_NAMES)[number];
/** OCF_ROOT/resource.d/PROVIDER: Pacemaker lists these as ocf:o2stack:NAME */
export const OCF_PROVIDER_DIR = '/usr/lib/ocf/resource.d/o2stack';

/** Where the template takes the marker and the CLI: the first two exactly once, the command at least once. */
const SLOTS = ['@MARKER@', '@O2STACK_DIR@', '@O2STACK_EXEC@'] as const;

/**
 * The installed agent: the marker, the directory the CLI runs in (shell-quoted here) and its
 * command words (already shell-quoted: node, loader, entry) put into the template.
 */
export function renderOcfAgent(template: string, cli: { dir: string; exec: string }): string {
  for (const s of SLOTS) {
    const n = template.split(s).length - 1;
    // the template is the package's own file: a broken one is a packaging bug, said plainly
    if (s === '@O2STACK_EXEC@' ? n === 0 : n !== 1) throw new Error(`OCF agent template: ${s} appears ${n} times`);
  }
  const q = `'${cli.dir.replace(/'/g, `'\\''`)}'`;
  return template.replace('@MARKER@', HELPER_MARKER.replace(/^# /, '')).replace('@O2STACK_DIR@', q).replaceAll('@O2STACK_EXEC@', cli.exec);
}

export interface OcfAgentFacts {
  name: OcfAgentName;
  path: string;
  /** what the path holds now */
  existing: null | { kind: 'file' | 'symlink' | 'other'; ours: boolean; sameAsNew: boolean };
}

export type OcfAction = { op: 'mkdir'; path: string } | { op: 'write-agent'; name: OcfAgentName; path: string } | { op: 'unlink'; path: string } | { op: 'rmdir'; path: string };

export interface OcfPlan {
  actions: OcfAction[];
  explain: string[];
  noop: boolean;
}

/** Install: every agent written unless it is ours already and the same; a foreign file refuses the whole plan. */
export function planOcfInstall(dir: string, dirExists: boolean, agents: readonly OcfAgentFacts[]): OcfPlan {
  const foreign = agents.filter((a) => a.existing && !a.existing.ours);
  if (foreign.length) {
    throw new HelperRefusal(
      'E_OCF_AGENT_EXISTS',
      `${foreign.map((a) => a.path).join(', ')} ${foreign.length > 1 ? 'are' : 'is'} not o2stack's (no "${HELPER_MARKER}" line): not replaced, and no agent installed`,
      `look at it (ls -l ${foreign[0]!.path}); move it away if it is stale, then run o2stack helpers install again`,
    );
  }
  const actions: OcfAction[] = [];
  const explain: string[] = [];
  if (!dirExists) {
    actions.push({ op: 'mkdir', path: dir });
    explain.push(`create ${dir} (Pacemaker's OCF provider "o2stack")`);
  }
  for (const a of agents) {
    if (a.existing?.sameAsNew) {
      explain.push(`${a.path} is already o2stack's ocf:o2stack:${a.name}: nothing to do`);
      continue;
    }
    actions.push({ op: 'write-agent', name: a.name, path: a.path });
    explain.push(`write ${a.path} (ocf:o2stack:${a.name}${a.existing ? ', replacing the one of another install' : ''})`);
  }
  return { actions, explain, noop: actions.length === 0 };
}

/** Remove: our agents go, a foreign file stays (said), the directory goes when nothing else is left in it. */
export function planOcfRemove(dir: string, dirExists: boolean, agents: readonly OcfAgentFacts[], otherEntries: readonly string[]): OcfPlan {
  const actions: OcfAction[] = [];
  const explain: string[] = [];
  let kept = otherEntries.length;
  for (const a of agents) {
    if (!a.existing) continue;
    if (a.existing.ours) {
      actions.push({ op: 'unlink', path: a.path });
      explain.push(`remove ${a.path} (ocf:o2stack:${a.name})`);
    } else {
      kept++;
      explain.push(`${a.path} is not o2stack's: left as it is`);
    }
  }
  if (dirExists && kept === 0) {
    actions.push({ op: 'rmdir', path: dir });
    explain.push(`remove ${dir}`);
  } else if (dirExists && otherEntries.length) explain.push(`${dir} keeps ${otherEntries.join(', ')}`);
  if (!actions.length && !explain.length) explain.push(`no OCF agent of o2stack's in ${dir}: nothing to do`);
  return { actions, explain, noop: actions.length === 0 };
}
