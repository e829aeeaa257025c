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
