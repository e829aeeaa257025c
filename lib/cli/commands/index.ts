// Every command module, registered on the program. Add a line per command file.
import type { Command } from 'commander';
import { register as o2nm } from './o2nm.js';
import { register as stack } from './stack.js';
import { register as mount } from './mount.js';
import { register as node } from './node.js';
import { register as config } from './config.js';
import { register as monitor } from './monitor.js';
import { register as volume } from './volume.js';
import { register as daemon } from './daemon.js';
import { register as groups } from './groups.js';

type Register = (program: Command) => void;

const modules: Register[] = [
  o2nm,
  stack,
  mount,
  node,
  config,
  monitor,
  volume,
  daemon,
  groups,
];

export function registerAll(program: Command): void {
  for (const register of modules) register(program);
}
