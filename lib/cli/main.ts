#!/usr/bin/env node
// o2stack: the CLI. Commands are declared in commands/*.ts; their work is imported lazily so that
// start-up costs only commander and the command that runs.
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { isatty } from 'node:tty';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { registerAll } from './commands/index.js';
import { setWaitReporter } from '../stack/progress.js';
import { EXIT, UsageError, flushOutput, printJson, reportError, terminalWaitReporter, useDirectOutput, writeErr, writeErrRaw } from './output.js';

/** The first word that is not an option or an option's value: the command to run, if any. */
function commandWord(argv: string[]): string | undefined {
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
export function buildProgram(command?: string, output: { writeErr?: (s: string) => void } = {}): Command {
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
  registerAll(program, command);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // mount(8)'s helper (o2stack helpers install writes a script that runs `o2stack mount.ocfs2 ...`,
  // the package's bin mount.ocfs2 runs this file under that name): its own arguments and exit codes
  if (argv[0] === 'mount.ocfs2') {
    const { runMountHelperCli } = await import('./commands/helpers.js');
    return runMountHelperCli(argv.slice(1));
  }
  let json = argv.includes('--json');
  // commander's own messages (usage errors, help after an error): under --json the failure is the
  // one {"error": …} document like every other, so they are not printed
  const program = buildProgram(commandWord(argv), { writeErr: (t) => void (json || writeErr(t)) });
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

// Run when executed as a program (not when imported by tests): this module's file is argv[1]
// (through the bin symlink, hence realpath).
function invokedDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url;
  } catch {
    return false;
  }
}

/** Runs the CLI on this process's arguments and exits with its code (the bin's entry). */
export function run(argv = process.argv.slice(2)): void {
  useDirectOutput();
  if (basename(process.argv[1] ?? '') === 'mount.ocfs2') argv = ['mount.ocfs2', ...argv];
  // process.exit drops what a stream still holds: flushOutput first
  main(argv).then(
    (code) => flushOutput().then(() => process.exit(code)),
    (e) => {
      writeErr(`o2stack: ${String(e)}\n`);
      void flushOutput().then(() => process.exit(EXIT.FAILED));
    },
  );
}

if (invokedDirectly()) run();
