// The daemons' structured log: one JSON line per entry to a sink (stderr by default), the last
// entries kept for the control socket's `dump`, each entry handed to the daemon's 'log' event.
import type { LogEntry } from './runtime.js';

export class StructuredLog {
  private readonly entries: LogEntry[] = [];

  constructor(
    private readonly onEntry: (e: LogEntry) => void,
    private readonly sink: (line: string) => void = (l) => process.stderr.write(l + '\n'),
    private readonly keep = 500,
  ) {}

  write(level: LogEntry['level'], event: string, msg: string, data: Record<string, unknown> = {}): void {
    const e: LogEntry = { t: new Date().toISOString(), level, event, msg, ...data };
    this.entries.push(e);
    if (this.entries.length > this.keep) this.entries.shift();
    this.sink(JSON.stringify(e));
    this.onEntry(e);
  }

  /** The last n entries, oldest first. */
  recent(n: number): LogEntry[] {
    return this.entries.slice(-n);
  }
}
