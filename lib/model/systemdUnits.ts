// The systemd units shipped in systemd/ are templates: `@O2STACK@` stands for the command that runs
// the CLI, written as absolute paths (node, then the CLI file) when the units are installed, so a
// unit never depends on PATH or on `#!/usr/bin/env node`. Pure: the caller reads and writes files.

export const UNIT_NAMES = ['o2stack.service', 'o2stack-daemon.service'] as const;
export type UnitName = (typeof UNIT_NAMES)[number];

const PLACEHOLDER = '@O2STACK@';

/** One word of an Exec line: quoted (systemd's rules) when it has spaces, quotes or backslashes. */
export function execWord(word: string): string {
  if (!word.startsWith('/')) throw new Error(`not an absolute path: ${word}`);
  if (/[\0\n]/.test(word)) throw new Error(`a path with a NUL or newline cannot be written into a unit: ${JSON.stringify(word)}`);
  // '%' and '$' are specifiers and variables in Exec lines: doubled to mean themselves
  const w = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /[\s"'\\;]/.test(w) ? `"${w.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : w;
}

/** The unit with every @O2STACK@ replaced by `node cli` (both absolute). */
export function renderUnit(template: string, paths: { node: string; cli: string }): string {
  if (!template.includes(PLACEHOLDER)) throw new Error(`the unit template has no ${PLACEHOLDER}: is it already rendered?`);
  const cmd = `${execWord(paths.node)} ${execWord(paths.cli)}`;
  const rendered = template.split(PLACEHOLDER).join(cmd);
  // the template's header says how it is installed; the installed file says where it came from
  return `# Installed by o2stack units --install from the package's systemd/ template (edit the template or use a drop-in).\n${rendered}`;
}
