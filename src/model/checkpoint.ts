/**
 * PankNet checkpoints: a folder with `weights.bin` (float32 little-endian, parameters back to
 * back in the order of `weights.json`), `weights.json` (name, shape, offset in bytes, dtype)
 * and `panknet.json` (format version, architecture, preprocessing, labels, training info,
 * sha256 of weights.bin). Reads and writes plain state dicts: no TensorFlow.js needed.
 *
 * A partial checkpoint holds only some top-level parts of the network, e.g. the encoder that
 * `panknet import-s3d` writes; its `panknet.json` lists them in `parts` and says in `note` what
 * is left out. Training can start from it; inference cannot.
 */

import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import { InputFileError, WeightsError } from '../util/errors.js';
import { buildPankNetGraph, type PankNetOptions, type Triple } from './architecture.js';
import { checkStateDict, parametersOfParts, topLevelParts, type StateDict } from './state-dict.js';

/** Version of the checkpoint layout this code writes and reads. */
export const CHECKPOINT_FORMAT_VERSION = 1;

/** Preprocessing the weights expect. */
export interface NormalisationInfo {
  modality: 'ct' | 'mri';
  /** CT window `[low, high]` in HU before scaling to [0, 1] (CT only). */
  windowHu?: [number, number];
  /** Further method fields, e.g. `{ method: 'zscore-minmax' }`. */
  [key: string]: unknown;
}

/** Everything in `panknet.json` except what `saveCheckpoint` fills in. */
export interface CheckpointMeta {
  architecture: PankNetOptions;
  /** Window `[D, H, W]` in voxels. */
  patch: Triple;
  /** Voxel spacing `[x, y, z]` in mm the network was trained at. */
  targetSpacingMm: [number, number, number];
  orientation: 'RAS';
  normalisation: NormalisationInfo;
  labels: Record<string, string>;
  /** Free-form: epochs, Dice, data split, date. */
  training?: Record<string, unknown>;
}

/** `panknet.json` as written. */
export interface CheckpointManifest extends CheckpointMeta {
  formatVersion: number;
  weightsSha256: string;
  /**
   * Top-level parts the weights cover (e.g. `['encoder']`) when the checkpoint is partial;
   * absent for a whole network.
   */
  parts?: string[];
  /** For a partial checkpoint: which parts are left out and who initialises them. */
  note?: string;
}

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /**
   * Write only the parameters under these top-level prefixes, e.g. `['encoder']`; the other
   * parts are left for training to initialise. Absent: the whole network.
   */
  parts?: string[];
}

interface WeightsIndexEntry {
  name: string;
  shape: number[];
  /** Byte offset in weights.bin. */
  offset: number;
  dtype: 'float32';
}

/**
 * Writes a checkpoint folder atomically: into a temp folder beside `dir`, fsynced, then renamed
 * in place (an existing folder is renamed aside first and removed last).
 *
 * @param dir - Checkpoint folder to create or replace.
 * @param stateDict - Weights in PyTorch layout; checked against `meta.architecture` (only the
 *   parameters under `options.parts` when given: no other key may be present).
 * @param meta - Architecture, preprocessing and labels.
 * @param options - `parts` to write a partial checkpoint, e.g. `['encoder']`.
 * @returns The manifest written; a partial one records `parts` and a `note`.
 * @throws WeightsError when the weights do not fit the architecture or the parts, or a part
 *   names no parameter of the network.
 */
export function saveCheckpoint(
  dir: string,
  stateDict: StateDict,
  meta: CheckpointMeta,
  options: SaveCheckpointOptions = {},
): CheckpointManifest {
  const graph = buildPankNetGraph(meta.architecture);
  const parts = options.parts === undefined ? undefined : [...new Set(options.parts)];
  const parameters = parametersOfParts(graph, parts);
  checkStateDict(graph, stateDict, `saveCheckpoint(${dir})`, { parts });
  const target = resolve(dir);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp, { recursive: true });
  try {
    const index: WeightsIndexEntry[] = [];
    let offset = 0;
    const chunks: Buffer[] = [];
    for (const p of parameters) {
      const entry = stateDict.get(p.name)!;
      const bytes = Buffer.alloc(entry.data.length * 4);
      entry.data.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
      index.push({ name: p.name, shape: p.shape, offset, dtype: 'float32' });
      chunks.push(bytes);
      offset += bytes.length;
    }
    const weights = Buffer.concat(chunks);
    const manifest: CheckpointManifest = {
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      ...meta,
      weightsSha256: createHash('sha256').update(weights).digest('hex'),
      ...(parts ? { parts, note: partialNote(graph, parts) } : {}),
    };
    writeSynced(join(tmp, 'weights.bin'), weights);
    writeSynced(join(tmp, 'weights.json'), Buffer.from(JSON.stringify(index, null, 1) + '\n'));
    writeSynced(join(tmp, 'panknet.json'), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
    const aside = `${tmp}.old`;
    const replacing = existsSync(target);
    if (replacing) renameSync(target, aside);
    renameSync(tmp, target);
    if (replacing) rmSync(aside, { recursive: true, force: true });
    return manifest;
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Refuses a partial checkpoint where the whole network is needed (inference, ONNX export).
 *
 * @param dir - The checkpoint folder, for the message.
 * @param manifest - Its `panknet.json`.
 * @param purpose - What needs the whole network, e.g. `inference`.
 * @throws WeightsError naming the folder, the parts it holds and the fix (train from it).
 */
export function requireWholeCheckpoint(
  dir: string,
  manifest: CheckpointManifest,
  purpose: string,
): void {
  const parts = manifest.parts;
  if (parts === undefined) return;
  const what =
    parts.length === 1 && parts[0] === 'encoder'
      ? 'encoder-only weights from import-s3d'
      : `partial weights (parts ${parts.join(', ')})`;
  throw new WeightsError(
    `${dir}: ${what}: train first with --encoder-weights ${dir}; ${purpose} needs the whole ` +
      'network (decoders and fusion), so pass the folder that training writes.',
  );
}

/** What a partial checkpoint leaves out, for `panknet.json`. */
function partialNote(graph: ReturnType<typeof buildPankNetGraph>, parts: string[]): string {
  const left = topLevelParts(graph).filter((top) => !parts.includes(top));
  const leftText = left.length > 0 ? left.join(' and ') : 'the remaining parameters';
  return (
    `Partial checkpoint: holds only ${parts.join(', ')}; ${leftText} are left for training to ` +
    'initialise (panknet train --encoder-weights DIR). It cannot be used for inference.'
  );
}

function writeSynced(path: string, data: Buffer): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readJson(path: string): unknown {
  if (!existsSync(path)) {
    throw new InputFileError(
      path,
      'missing. A PankNet checkpoint folder holds weights.bin, ' +
        'weights.json and panknet.json; pass the folder that `panknet train` wrote.',
    );
  }
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new InputFileError(path, 'is not valid JSON. Re-export or re-download the checkpoint.', {
      cause: error,
    });
  }
}

/**
 * Reads and validates a checkpoint folder, whole or partial.
 *
 * @param dir - Folder written by `saveCheckpoint`.
 * @returns The manifest (`manifest.parts` set for a partial checkpoint) and the weights in
 *   PyTorch layout (only those parts' parameters for a partial one).
 * @throws InputFileError for a missing, unreadable, truncated or tampered file (sha256
 *   mismatch) or an invalid `parts` list; WeightsError when the weights do not fit the recorded
 *   architecture and parts.
 */
export function loadCheckpoint(dir: string): {
  manifest: CheckpointManifest;
  stateDict: StateDict;
} {
  const manifestPath = join(dir, 'panknet.json');
  const manifest = readJson(manifestPath) as CheckpointManifest;
  if (
    typeof manifest !== 'object' ||
    manifest === null ||
    manifest.formatVersion !== CHECKPOINT_FORMAT_VERSION
  ) {
    throw new InputFileError(
      manifestPath,
      `formatVersion ${String((manifest as { formatVersion?: unknown })?.formatVersion)}, ` +
        `expected ${CHECKPOINT_FORMAT_VERSION}. ` +
        'Use the PankNet version that wrote it, or re-save it.',
    );
  }
  const indexPath = join(dir, 'weights.json');
  const index = readJson(indexPath);
  if (!Array.isArray(index)) {
    throw new InputFileError(
      indexPath,
      'is not a list of {name, shape, offset, dtype}. Re-save the checkpoint.',
    );
  }
  const binPath = join(dir, 'weights.bin');
  if (!existsSync(binPath)) {
    throw new InputFileError(binPath, 'missing. Copy the whole checkpoint folder.');
  }
  const bytes = readFileSync(binPath);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== manifest.weightsSha256) {
    throw new InputFileError(
      binPath,
      `sha256 ${sha.slice(0, 12)}... does not match panknet.json ` +
        `(${String(manifest.weightsSha256).slice(0, 12)}...): ` +
        'the file is truncated or changed. Copy it again.',
    );
  }
  const stateDict: StateDict = new Map();
  for (const raw of index as WeightsIndexEntry[]) {
    const count = Array.isArray(raw.shape) ? raw.shape.reduce((a, b) => a * b, 1) : NaN;
    if (
      raw.dtype !== 'float32' ||
      !Number.isInteger(raw.offset) ||
      !(raw.offset + count * 4 <= bytes.length)
    ) {
      throw new InputFileError(
        indexPath,
        `entry ${String(raw.name)} (dtype ${String(raw.dtype)}, offset ` +
          `${String(raw.offset)}) does not fit weights.bin (${bytes.length} bytes). ` +
          'Re-save the checkpoint.',
      );
    }
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = bytes.readFloatLE(raw.offset + i * 4);
    stateDict.set(raw.name, { shape: raw.shape, data });
  }
  let graph: ReturnType<typeof buildPankNetGraph>;
  try {
    graph = buildPankNetGraph(manifest.architecture);
  } catch (error) {
    throw new InputFileError(manifestPath, `architecture is invalid: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const parts = manifest.parts;
  if (parts !== undefined) {
    const valid = Array.isArray(parts) && parts.every((part) => typeof part === 'string');
    try {
      if (!valid) {
        throw new WeightsError(
          `expected a list of names; use top-level prefixes (${topLevelParts(graph).join(', ')}).`,
        );
      }
      parametersOfParts(graph, parts);
    } catch (error) {
      throw new InputFileError(
        manifestPath,
        `"parts" ${JSON.stringify(parts)} is invalid: ${(error as Error).message} ` +
          'Fix the list or re-save the checkpoint.',
        { cause: error },
      );
    }
  }
  checkStateDict(graph, stateDict, binPath, { parts });
  return { manifest, stateDict };
}
