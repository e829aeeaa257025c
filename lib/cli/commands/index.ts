// Every command module, registered on the program. Add a line per command file.
import type { Command } from 'commander';
import { register as o2nm } from './o2nm.js';
import { register as stack } from './stack.js';
import { register as mount } from './mount.js';

type Register = (program: Command) => void;

const modules: Register[] = [
  o2nm,
  stack,
  mount,
  (await import('./config.js')).register,
  (await import('./monitor.js')).register,
  (await import('./volume.js')).register,
];

export function registerAll(program: Command): void {
  for (const register of modules) register(program);
}
