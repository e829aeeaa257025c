// Bundles the CLI into one file, dist/o2stack.mjs (the package's bin): one file to read and no
// module resolution at start-up, which matters on slow machines (measured in a TCG VM: about a
// quarter of the CLI's start-up). The library itself ships unbundled in dist/ (tsc).
import { build } from 'esbuild';

await build({
  entryPoints: ['lib/cli/main.ts'],
  outfile: 'dist/o2stack.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // loaded at run time from node_modules: bindings finds the addon, saxes is loaded on first use
  external: ['bindings', 'saxes'],
  banner: { js: "import { createRequire as __o2sCreateRequire } from 'node:module';\nconst require = __o2sCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
