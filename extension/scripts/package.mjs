// Packages the built extension into panknet-notebooks.vsix offline (no dependency lookup).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(here, '..', 'package.json'));
const vsce = join(dirname(require.resolve('@vscode/vsce/package.json')), 'vsce');
const args = [
  'package',
  '--no-dependencies',
  '--allow-missing-repository',
  '--out',
  'panknet-notebooks.vsix',
];
const result = spawnSync(process.execPath, [vsce, ...args], { cwd: here, stdio: 'inherit' });
process.exit(result.status ?? 1);
