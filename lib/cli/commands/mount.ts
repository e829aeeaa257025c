// o2stack mount | umount | hb-ctl: volumes on the o2cb stack.
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CliError, EXIT, type GlobalOptions, UsageError, printJson, writeOut } from '../output.js';

async function deps(o: GlobalOptions) {
  if (o.root && o.root !== '/') throw new UsageError('mount, umount and hb-ctl act on the running kernel: --root is not supported here', 'run it without --root');
  const [{ NativeBackend }, { nativeSystem }, { readVolumeFromDisk }] = await Promise.all([import('../../kernel/backend.js'), import('../../kernel/system.js'), import('../../stack/volumes.js')]);
  return { b: new NativeBackend({ root: '/' }), sys: nativeSystem, read: readVolumeFromDisk };
}

/**
 * A shell script that runs this package's CLI with `args` followed by its own arguments. The kernel
 * runs its helpers with a bare environment (PATH=/sbin:/bin:/usr/sbin:/usr/bin, HOME=/, cwd /), so
 * everything in it is absolute: node, this package's CLI entry, and, when running from TypeScript
 * sources, the tsx loader. `marker` is the line that says whose script it is.
 */
export function cliWrapper(args: string, marker: string): string {
  const c = cliInvocation();
  const cd = c.dir !== '/' ? `cd ${shellQuote(c.dir)} && ` : '';
  return `#!/bin/sh\n${marker}\n${cd}exec ${c.exec} ${args} "$@"\n`;
}

export const shellQuote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/**
 * How a script runs this package's CLI: `exec` (shell-quoted words: node, from TypeScript sources
 * tsx's loader, the CLI entry) run in `dir` (the package root for tsx's loader, else /).
 */
export function cliInvocation(): { dir: string; exec: string } {
  const self = fileURLToPath(import.meta.url);
  const ts = self.endsWith('.ts');
  // unbundled (lib/ or dist/): the CLI entry is cli/main; bundled (dist/o2stack-cli.cjs): the bin
  // beside it, dist/o2stack.cjs (a bundle is only its module function: run alone it does nothing)
  const main = basename(self).startsWith('mount.') ? join(dirname(self), '..', ts ? 'main.ts' : 'main.js') : join(dirname(self), 'o2stack.cjs');
  // From TypeScript sources (development, tests): tsx's loader, resolved from the package root.
  const dir = ts ? join(dirname(self), '..', '..', '..') : '/';
  const loader = ts ? '--import tsx ' : '';
  return { dir, exec: `${shellQuote(process.execPath)} ${loader}${shellQuote(main)}` };
}

/** The wrapper the kernel runs at unmount ("<this> -K -u UUID" after unmounting an o2cb volume). */
export function hbCtlWrapper(): string {
  return cliWrapper('hb-ctl', '# o2stack\'s heartbeat helper: the kernel runs "<this> -K -u UUID" after unmounting an o2cb volume.');
}

/** /sbin/mount.ocfs2: what mount(8) runs for `mount -t ocfs2` (o2stack helpers install). */
export function mountHelperWrapper(marker: string): string {
  return cliWrapper('mount.ocfs2', `${marker} mount.ocfs2, run by mount(8) for mount -t ocfs2 (o2stack helpers remove puts back what was here)`);
}

export function register(program: Command): void {
  program
    .command('mount <device> <dir>')
    .description('mount an OCFS2 volume on the o2cb stack: preflight, heartbeat, mount(2); nothing is left running if it fails')
    .option('-o, --options <list>', 'extra mount options, comma separated (e.g. noatime)')
    .action(async (device: string, dir: string, _o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { options?: string }>();
      const { b, sys, read } = await deps(o);
      const { mountVolume } = await import('../../stack/mount.js');
      const r = await mountVolume(b, sys, read, { device, dir, options: o.options ? o.options.split(',').filter(Boolean) : [] });
      // mounted, with something to know: said on stderr (and in the JSON document)
      for (const w of r.warnings ?? []) process.stderr.write(`o2stack: warning (${w.code}): ${w.message}\n  fix: ${w.fix}\n`);
      if (o.json) return printJson(r);
      const hb = r.heartbeat ? (r.heartbeat.alreadyRunning ? ', heartbeat already running' : `, heartbeat started in ${(r.heartbeat.ms / 1000).toFixed(1)} s`) : '';
      writeOut(`mounted ${device} (${r.uuid}) on ${dir} with ${r.options}${hb}, mount took ${(r.mountMs / 1000).toFixed(1)} s\n`);
    });

  program
    .command('umount <dir>')
    .description('unmount an OCFS2 volume and make sure its heartbeat stops')
    .action(async (dir: string, _o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const { b, sys, read } = await deps(o);
      const { umountVolume } = await import('../../stack/mount.js');
      const r = await umountVolume(b, sys, read, dir);
      if (o.json) return printJson(r);
      const hb = { 'stopped-by-helper': ', heartbeat stopped by the kernel’s hb_ctl helper', stopped: ', heartbeat stopped', 'still-in-use': ', heartbeat still in use', none: '' }[r.heartbeat];
      writeOut(`unmounted ${r.device} from ${r.dir}${hb}\n`);
    });

  program
    .command('hb-ctl')
    .description('ocfs2_hb_ctl-compatible heartbeat control; install with --install so the kernel runs it at unmount')
    .option('-S, --start', 'start heartbeat for the volume')
    .option('-K, --kill', 'stop heartbeat for the volume')
    .option('-I, --info', 'print "<UUID>: <n> refs"')
    .option('-P, --priority', 'accepted for compatibility (the o2hb thread is left as it is)')
    .option('-d, --device <dev>', 'the volume by device')
    .option('-u, --uuid <uuid>', 'the volume by UUID')
    .option('-n, --nice <prio>', 'accepted for compatibility with -P')
    .option('--install [path]', 'write the helper script (default /sbin/o2stack-hb-ctl) and make it the kernel’s hb_ctl_path')
    .argument('[service]', 'accepted for compatibility (ocfs2, or a tool name)')
    .action(async (_service: string | undefined, _o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { start?: boolean; kill?: boolean; info?: boolean; priority?: boolean; device?: string; uuid?: string; install?: string | boolean }>();
      const { b } = await deps(o);
      const [{ HB_CTL_PATH_SYSCTL }, hbm, bd, { readO2nmState }] = await Promise.all([import('../../model/paths.js'), import('../../stack/heartbeat.js'), import('../../kernel/blockdev.js'), import('../../kernel/o2nm.js')]);
      if (o.install) {
        const path = typeof o.install === 'string' ? o.install : '/sbin/o2stack-hb-ctl';
        const { writeConfigFileAtomic } = await import('../../stack/configFile.js');
        await writeConfigFileAtomic(path, hbCtlWrapper(), { mode: 0o755, replaceLink: true });
        b.write(HB_CTL_PATH_SYSCTL, `${path}\n`);
        if (o.json) return printJson({ installed: path, hbCtlPath: path });
        return void writeOut(`installed ${path} and set ${HB_CTL_PATH_SYSCTL} to it\n`);
      }
      const modes = [o.start, o.kill, o.info, o.priority].filter(Boolean).length;
      if (modes !== 1) throw new CliError('give exactly one of -S, -K, -I, -P', EXIT.USAGE);
      if (!o.device && !o.uuid) throw new CliError('give the volume with -d DEVICE or -u UUID', EXIT.USAGE);
      let device = o.device;
      let uuid = o.uuid?.replace(/-/g, '').toUpperCase();
      if (device && !uuid) uuid = bd.inspectVolume(device).superblock.uuid;
      const cluster = readO2nmState(b).clusters[0];
      if (o.kill) {
        if (!cluster) return; // nothing registered: nothing to stop (the kernel calls this for every cluster mount)
        const r = hbm.stopRegion(b, cluster.name, uuid!);
        if (o.json) printJson(r);
        return;
      }
      if (o.info || o.priority) {
        const running = cluster ? hbm.regionDev(b, cluster.name, uuid!) : undefined;
        if (o.json) return printJson({ uuid, running: Boolean(running), dev: running ?? null });
        return void writeOut(`${uuid}: ${running ? 1 : 0} refs\n`);
      }
      if (!cluster) throw new CliError('no o2cb cluster is registered', EXIT.NOT_RUNNING, 'o2stack start');
      if (!device) {
        const v = bd.findByUuid(uuid!);
        if (!v) throw new CliError(`no block device holds the OCFS2 volume ${uuid}`, EXIT.FAILED, 'o2stack volume list shows the volumes found');
        device = v.device;
      }
      const v = bd.inspectVolume(device);
      if (!v.heartbeat) throw new CliError(`${device}: ${v.heartbeatError?.message}`, EXIT.FAILED, v.heartbeatError?.hint);
      const r = await hbm.startRegion(b, cluster.name, { uuid: v.superblock.uuid, device, blockBytes: v.heartbeat.blockBytes, startBlock: v.heartbeat.startBlock, blocks: v.heartbeat.blocks });
      if (o.json) printJson(r);
    });
}
