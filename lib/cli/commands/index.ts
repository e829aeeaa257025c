// Every command module, registered on the program, with the top-level commands it declares: a
// run registers only the module of the command it runs (building every command's options is a
// measurable part of start-up on a slow machine). test/cli/commands.test.ts checks the lists.
import type { Command } from 'commander';
import { type CommandModule, registerModules } from '../program.js';
import { O2NM_COMMANDS, register as o2nm } from './o2nm.js';
import { register as stack } from './stack.js';
import { register as mount } from './mount.js';
import { register as node } from './node.js';
import { register as config } from './config.js';
import { register as monitor } from './monitor.js';
import { register as volume } from './volume.js';
import { register as daemon } from './daemon.js';
import { register as groups } from './groups.js';
import { register as o2cb } from './o2cb.js';
import { register as helpers } from './helpers.js';
import { register as docs } from './docs.js';
import { register as units } from './units.js';

export type { CommandModule };

export const commandModules: CommandModule[] = [
  { commands: O2NM_COMMANDS, register: o2nm },
  { commands: ['detect', 'status', 'doctor', 'select', 'start', 'stop'], register: stack },
  { commands: ['mount', 'umount', 'hb-ctl'], register: mount },
  { commands: ['node'], register: node },
  { commands: ['config'], register: config },
  { commands: ['monitor'], register: monitor },
  { commands: ['volume'], register: volume },
  { commands: ['daemon', 'lockspaces', 'plocks', 'daemon-ctl'], register: daemon },
  { commands: ['groups'], register: groups },
  { commands: ['o2cb', 'configure'], register: o2cb },
  { commands: ['helpers'], register: helpers },
  { commands: ['completion', 'man'], register: docs },
  { commands: ['units'], register: units },
];

/** Registers the module that declares `command`; every module when there is none (help, typos). */
export function registerAll(program: Command, command?: string): void {
  registerModules(program, commandModules, command);
}
