// Builds the notebook renderers into renderers/dist/ with esbuild, after type-checking them:
//   slice-viewer.js, decoder-maps.js, curves.js  ES modules exporting `activate` (VS Code API)
//   slice-viewer-standalone.js                   a classic script for `panknet view` pages
// Then copies them into extension/dist/renderers/ for the .vsix. Usage: npm run build:renderers
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'renderers', 'dist');
const require = createRequire(import.meta.url);

const tsc = require.resolve('typescript/bin/tsc');
const tsconfig = join(root, 'renderers', 'tsconfig.json');
execFileSync(process.execPath, [tsc, '-p', tsconfig], { stdio: 'inherit' });

const common = {
  bundle: true,
  minify: true,
  target: 'es2020',
  platform: 'browser',
  legalComments: 'none',
  logLevel: 'warning',
};
await build({
  ...common,
  format: 'esm',
  entryPoints: {
    'slice-viewer': join(root, 'renderers/slice-viewer/index.ts'),
    'decoder-maps': join(root, 'renderers/decoder-maps/index.ts'),
    curves: join(root, 'renderers/curves/index.ts'),
  },
  outdir: out,
});
await build({
  ...common,
  format: 'iife',
  entryPoints: { 'slice-viewer-standalone': join(root, 'renderers/slice-viewer/standalone.ts') },
  outdir: out,
});

mkdirSync(join(root, 'extension', 'dist'), { recursive: true });
cpSync(out, join(root, 'extension', 'dist', 'renderers'), { recursive: true });
process.stdout.write(`renderers built into ${out}\n`);
