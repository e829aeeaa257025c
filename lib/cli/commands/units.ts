// o2stack units [--install] [--dir DIR]: the systemd units, rendered with this installation's
// absolute paths (lib/model/systemdUnits.ts), printed or written atomically.
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type GlobalOptions, printJson, writeOut } from '../output.js';

export function register(program: Command): void {
  program
    .command('units')
    .description('the systemd units (o2stack.service, o2stack-daemon.service) with the absolute paths of node and this CLI: printed, or written with --install (then: systemctl daemon-reload)')
    .option('--install', 'write them to --dir (atomically; an existing unit is replaced)')
    .option('--dir <dir>', 'where --install writes them (under --root)', '/etc/systemd/system')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { install?: boolean; dir: string }>();
      const [{ UNIT_NAMES, renderUnit }, { packageDir }] = await Promise.all([import('../../model/systemdUnits.js'), import('../../kernel/native.js')]);
      const root = packageDir();
      const paths = { node: realpathSync(process.execPath), cli: realpathSync(join(root, 'dist', 'o2stack.cjs')) };
      const units = UNIT_NAMES.map((name) => ({ name, text: renderUnit(readFileSync(join(root, 'systemd', name), 'utf8'), paths) }));
      if (!o.install) {
        if (o.json) return printJson({ paths, units });
        return writeOut(units.map((u) => `### ${u.name}\n${u.text}`).join('\n'));
      }
      const { writeConfigFileAtomic } = await import('../../stack/configFile.js');
      const dir = join(o.root ?? '/', o.dir);
      const written: string[] = [];
      for (const u of units) {
        // a unit that is a link (systemctl mask: → /dev/null) is replaced, never written through
        await writeConfigFileAtomic(join(dir, u.name), u.text, { mode: 0o644, replaceLink: true });
        written.push(join(dir, u.name));
      }
      if (o.json) return printJson({ paths, written });
      writeOut(`${written.map((w) => `wrote ${w}\n`).join('')}ExecStart runs ${paths.node} ${paths.cli}\nnext: systemctl daemon-reload, then systemctl enable --now o2stack (o2cb) or o2stack-daemon (user stack)\n`);
    });
}
