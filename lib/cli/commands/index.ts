// Every command module, registered on the program. Add a line per command file.
import type { Command } from 'commander';
import { register as o2nm } from './o2nm.js';
import { register as stack } from './stack.js';

type Register = (program: Command) => void;

const modules: Register[] = [
  o2nm,
  stack,
  (await import('./config.js')).register,
];

export function registerAll(program: Command): void {
  for (const register of modules) register(program);
}
