import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (the folder with package.json). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `../shared` beside the project: real data and the real-world file cases. */
export const SHARED_DIR = resolve(PROJECT_ROOT, '..', 'shared');

/**
 * Path of a file in `../shared/data`; throws (the test fails, never skips) when it is missing.
 *
 * @param name - File name inside `../shared/data`.
 */
export function sharedData(name: string): string {
  return mustExist(join(SHARED_DIR, 'data', name));
}

/** Path inside `../shared/cases`; throws when missing. */
export function sharedCase(relative: string): string {
  return mustExist(join(SHARED_DIR, 'cases', relative));
}

function mustExist(path: string): string {
  if (!existsSync(path)) {
    throw new Error(`test data missing: ${path}. Clone the project beside ../shared.`);
  }
  return path;
}

/** Path of the built CLI entry (run `npm run build` first; `npm test` does). */
export const CLI_PATH = join(PROJECT_ROOT, 'dist', 'cli', 'main.js');

/**
 * Writes `pairs.json` in `dir`: the example CT of `../shared/data` with its pancreas mask, as a
 * one-case pair list for training tests.
 *
 * @returns The path of the list.
 */
export function writeExamplePairList(dir: string): string {
  const path = join(dir, 'pairs.json');
  const pair = {
    image: sharedData('ct-abdomen-3mm.nii.gz'),
    label: sharedData('ct-abdomen-3mm.pancreas.nii.gz'),
  };
  writeFileSync(path, JSON.stringify([pair]));
  return path;
}
