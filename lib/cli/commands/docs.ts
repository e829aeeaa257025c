// o2stack completion bash, o2stack man: generated from the command table (lib/cli/manPage.ts).
import type { Command } from 'commander';
import { VERSION } from '../../version.js';
import { EXIT_MEANINGS, UsageError, writeOut } from '../output.js';

/** The man page's date: the build's (SOURCE_DATE_EPOCH, for reproducible packages), else today. */
function manDate(): string {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  return new Date(Number.isFinite(epoch) && epoch > 0 ? epoch * 1000 : Date.now()).toISOString().slice(0, 10);
}

export function register(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (bash) generated from the command table: o2stack completion bash > /etc/bash_completion.d/o2stack')
    .argument('<shell>', 'bash')
    .action(async (shell: string) => {
      if (shell !== 'bash') throw new UsageError(`no completion for shell '${shell}': bash is the one supported`, 'o2stack completion bash');
      const [{ buildProgram }, { bashCompletion }] = await Promise.all([import('../main.js'), import('../manPage.js')]);
      writeOut(bashCompletion(buildProgram()));
    });
  program
    .command('man')
    .description('print the o2stack(8) manual page (roff) generated from the command table: o2stack man | man -l -')
    .action(async () => {
      const [{ buildProgram }, { manPage }] = await Promise.all([import('../main.js'), import('../manPage.js')]);
      writeOut(manPage(buildProgram(), { version: VERSION, date: manDate(), exitCodes: EXIT_MEANINGS }));
    });
}
