#!/usr/bin/env node
// o2stack's bin (copied to dist/o2stack.cjs by scripts/bundle.mjs). It runs the CLI bundle next to
// it, dist/o2stack-cli.cjs, with a V8 code cache: start-up then skips parsing and compiling most of
// the bundle, which is much of a CLI run on a slow machine. A cache is valid for one Node binary
// only, so its name carries the Node version and arch (dist/o2stack-cli.cjs.v20.19.0-x64.cache);
// the build writes one for the Node that builds (scripts/code-cache.cjs), the package does not ship
// it, and a run without a usable one writes it at exit when dist/ is writable (atomically; any
// failure only costs the compile next time). CommonJS, because Node's ESM loader alone adds
// ~150 ms of start-up in a TCG VM.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const bundle = path.join(__dirname, 'o2stack-cli.cjs');
const cacheFile = `${bundle}.${process.version}-${process.arch}.cache`;

/**
 * Compiles and runs the bundle as a CommonJS module; returns its exports and the compiled script.
 * The bundle is the module function itself, in ASCII (scripts/bundle.mjs): read as latin1 and
 * compiled as it is, its text is copied once, not four times.
 */
function loadBundle(cachedData) {
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

function readCache() {
  try {
    return fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

/** Writes the code cache of this run's compiled functions (temp + rename), silently giving up. */
function writeCache(script) {
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

module.exports = { loadBundle, bundle, cacheFile };

if (require.main === module) {
  const cached = readCache();
  const { exports, script } = loadBundle(cached);
  if (!cached || script.cachedDataRejected) process.once('exit', () => writeCache(script));
  exports.run();
}
