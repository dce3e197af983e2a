#!/usr/bin/env node
// The README's demo: segment the shipped example CT with the shipped demo model, then measure
// it against the reference mask and write a picture and a viewer page. Outputs go to out/demo/.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const ct = join(root, 'examples', 'ct-abdomen-3mm.nii.gz');
const reference = join(root, 'examples', 'ct-abdomen-3mm.pancreas.nii.gz');
const out = join(root, 'out', 'demo');
mkdirSync(out, { recursive: true });

const steps = [
  ['info', ct],
  [
    'predict',
    ct,
    '-o',
    join(out, 'pancreas.nii.gz'),
    '--decoder-maps',
    join(out, 'decoders'),
    '--preview',
    join(out, 'preview.png'),
  ],
  ['evaluate', '--pred', join(out, 'pancreas.nii.gz'), '--ref', reference],
  ['view', ct, '--mask', join(out, 'pancreas.nii.gz'), '-o', join(out, 'view.html')],
];
for (const args of steps) {
  process.stdout.write(`\n$ panknet ${args.map((a) => a.replace(root + '/', '')).join(' ')}\n`);
  const result = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
process.stdout.write(
  `\nWrote ${join('out', 'demo')}/: pancreas.nii.gz, decoders/, preview.png, view.html\n` +
    'The demo model is a small network trained briefly on this one CT: its Dice above is not a ' +
    "measure of PankNet's accuracy (see models/demo/MODEL_CARD.md).\n",
);
