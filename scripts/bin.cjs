#!/usr/bin/env node
// o2stack's bin (copied to dist/o2stack.cjs by scripts/bundle.mjs). It runs the CLI bundle next to
// it, dist/o2stack-cli.cjs, with the V8 code cache written at build time
// (dist/o2stack-cli.cjs.cache, scripts/code-cache.cjs): start-up then skips parsing and compiling
// most of the bundle, which is much of a CLI run on a slow machine. A missing cache, or one V8
// rejects (another Node version), costs only that time. CommonJS, because Node's ESM loader alone
// adds ~150 ms of start-up in a TCG VM.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const bundle = path.join(__dirname, 'o2stack-cli.cjs');

/** Compiles and runs the bundle as a CommonJS module; returns its exports and the compiled script. */
function loadBundle(cachedData) {
  const source = fs.readFileSync(bundle, 'utf8').replace(/^#!.*/, '');
  const script = new vm.Script(Module.wrap(source), {
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
    return fs.readFileSync(bundle + '.cache');
  } catch {
    return undefined;
  }
}

module.exports = { loadBundle, bundle };

if (require.main === module) loadBundle(readCache()).exports.run();
