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
    super(issues.map(formatIssue).join('\n'));
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
