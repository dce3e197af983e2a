/**
 * Parsers of command-line option values, shared by every `panknet` command. Each takes the
 * text the user typed and returns the value, or throws commander's `InvalidArgumentError`, which
 * commander prints as `error: option '--x <n>' argument 'v' is invalid. <message>` (exit 2).
 */

import { InvalidArgumentError, Option } from 'commander';

import type { BackendName } from '../backend/select-backend.js';
import type { Vec3 } from '../io/volume.js';
import type { Triple } from '../model/architecture.js';

/** The TensorFlow.js backends `--backend` accepts, fastest first. */
export const BACKEND_CHOICES: readonly BackendName[] = [
  'tensorflow-gpu',
  'tensorflow',
  'wasm',
  'cpu',
];

/**
 * Parses a whole number from 0 (`--frame`, `--seed`, `--epochs`, `--opset`): decimal digits only.
 *
 * @throws InvalidArgumentError for anything else.
 */
export function parseNonNegativeInteger(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number)) {
    throw new InvalidArgumentError(`expected a whole number from 0, got "${value}".`);
  }
  return number;
}

/**
 * Parses a whole number from 1 (`--in-channels`, `--max-voxels`).
 *
 * @throws InvalidArgumentError for anything else.
 */
export function parsePositiveInteger(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number < 1) {
    throw new InvalidArgumentError(`expected a whole number from 1, got "${value}".`);
  }
  return number;
}

/**
 * Parses a label value of a label map (`--label`): a whole number from 0.
 *
 * @throws InvalidArgumentError for anything else, with an example.
 */
export function parseLabel(value: string): number {
  try {
    return parseNonNegativeInteger(value);
  } catch {
    throw new InvalidArgumentError(
      `expected a whole number from 0, got "${value}"; e.g. --label 7 for the pancreas in ` +
        'TotalSegmentator label maps.',
    );
  }
}

/**
 * Parses a number in [0, 1) (`--overlap`, `--threshold`).
 *
 * @throws InvalidArgumentError for anything else.
 */
export function parseFraction(value: string): number {
  const number = value.trim() === '' ? Number.NaN : Number(value);
  if (!(number >= 0 && number < 1)) {
    throw new InvalidArgumentError(`expected a number in [0, 1), got "${value}".`);
  }
  return number;
}

/**
 * Parses a finite number > 0 (`--width`).
 *
 * @throws InvalidArgumentError for anything else.
 */
export function parsePositiveNumber(value: string): number {
  const number = value.trim() === '' ? Number.NaN : Number(value);
  if (!(number > 0 && Number.isFinite(number))) {
    throw new InvalidArgumentError(`expected a positive number, got "${value}".`);
  }
  return number;
}

/**
 * A parser of `count` comma-separated finite numbers > 0 (`--lr from,to`).
 *
 * @param count - How many numbers.
 * @param what - What they are, for the message (`'from,to'`).
 * @returns The parser; it throws InvalidArgumentError for anything else.
 */
export function positiveNumberList(count: number, what: string): (value: string) => number[] {
  return (value) => {
    const parts = value.split(',').map((p) => p.trim());
    const numbers = parts.map(Number);
    if (
      parts.length !== count ||
      parts.some((p) => p === '') ||
      numbers.some((n) => !Number.isFinite(n) || n <= 0)
    ) {
      throw new InvalidArgumentError(
        `expected ${count} positive numbers (${what}), got "${value}".`,
      );
    }
    return numbers;
  };
}

/**
 * Parses a voxel spacing in mm (`--spacing`): `X,Y,Z`, or one number for isotropic voxels.
 *
 * @returns `[x, y, z]` in mm, all > 0.
 * @throws InvalidArgumentError for anything else.
 */
export function parseSpacing(value: string): Vec3 {
  const parts = value.split(',');
  try {
    const numbers = positiveNumberList(parts.length === 1 ? 1 : 3, 'mm')(value);
    return (numbers.length === 1 ? [numbers[0], numbers[0], numbers[0]] : numbers) as Vec3;
  } catch {
    throw new InvalidArgumentError(`expected X,Y,Z or one size in mm, all > 0, got "${value}".`);
  }
}

/**
 * Parses a patch size given as `X,Y,Z` (columns, rows, slices) into the network's `[D, H, W]`
 * (`--patch`).
 *
 * @returns `[z, y, x]`, whole numbers from 1.
 * @throws InvalidArgumentError for anything else.
 */
export function parsePatch(value: string): Triple {
  const parts = value.split(',').map((p) => p.trim());
  const numbers = parts.map(Number);
  if (parts.length !== 3 || parts.some((p) => !/^\d+$/.test(p)) || numbers.some((n) => n < 1)) {
    throw new InvalidArgumentError(
      `expected three whole numbers from 1, X,Y,Z (e.g. 128,128,48), got "${value}".`,
    );
  }
  return [numbers[2]!, numbers[1]!, numbers[0]!];
}

/**
 * The `--backend <name>` option: the TensorFlow.js backend, one of `BACKEND_CHOICES`
 * (default: the fastest that loads).
 */
export function backendOption(): Option {
  return new Option('--backend <name>', 'TensorFlow.js backend').choices(BACKEND_CHOICES);
}
