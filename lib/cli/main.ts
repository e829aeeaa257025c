#!/usr/bin/env node
// o2stack: the CLI with every command. Commands are declared in commands/*.ts; their work is
// imported lazily so that start-up costs only commander and the command that runs. The machinery
// is program.ts; mainO2nm.ts is the same CLI with plan, apply and show only.
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { commandModules } from './commands/index.js';
import { buildProgram as buildWith, mainWith, runWith } from './program.js';

export { IGNORES_ROOT } from './program.js';

/**
 * The program with its global options and commands: only the module of `command` when given (a
 * run), every command otherwise (help, the man page, shell completion).
 */
export function buildProgram(command?: string, output: { writeErr?: (s: string) => void } = {}): Command {
  return buildWith(commandModules, command, output);
}

export async function main(argv: string[]): Promise<number> {
  // mount(8)'s helper (o2stack helpers install writes a script that runs `o2stack mount.ocfs2 ...`,
  // the package's bin mount.ocfs2 runs this file under that name): its own arguments and exit codes
  if (argv[0] === 'mount.ocfs2') {
    const { runMountHelperCli } = await import('./commands/helpers.js');
    return runMountHelperCli(argv.slice(1));
  }
  return mainWith(argv, commandModules);
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
  if (basename(process.argv[1] ?? '') === 'mount.ocfs2') argv = ['mount.ocfs2', ...argv];
  runWith(argv, main);
}

if (invokedDirectly()) run();
