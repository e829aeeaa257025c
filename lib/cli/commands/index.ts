// Every command module, registered on the program. Add a line per command file.
import type { Command } from 'commander';

type Register = (program: Command) => void;

const modules: Register[] = [];

export function registerAll(program: Command): void {
  for (const register of modules) register(program);
}
