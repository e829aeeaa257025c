// o2stack with the o2nm commands only (plan, apply, show): the bundle dist/o2stack-o2nm.cjs, which
// the bin runs for those commands instead of the whole CLI. The same program, options, output and
// exit codes as main.ts (which registers only the running command's module anyway); a third of
// the code to read, compile and initialise at start-up, which is most of an `o2stack apply` on a
// slow machine (bench/apply.ts).
import { O2NM_COMMANDS, register } from './commands/o2nm.js';
import { type CommandModule, mainWith, runWith } from './program.js';

const modules: readonly CommandModule[] = [{ commands: O2NM_COMMANDS, register }];

export function main(argv: string[]): Promise<number> {
  return mainWith(argv, modules);
}

export function run(argv = process.argv.slice(2)): void {
  runWith(argv, main);
}
