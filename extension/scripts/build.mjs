// Builds the extension: the three renderers (../scripts/build-renderers.mjs copies them into
// dist/renderers/), a type check, and the extension host bundled by esbuild into
// dist/extension.cjs, so that `vsce package --no-dependencies` needs no node_modules.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(here, '..');
const require = createRequire(join(root, 'package.json'));
const { build } = require('esbuild');

const renderers = join(root, 'scripts', 'build-renderers.mjs');
execFileSync(process.execPath, [renderers], { stdio: 'inherit' });
const tsc = require.resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
await build({
  entryPoints: [join(here, 'src', 'extension.ts')],
  outfile: join(here, 'dist', 'extension.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node18',
  external: ['vscode'],
  logLevel: 'warning',
});
process.stdout.write(`extension built into ${join(here, 'dist')}\n`);
