// Bundles the CLI into CommonJS files, dist/o2stack-cli.cjs (every command) and dist/o2stack-o2nm.cjs
// (plan, apply, show), run by the bin dist/o2stack.cjs (scripts/bin.cjs) with V8 code caches made
// here (scripts/code-cache.cjs). One file to read, no module resolution, no ESM loader, and little
// to compile at start-up: on a slow machine (a TCG VM) start-up is most of a CLI run
// (bench/vm-apply.sh measures it). The library itself ships unbundled in dist/ (tsc).
import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const nodeRequire = createRequire(import.meta.url);

// Node built-ins that are not in Node's start-up snapshot and cost tens of milliseconds each to
// load in a TCG VM (child_process alone pulls in net, stream and dgram), yet most runs never
// call them: commander requires child_process for external subcommands we do not have, and
// apply needs no crypto. Each becomes a stand-in that loads the real module on first use.
const LAZY_BUILTINS = ['child_process', 'crypto', 'dgram', 'net', 'readline', 'zlib', 'fs/promises', 'stream', 'tty'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.map((m) => m.replace('/', '\\/')).join('|')})$`);
    b.onResolve({ filter }, (args) =>
      // the stand-in's own require is of the real module
      args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' },
    );
    // esbuild's ESM interop copies a CommonJS module's property names onto a namespace object
    // at load; the names are listed here (from the Node that builds), and each one's value is
    // only fetched through the getter the interop defines, on first use.
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      loader: 'js',
      contents: `let m; const real = () => (m ??= require(${JSON.stringify(`node:${args.path}`)}));
const names = ${JSON.stringify(Object.getOwnPropertyNames(nodeRequire(`node:${args.path}`)))};
module.exports = new Proxy({}, {
  get: (_, k) => real()[k],
  has: (_, k) => k in real(),
  ownKeys: () => names,
  getOwnPropertyDescriptor: (_, k) => (names.includes(k) ? { configurable: true, enumerable: true, writable: true, value: undefined } : undefined),
});`,
    }));
  },
};

// dist/o2stack-cli.cjs: every command; dist/o2stack-o2nm.cjs: plan, apply and show only (the bin
// runs those from it: a third of the code to read and compile). Each file gives the module function
// itself, "(function (exports, require, module, __filename, __dirname) {...})", and is pure ASCII
// (esbuild escapes the rest): the bin reads it as latin1 and compiles it as it is. Reading it as
// UTF-8, cutting the shebang and wrapping it made three more copies of its text at start-up: ~340
// page faults for the whole CLI, several ms on a machine where each costs 15-20 µs. The sources
// are ESM, so the function is strict.
async function bundleCli(entry, outfile) {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // loaded at run time from node_modules: bindings finds the addon, saxes is loaded on first use
    external: ['bindings', 'saxes'],
    // the sources are ESM; in the CommonJS bundle import.meta.url is this file's URL
    define: { 'import.meta.url': '__o2sModuleUrl' },
    plugins: [lazyBuiltins],
    // less to read and to check against the code cache; names stay, so stacks stay readable
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'warning',
  });
  const body = r.outputFiles[0].text.replace(/^#!.*\n/, '').replace(/^"use strict";/, '');
  if (!/^[\x00-\x7f]*$/.test(body)) throw new Error(`${outfile} would not be pure ASCII: the bin reads it as latin1`);
  // Run as a program (`node dist/o2stack-cli.cjs ...`: what helpers installed by versions before the
  // bin existed exec), the file calls its own function, whose entry then runs (main.ts
  // invokedDirectly); compiled by the bin, where module and require are not defined, it only
  // gives the function back.
  writeFileSync(
    outfile,
    `(function (f) { if (typeof module === 'object' && typeof require === 'function' && require.main === module) f.call(exports, exports, require, module, __filename, __dirname); return f; })(function (exports, require, module, __filename, __dirname) {"use strict";const __o2sModuleUrl = require('node:url').pathToFileURL(__filename).href;${body}\n})`,
  );
}
await bundleCli('lib/cli/main.ts', 'dist/o2stack-cli.cjs');
await bundleCli('lib/cli/mainO2nm.ts', 'dist/o2stack-o2nm.cjs');
// The library for require() (package.json exports "require"): one CommonJS file beside the ESM
// build; its errors are recognised by shape, so mixing both copies in one process still works.
await build({
  entryPoints: ['lib/index.ts'],
  outfile: 'dist/index.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  packages: 'external',
  define: { 'import.meta.url': '__o2sModuleUrl' },
  banner: { js: "const __o2sModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
copyFileSync('scripts/bin.cjs', 'dist/o2stack.cjs');
chmodSync('dist/o2stack.cjs', 0o755);
rmSync('dist/o2stack.mjs', { force: true });
execFileSync(process.execPath, ['scripts/code-cache.cjs'], { stdio: 'inherit' });
// o2stack(8), from the command table (package.json "man": man o2stack after a global install)
writeFileSync('dist/o2stack.8', execFileSync(process.execPath, ['dist/o2stack.cjs', 'man'], { encoding: 'utf8' }));
