// The daemon group's fence result: with shared fencing one daemon runs the agent for a dead node
// and multicasts what came of it in `o2stack:daemon`; every daemon (the fencer too) acts on it when
// it is delivered, so all survivors remove the node's comm and restart after the same result. A
// `fence-ack` given on any node travels the same way (manual: true).
export interface FenceResultMessage {
  type: 'fence-result';
  nodeid: number;
  ok: boolean;
  manual?: boolean;
  detail?: string;
}

export function encodeFenceResult(m: Omit<FenceResultMessage, 'type'>): string {
  return JSON.stringify({ type: 'fence-result', ...m } satisfies FenceResultMessage);
}

export function decodeFenceResult(data: string): FenceResultMessage | undefined {
  if (!data.startsWith('{"type":"fence-result"')) return undefined;
  try {
    const m = JSON.parse(data) as Partial<FenceResultMessage>;
    if (m.type === 'fence-result' && Number.isInteger(m.nodeid) && (m.nodeid as number) > 0 && typeof m.ok === 'boolean') {
      return { type: 'fence-result', nodeid: m.nodeid!, ok: m.ok, ...(m.manual === true ? { manual: true } : {}), ...(typeof m.detail === 'string' ? { detail: m.detail.slice(0, 500) } : {}) };
    }
  } catch {
    /* not JSON */
  }
  return undefined;
}

/**
 * Startup fencing: the post-join delay is over on a daemon that saw the cluster form, and these
 * configured nodes never joined. Every daemon declares them dead when this is delivered (unless
 * they are members by then), so the one elected fencer fences each once.
 */
export interface StartupFenceMessage {
  type: 'startup-fence';
  nodes: number[];
}

export function encodeStartupFence(nodes: number[]): string {
  return JSON.stringify({ type: 'startup-fence', nodes: [...nodes].sort((a, b) => a - b) } satisfies StartupFenceMessage);
}

export function decodeStartupFence(data: string): StartupFenceMessage | undefined {
  if (!data.startsWith('{"type":"startup-fence"')) return undefined;
  try {
    const m = JSON.parse(data) as Partial<StartupFenceMessage>;
    if (m.type === 'startup-fence' && Array.isArray(m.nodes) && m.nodes.every((n) => Number.isInteger(n) && n > 0)) return { type: 'startup-fence', nodes: m.nodes };
  } catch {
    /* not JSON */
  }
  return undefined;
}

/**
 * Startup fencing, handed to daemons that join later: when a daemon joins the daemon group, every
 * member already in it says which configured nodes it still has not seen since the cluster formed
 * (often none). The joiner cannot know that by itself, so it waits for the first such message and
 * takes that set as its own.
 */
export interface StartupUnseenMessage {
  type: 'startup-unseen';
  nodes: number[];
}

export function encodeStartupUnseen(nodes: Iterable<number>): string {
  return JSON.stringify({ type: 'startup-unseen', nodes: [...nodes].sort((a, b) => a - b) } satisfies StartupUnseenMessage);
}

export function decodeStartupUnseen(data: string): StartupUnseenMessage | undefined {
  if (!data.startsWith('{"type":"startup-unseen"')) return undefined;
  try {
    const m = JSON.parse(data) as Partial<StartupUnseenMessage>;
    if (m.type === 'startup-unseen' && Array.isArray(m.nodes) && m.nodes.every((n) => Number.isInteger(n) && n > 0)) return { type: 'startup-unseen', nodes: m.nodes };
  } catch {
    /* not JSON */
  }
  return undefined;
}
