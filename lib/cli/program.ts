// The CLI's machinery, whatever commands it carries: global options, the command modules' registration,
// parsing, exit codes, errors. Two entries use it: main.ts (every command, the bundle
// dist/o2stack-cli.cjs) and mainO2nm.ts (plan, apply and show only, the bundle dist/o2stack-o2nm.cjs
// the bin picks for those: a third of the code to read and compile at start-up).
import { isatty } from 'node:tty';
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { setWaitReporter } from '../stack/progress.js';
import { EXIT, UsageError, flushOutput, printJson, reportError, terminalWaitReporter, useDirectOutput, writeErr, writeErrRaw } from './output.js';

export interface CommandModule {
  /** the top-level commands register() adds */
  commands: readonly string[];
  register: (program: Command) => void;
}

/** Registers the module that declares `command`; every module when there is none (help, typos). */
export function registerModules(program: Command, modules: readonly CommandModule[], command?: string): void {
  const one = command === undefined ? undefined : modules.find((m) => m.commands.includes(command));
  for (const m of one ? [one] : modules) m.register(program);
}

/** The first word that is not an option or an option's value: the command to run, if any. */
export function commandWord(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return argv[i + 1];
    if (a === '--root' || a === '--config') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/**
 * Commands that act on no kernel tree (files named on the command line, the daemon's socket,
 * netlink, the CLI itself): --root given to them is refused rather than silently ignored.
 */
export const IGNORES_ROOT = new Set(['config', 'monitor', 'lockspaces', 'plocks', 'daemon-ctl', 'groups', 'configure', 'completion', 'man']);

function refuseUnusedRoot(program: Command, action: Command): void {
  if (program.getOptionValueSource('root') !== 'cli' || program.opts().root === '/') return;
  let top = action;
  while (top.parent && top.parent !== program) top = top.parent;
  if (!IGNORES_ROOT.has(top.name())) return;
  const words = [];
  for (let c: Command | null = action; c && c !== program; c = c.parent) words.unshift(c.name());
  throw new UsageError(`--root is not used by o2stack ${words.join(' ')}: it acts on the files, socket or events it names, not on a kernel tree`, `run it without --root (give paths inside ${program.opts().root} directly)`);
}

/** The words of the (sub)command argv names, as far as they are known: ['o2stack', 'node', 'add']. */
function commandPath(program: Command, argv: string[]): string[] {
  const path = [program.name()];
  let cmd = program;
  for (const w of argv) {
    if (w === '--' || cmd.commands.length === 0) break;
    // words that name no subcommand here are options' values or arguments
    const sub = w.startsWith('-') ? undefined : cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
    if (sub) {
      cmd = sub;
      path.push(sub.name());
    }
  }
  return path;
}

/**
 * The program with its global options and commands: only the module of `command` when given (a
 * run), every command otherwise (help, the man page, shell completion).
 */
export function buildProgram(modules: readonly CommandModule[], command?: string, output: { writeErr?: (s: string) => void } = {}): Command {
  const program = new Command('o2stack');
  program
    .configureOutput({ writeErr: output.writeErr ?? writeErr })
    .configureHelp({ showGlobalOptions: true })
    .description('The OCFS2 cluster stack: o2cb and user stack configuration, heartbeat, mounts and status')
    .option('--json', 'print one JSON document on stdout (errors too)')
    .option('--root <dir>', 'kernel root to act on (a chroot, or a fake tree for tests)', '/')
    .option('--config <file>', 'cluster configuration file', '/etc/ocfs2/cluster.conf')
    .version(VERSION, '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride()
    .hook('preAction', (_top, action) => refuseUnusedRoot(program, action));
  registerModules(program, modules, command);
  return program;
}

/** Runs the CLI with these command modules on argv; resolves to the exit code. */
export async function mainWith(argv: string[], modules: readonly CommandModule[]): Promise<number> {
  let json = argv.includes('--json');
  // commander's own messages (usage errors, help after an error): under --json the failure is the
  // one {"error": …} document like every other, so they are not printed
  const program = buildProgram(modules, commandWord(argv), { writeErr: (t) => void (json || writeErr(t)) });
  // a terminal sees long kernel waits counting (a heartbeat start takes seconds); pipes and --json do not
  // (isatty at the wait, not at start-up: loading tty loads net, which a plain run never needs)
  if (!json) {
    const onTerminal = terminalWaitReporter(writeErrRaw);
    setWaitReporter((label) => (isatty(2) ? onTerminal(label) : () => undefined));
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.OK;
      if (json) {
        const message = e.message.replace(/^error: /, '');
        printJson({ error: { code: 'E_USAGE', commanderCode: e.code, message, hint: `${commandPath(program, argv).join(' ')} --help` } });
      }
      return EXIT.USAGE;
    }
    json = json || program.opts().json === true;
    return reportError(e, json);
  }
}

/** Runs the CLI on argv and exits with its code (what a bundle's run() does). */
export function runWith(argv: string[], main: (argv: string[]) => Promise<number>): void {
  useDirectOutput();
  // process.exit drops what a stream still holds: flushOutput first
  main(argv).then(
    (code) => flushOutput().then(() => process.exit(code)),
    (e) => {
      writeErr(`o2stack: ${String(e)}\n`);
      void flushOutput().then(() => process.exit(EXIT.FAILED));
    },
  );
}
