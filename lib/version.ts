// The package's version (package.json "version"; test/cli/commands.test.ts keeps them equal): a
// constant, so the CLI bundle and its start-up snapshot need not read package.json.
export const VERSION = '0.1.0';
