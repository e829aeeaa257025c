// Fencing through Pacemaker's fencer (the daemon's --fence-pacemaker): the daemon knows dead nodes
// by corosync node id, Pacemaker's fencer by node name. Pure: which name a node id has (corosync's
// nodelist name, else `crm_node -l`), whether the node was already fenced after it failed
// (`stonith_admin --last NAME`: the fencer fenced it for Pacemaker's own reasons, or another
// node's daemon asked first), and the stonith_admin command that fences it. The commands are run by
// lib/stack/daemon/pacemakerFence.ts.
//
// What dlm's own Pacemaker helper does, taken as the behaviour to match: ask the fencer for the
// node's last successful fencing; when that is at or after the failure time, the node is fenced
// already and nothing is run; otherwise fence it (reboot, Pacemaker's default action) and wait for
// the result; exit status 0 = fenced.

/** One line of `crm_node -l`: "ID NAME STATE" (STATE: member, lost, …). */
export interface CrmNode {
  id: number;
  name: string;
  state: string;
}

/**
 * `crm_node -l`: one node a line, "ID NAME STATE"; blank lines skipped; a line of another shape is
 * ignored (crm_node prints nothing else on stdout), so that a newer Pacemaker adding a column still
 * maps names.
 */
export function parseCrmNodeList(text: string): CrmNode[] {
  const out: CrmNode[] = [];
  for (const raw of text.split('\n')) {
    const f = raw.trim().split(/\s+/);
    if (f.length < 2 || !/^[0-9]+$/.test(f[0]!)) continue;
    const id = Number(f[0]);
    if (!Number.isSafeInteger(id) || id < 1 || id > 0xffffffff) continue;
    out.push({ id, name: f[1]!, state: f[2] ?? '' });
  }
  return out;
}

export class PacemakerFenceError extends Error {
  constructor(
    readonly code: 'E_PCMK_NODE_NAME' | 'E_PCMK_LAST',
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'PacemakerFenceError';
  }
}

/**
 * The Pacemaker node name of corosync node `nodeid`: its nodelist `name` (what Pacemaker itself
 * uses first), else the name `crm_node -l` gives that id, else an error saying how to name it.
 * `crm` is undefined when crm_node was not (or could not be) asked.
 */
export function pacemakerNodeName(nodeid: number, nodes: readonly { nodeid: number; name?: string }[], crm?: readonly CrmNode[]): string {
  const named = nodes.find((n) => n.nodeid === nodeid)?.name;
  if (named !== undefined && named !== '') return named;
  const fromCrm = crm?.filter((n) => n.id === nodeid) ?? [];
  if (fromCrm.length === 1) return fromCrm[0]!.name;
  if (fromCrm.length > 1) {
    throw new PacemakerFenceError('E_PCMK_NODE_NAME', `crm_node -l gives node id ${nodeid} ${fromCrm.length} names (${fromCrm.map((n) => n.name).join(', ')}): the node to fence is ambiguous`, `remove the stale node: crm_node --force -R NAME, and give every node a "name:" in corosync.conf's nodelist`);
  }
  throw new PacemakerFenceError(
    'E_PCMK_NODE_NAME',
    `node ${nodeid} has no Pacemaker node name: corosync's nodelist gives it no name${crm === undefined ? ' and crm_node -l could not be asked' : ', and crm_node -l does not list it'}`,
    `give node ${nodeid} a "name: NODENAME" (its Pacemaker node name, as crm_node -l shows it) in the nodelist of /etc/corosync/corosync.conf on every node, then restart the cluster`,
  );
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * `stonith_admin --last NAME` run with TZ=UTC: "Node NAME last fenced at: Sat Dec  5 16:59:28 2026"
 * (C's ctime(), in UTC because of TZ) or "Node NAME has never been fenced". Returns the time in ms
 * since the epoch, null for never; throws on anything else (an unknown answer must not be read as
 * "never fenced", nor as "fenced").
 */
export function parseStonithLast(text: string, name: string): number | null {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line === `Node ${name} has never been fenced`) return null;
    const prefix = `Node ${name} last fenced at:`;
    if (!line.startsWith(prefix)) continue;
    const m = /^(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat) ([A-Z][a-z]{2}) +([0-9]{1,2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([0-9]{4})$/.exec(line.slice(prefix.length).trim());
    const month = m ? MONTHS.indexOf(m[1]!) : -1;
    if (!m || month < 0) break;
    const t = Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
    if (!Number.isFinite(t) || new Date(t).getUTCDate() !== Number(m[2])) break;
    return t;
  }
  throw new PacemakerFenceError('E_PCMK_LAST', `stonith_admin --last ${name} answered neither "Node ${name} last fenced at: DATE" nor "has never been fenced": ${JSON.stringify(text.trim().slice(0, 200))}`, 'check that the fencer runs (crm_mon -1) and that stonith_admin is the one of the running Pacemaker');
}

/** The fencer's tolerance: a fencing of this node that succeeded this recently counts (dlm's 5 s). */
export const PCMK_TOLERANCE = '5s';

export interface PacemakerFenceDecision {
  action: 'already-fenced' | 'fence';
  /** stonith_admin's arguments for 'fence' */
  args?: string[];
  why: string;
}

/**
 * The cluster's stonith-action (`crm_attribute --type crm_config --name stonith-action --query
 * --quiet`; undefined when unset: Pacemaker's default, reboot) as stonith_admin's verb. Pacemaker
 * fences a lost node itself with that action; asking for the same one lets the fencer merge a
 * request made while its own is in flight into one agent run (requests for different actions on
 * one node are not merged: the node would be fenced twice).
 */
export function stonithVerb(stonithAction: string | undefined): '--fence' | '--reboot' {
  const a = stonithAction?.trim().toLowerCase();
  return a === 'off' || a === 'poweroff' ? '--fence' : '--reboot';
}

/**
 * Fence or not: a successful fencing at or after the failure (both whole seconds, as the fencer
 * keeps them) means the node cannot hold anything granted before it failed. Otherwise
 * `stonith_admin --fence|--reboot NAME --tolerance 5s --timeout S` (the verb: stonithVerb; --fence
 * powers off): S (whole seconds, at least 1) is the fencer's own limit, below the daemon's limit
 * on the whole run so the fencer's answer comes first.
 */
export function planPacemakerFence(o: { name: string; failTime: number; lastFenced: number | null; timeoutMs: number; verb?: '--fence' | '--reboot' }): PacemakerFenceDecision {
  const failS = Math.floor(o.failTime / 1000);
  if (o.lastFenced !== null && Math.floor(o.lastFenced / 1000) >= failS) {
    return { action: 'already-fenced', why: `Pacemaker fenced ${o.name} at ${new Date(o.lastFenced).toISOString()}, at or after its failure (${new Date(failS * 1000).toISOString()})` };
  }
  const timeoutS = Math.max(1, Math.floor(o.timeoutMs / 1000) - 5);
  return {
    action: 'fence',
    args: [o.verb ?? '--fence', o.name, '--tolerance', PCMK_TOLERANCE, '--timeout', String(timeoutS)],
    why: o.lastFenced === null ? `${o.name} was never fenced` : `${o.name} was last fenced at ${new Date(o.lastFenced).toISOString()}, before its failure (${new Date(failS * 1000).toISOString()})`,
  };
}

/**
 * The daemon's fence method when none is given on the command line: Pacemaker's fencer when the
 * daemon runs as a Pacemaker resource (the OCF agent's environment: OCF_RESOURCE_INSTANCE, or
 * PCMK_service set by pacemaker-execd), else none (the daemon refuses to start without one).
 */
export function defaultFenceFromEnv(env: Record<string, string | undefined>): 'pacemaker' | undefined {
  const set = (k: string) => env[k] !== undefined && env[k] !== '';
  return set('OCF_RESOURCE_INSTANCE') || set('PCMK_service') ? 'pacemaker' : undefined;
}
