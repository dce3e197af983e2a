/**
 * The cached ONNX export of a model folder: `MODEL_DIR/model.onnx`, written on first use and
 * rewritten whenever the weights no longer match the digest stored in its metadata.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { buildPankNetGraph } from '../model/architecture.js';
import type { PankNetOptions } from '../model/architecture.js';
import type { StateDict } from '../model/state-dict.js';
import { PankNetError } from '../util/errors.js';
import { log } from '../util/log.js';
import { exportOnnx } from './export-onnx.js';
import type { OnnxExportOptions, OnnxModelInfo } from './export-onnx.js';
import { readOnnxMetadata } from './read-onnx-metadata.js';
import { stateDictSha256 } from './state-dict.js';
import { writeFileAtomic } from '../util/write-atomic.js';

/** File name of the cached export inside a model folder. */
export const CACHED_ONNX_NAME = 'model.onnx';

/** What the exporter needs from a checkpoint. */
export interface OnnxCheckpoint {
  /** Architecture options the weights were trained with. */
  architecture: Partial<PankNetOptions>;
  /** Weights in PyTorch layout. */
  stateDict: StateDict;
  /** Spacing, normalisation and labels for the model's metadata. */
  info: OnnxModelInfo;
}

/** Reads a checkpoint folder (the checkpoint module's loader, adapted). */
export type OnnxCheckpointLoader = (modelDir: string) => Promise<OnnxCheckpoint>;

/** Result of {@link ensureOnnxModel}. */
export interface EnsuredOnnxModel {
  /** Path of the `.onnx` file. */
  path: string;
  /** True when this call wrote it (first use, or the weights changed). */
  exported: boolean;
  /** Digest of the weights it holds. */
  weightsSha256: string;
}

/**
 * Returns `MODEL_DIR/model.onnx`, exporting it when it is missing, unreadable, or holds other
 * weights than the checkpoint (its stored weights sha256 differs). Written atomically.
 *
 * @param modelDir - Checkpoint folder.
 * @param load - Reads the checkpoint in `modelDir`.
 * @param options - Export options other than metadata (opset, dynamic batch).
 * @returns The path, whether it was exported now, and the weights digest.
 * @throws WeightsError or InputFileError from loading or exporting the checkpoint.
 */
export async function ensureOnnxModel(
  modelDir: string,
  load: OnnxCheckpointLoader,
  options: Omit<OnnxExportOptions, 'metadata'> = {},
): Promise<EnsuredOnnxModel> {
  const path = join(modelDir, CACHED_ONNX_NAME);
  const checkpoint = await load(modelDir);
  const graph = buildPankNetGraph(checkpoint.architecture);
  const sha = stateDictSha256(graph, checkpoint.stateDict);

  let reason = 'first use';
  try {
    const cached = readOnnxMetadata(await readFile(path), path);
    if (cached.weightsSha256 === sha) return { path, exported: false, weightsSha256: sha };
    reason = 'the weights changed';
  } catch (error) {
    // A missing file means first use; a damaged one is replaced, which is the fix its error names.
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    if (!missing && !(error instanceof PankNetError)) throw error;
    if (!missing) reason = 'the cached file is unusable';
  }

  log.info(`exporting ${path} (${reason})`);
  const bytes = exportOnnx(graph, checkpoint.stateDict, { ...options, metadata: checkpoint.info });
  await writeFileAtomic(path, bytes, { createFolder: true, what: 'file' });
  return { path, exported: true, weightsSha256: sha };
}
