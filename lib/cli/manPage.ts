// o2stack(8) and shell completion, generated from the program's own command table, so they list
// exactly the commands and options the CLI accepts (test/cli/manPage.test.ts compares them).
import type { Command, Option } from 'commander';

/** Every command under `root`, depth first, with its words: [['node', 'add'], command]. */
export function commandTree(root: Command): { path: string[]; cmd: Command }[] {
  const out: { path: string[]; cmd: Command }[] = [];
  const walk = (c: Command, path: string[]) => {
    for (const sub of c.commands) {
      if ((sub as unknown as { _hidden?: boolean })._hidden || sub.name() === 'help') continue;
      out.push({ path: [...path, sub.name()], cmd: sub });
      walk(sub, [...path, sub.name()]);
    }
  };
  walk(root, []);
  return out;
}

const visibleOptions = (c: Command): Option[] => c.options.filter((o) => !o.hidden);

/** Text for roff: backslashes, hyphens (so they copy as ASCII) and a leading dot or quote escaped. */
export function roff(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

function optionLines(o: Option): string {
  const def = o.defaultValue !== undefined && o.defaultValue !== false ? ` (default: ${JSON.stringify(o.defaultValue)})` : '';
  return `.TP\n.B ${roff(o.flags)}\n${roff(o.description + def)}\n`;
}

export interface ManPageInfo {
  version: string;
  /** e.g. 2026-12-05 */
  date: string;
  exitCodes: Record<number, string>;
}

export function manPage(program: Command, info: ManPageInfo): string {
  const name = program.name();
  let t = `.TH ${name.toUpperCase()} 8 "${info.date}" "ocfs2-stack ${info.version}" "System Administration"\n`;
  t += `.SH NAME\n${roff(name)} \\- ${roff(program.description())}\n`;
  t += `.SH SYNOPSIS\n.B ${name}\n[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR...]\n`;
  t += `.br\n.B mount.ocfs2\n\\fIDEVICE\\fR \\fIDIR\\fR [\\fB\\-sfnv\\fR] [\\fB\\-o\\fR \\fIOPTIONS\\fR]\n`;
  t += `.SH DESCRIPTION\n${roff(program.description())}.\nEach command is listed below with its options; \\fB${name} COMMAND \\-\\-help\\fR prints the same.\n`;
  t += `.SH GLOBAL OPTIONS\nAccepted before or after the command.\n`;
  for (const o of visibleOptions(program)) t += optionLines(o);
  t += `.SH COMMANDS\n`;
  for (const { path, cmd } of commandTree(program)) {
    t += `.SS "${roff([name, ...path].join(' '))} ${roff(cmd.usage())}"\n${roff(cmd.description())}\n`;
    const opts = visibleOptions(cmd);
    if (opts.length) t += `.RS\n${opts.map(optionLines).join('')}.RE\n`;
  }
  t += `.SH EXIT STATUS\n`;
  for (const [code, meaning] of Object.entries(info.exitCodes)) t += `.TP\n.B ${code}\n${roff(meaning)}\n`;
  t += `.SH FILES\n.TP\n.I /etc/ocfs2/cluster.conf\nthe o2cb cluster configuration (\\-\\-config)\n.TP\n.I /etc/default/o2cb, /etc/sysconfig/o2cb\no2cb's defaults (boot cluster, timeouts)\n`;
  t += `.TP\n.I /sys/kernel/config/cluster\nthe o2cb cluster in configfs\n.TP\n.I /sys/kernel/config/dlm\nfs/dlm, configured by the control daemon\n`;
  t += `.SH SEE ALSO\n.BR mount.ocfs2 (8),\n.BR o2cb (8),\n.BR dlm_controld (8),\n.BR corosync (8),\n.BR mkfs.ocfs2 (8)\n`;
  return t;
}

const shellWord = (s: string) => (/^[A-Za-z0-9_./:=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** A bash completion function: subcommands and options at each level of the command table. */
export function bashCompletion(program: Command): string {
  const name = program.name();
  const globals = visibleOptions(program).flatMap((o) => [o.long, o.short].filter((x): x is string => !!x));
  const level = (c: Command, path: string[]) => {
    const subs = c.commands.filter((s) => !(s as unknown as { _hidden?: boolean })._hidden).map((s) => s.name());
    const opts = visibleOptions(c).flatMap((o) => [o.long, o.short].filter((x): x is string => !!x));
    return `    ${shellWord(path.join(' ') || '-')}) words=${shellWord([...subs, ...opts, ...globals, '--help'].join(' '))} ;;\n`;
  };
  let cases = level(program, []);
  for (const { path, cmd } of commandTree(program)) cases += level(cmd, path);
  // options that take a value: the word after them is the value, not a command
  const valued = new Set<string>();
  for (const c of [program, ...commandTree(program).map((x) => x.cmd)]) for (const o of visibleOptions(c)) if (o.required || o.optional) for (const f of [o.long, o.short]) if (f) valued.add(f);
  return `# bash completion for ${name} (generated from its command table: ${name} completion bash)
_${name}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path='' w i skip=0 words
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if ((skip)); then skip=0; continue; fi
    case " ${[...valued].join(' ')} " in *" $w "*) skip=1; continue ;; esac
    [[ $w == -* ]] && continue
    case "\${path:+$path }$w" in
${commandTree(program).map(({ path }) => `      ${shellWord(path.join(' '))}) path=${shellWord(path.join(' '))} ;;`).join('\n')}
    esac
  done
  case "\${path:--}" in
${cases}    *) words='' ;;
  esac
  if ((skip)); then COMPREPLY=($(compgen -f -- "$cur")); return; fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  [[ \${#COMPREPLY[@]} -eq 0 ]] && COMPREPLY=($(compgen -f -- "$cur"))
  return 0
}
complete -F _${name} ${name}
`;
}
