// Waits a person at a terminal would otherwise sit through in silence (a heartbeat region's start
// blocks in the kernel for several seconds): the library announces them, the CLI shows them.
/** Called when a wait begins; returns the function called when it ends. */
export type WaitReporter = (label: string) => () => void;

let reporter: WaitReporter | undefined;

/** The CLI sets this when stderr is a terminal; library users may set their own, or none. */
export function setWaitReporter(r: WaitReporter | undefined): void {
  reporter = r;
}

/** Awaits `p`, announced to the wait reporter (if any) as `label` while it lasts. */
export async function reportedWait<T>(label: string, p: Promise<T>): Promise<T> {
  const done = reporter?.(label);
  try {
    return await p;
  } finally {
    done?.();
  }
}
