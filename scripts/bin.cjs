#!/usr/bin/env node
// o2stack's bin (copied to dist/o2stack.cjs by scripts/bundle.mjs). It runs a CLI bundle next to
// it with a V8 code cache: start-up then skips parsing and compiling most of the bundle, which is
// much of a CLI run on a slow machine. `plan`, `apply` and `show` run from dist/o2stack-o2nm.cjs
// (those commands only: a third of the code), everything else from dist/o2stack-cli.cjs; one
// process loads one bundle. A cache is valid for one Node binary only, so its name carries the
// Node version and arch (dist/o2stack-cli.cjs.v20.19.0-x64.cache); the build writes them for the
// Node that builds (scripts/code-cache.cjs), the package does not ship them, and a run without a
// usable one writes it at exit when dist/ is writable (atomically; any failure only costs the
// compile next time). CommonJS, because Node's ESM loader alone adds ~150 ms of start-up in a TCG
// VM.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const bundles = { cli: path.join(__dirname, 'o2stack-cli.cjs'), o2nm: path.join(__dirname, 'o2stack-o2nm.cjs') };
// lib/cli/commands/o2nm.ts O2NM_COMMANDS (test/cli/bin.test.ts holds them equal)
const O2NM_COMMANDS = ['plan', 'apply', 'show'];
const cacheFileOf = (bundle) => `${bundle}.${process.version}-${process.arch}.cache`;

/** lib/cli/program.ts commandWord: the first word that is not an option or an option's value. */
function commandWord(argv) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return argv[i + 1];
    if (a === '--root' || a === '--config') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/** The bundle that runs these arguments (mount.ocfs2, the mount helper, is in the whole CLI). */
function bundleFor(argv, invokedAs) {
  return invokedAs !== 'mount.ocfs2' && O2NM_COMMANDS.includes(commandWord(argv)) ? bundles.o2nm : bundles.cli;
}

/**
 * Compiles and runs a bundle as a CommonJS module; returns its exports and the compiled script.
 * A bundle's text evaluates to its module function and is ASCII (scripts/bundle.mjs): read as
 * latin1 and compiled as it is, its text is copied once, not four times.
 */
function loadBundle(cachedData, bundle = bundles.cli) {
  const source = fs.readFileSync(bundle, 'latin1');
  const script = new vm.Script(source, {
    filename: bundle,
    cachedData,
    importModuleDynamically: vm.constants && vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const m = new Module(bundle, module);
  m.filename = bundle;
  m.paths = Module._nodeModulePaths(__dirname);
  script.runInThisContext().call(m.exports, m.exports, Module.createRequire(bundle), m, bundle, __dirname);
  m.loaded = true;
  return { exports: m.exports, script };
}

function readCache(cacheFile) {
  try {
    return fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

/** Writes the code cache of this run's compiled functions (temp + rename), silently giving up. */
function writeCache(script, cacheFile) {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, script.createCachedData(), { flag: 'wx' });
    fs.renameSync(tmp, cacheFile);
  } catch {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* not made */
    }
  }
}

module.exports = { loadBundle, bundles, cacheFileOf, bundleFor, commandWord, O2NM_COMMANDS };

if (require.main === module) {
  const bundle = bundleFor(process.argv.slice(2), path.basename(process.argv[1] || ''));
  const cacheFile = cacheFileOf(bundle);
  const cached = readCache(cacheFile);
  const { exports, script } = loadBundle(cached, bundle);
  if (!cached || script.cachedDataRejected) process.once('exit', () => writeCache(script, cacheFile));
  exports.run();
}
