// Errors in configuration input: where (file:line, attribute path), what, and how to fix it.

export interface SourceLoc {
  file?: string;
  line?: number;
  column?: number;
}

export interface ConfigIssue extends SourceLoc {
  /** Stable machine code, e.g. E_CONF_DUP_NUMBER. */
  code: string;
  message: string;
  /** The offending key or attribute path, e.g. "nodes[2].number". */
  key?: string;
  /** What to do about it. */
  hint?: string;
}

/**
 * How many errors, and how many warnings, one parse or validation reports. A file with a broken
 * line repeated 100,000 times gives the operator nothing more than its first hundred do, and
 * building, joining and printing them all made a few MB of garbage cost seconds.
 */
export const MAX_ISSUES = 100;

/** The issue that stands for `n` more not listed. */
export function moreIssues(code: string, n: number, what: 'errors' | 'warnings' | 'problems', file?: string): ConfigIssue {
  const i: ConfigIssue = { code, message: `${n} more ${what} not shown (only the first ${MAX_ISSUES} are listed)`, hint: `fix the ones above and check again: o2stack config check${file !== undefined ? ` ${file}` : ''}` };
  return file !== undefined ? { file, ...i } : i;
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.file ? `${i.file}${i.line ? `:${i.line}` : ''}${i.column ? `:${i.column}` : ''}: ` : i.line ? `line ${i.line}: ` : '';
  const key = i.key ? ` (${i.key})` : '';
  return `${where}${i.message}${key}${i.hint ? `\n  fix: ${i.hint}` : ''}`;
}

/** One or more problems in a configuration; message lists them all. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  readonly code: string;

  constructor(issues: ConfigIssue[]) {
    // the message lists the first MAX_ISSUES (+ the summary a reader adds); all stay in .issues.
    // Formatting 130,000 duplicate-node issues of a fuzzed 3.5 MB corosync.conf took 0.6 s.
    const shown = issues.length > MAX_ISSUES + 1 ? [...issues.slice(0, MAX_ISSUES), moreIssues('E_CONF_MORE', issues.length - MAX_ISSUES, 'problems', issues[0]?.file)] : issues;
    super(shown.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
    this.code = issues[0]?.code ?? 'E_CONF';
  }

  get file(): string | undefined {
    return this.issues[0]?.file;
  }

  get line(): number | undefined {
    return this.issues[0]?.line;
  }

  toJSON() {
    return { code: this.code, message: this.message, errors: this.issues };
  }
}
