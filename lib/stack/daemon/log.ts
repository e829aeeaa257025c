// The daemons' structured log: one JSON line per entry to a sink (stderr by default), the last
// entries kept for the control socket's `dump`, each entry handed to the daemon's 'log' event.
import { fstatSync } from 'node:fs';
import type { LogEntry } from './runtime.js';

/** sd-daemon(3)'s priority prefixes, which journald reads off each line of a service's stderr. */
const JOURNAL_PRIORITY: Record<LogEntry['level'], string> = { error: '<3>', warn: '<4>', info: '<6>' };

/**
 * Whether fd 2 is the journal's stream for this service (systemd sets JOURNAL_STREAM=dev:ino of
 * it); a stderr redirected elsewhere (a file, a pipe, a terminal) gets no prefixes.
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env, stat: () => { dev: number | bigint; ino: number | bigint } = () => fstatSync(2)): boolean {
  const js = env.JOURNAL_STREAM;
  if (!js) return false;
  try {
    const st = stat();
    return js === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** The line as written to stderr: with the journal's priority prefix when stderr is the journal. */
export function stderrLine(line: string, level: LogEntry['level'], journal: boolean): string {
  return `${journal ? JOURNAL_PRIORITY[level] : ''}${line}\n`;
}

let journal: boolean | undefined;
const defaultSink = (line: string, level: LogEntry['level']) => process.stderr.write(stderrLine(line, level, (journal ??= stderrIsJournal())));

export class StructuredLog {
  private readonly entries: LogEntry[] = [];

  constructor(
    private readonly onEntry: (e: LogEntry) => void,
    private readonly sink: (line: string, level: LogEntry['level']) => void = defaultSink,
    private readonly keep = 500,
  ) {}

  write(level: LogEntry['level'], event: string, msg: string, data: Record<string, unknown> = {}): void {
    const e: LogEntry = { t: new Date().toISOString(), level, event, msg, ...data };
    this.entries.push(e);
    if (this.entries.length > this.keep) this.entries.shift();
    this.sink(JSON.stringify(e), level);
    this.onEntry(e);
  }

  /** The last n entries, oldest first. */
  recent(n: number): LogEntry[] {
    return this.entries.slice(-n);
  }
}
