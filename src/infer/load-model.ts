/**
 * Loads a PankNet checkpoint as a `SegmentationEngine` on the fastest engine available:
 * onnxruntime-node (exported on first use, cached beside the checkpoint) or TensorFlow.js on the
 * fastest backend. `predict`, the notebooks and the benchmark all start here.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { selectBackend, type BackendName } from '../backend/select-backend.js';
import {
  loadCheckpoint,
  requireWholeCheckpoint,
  type CheckpointManifest,
} from '../model/checkpoint.js';
import { PankNet } from '../model/panknet.js';
import type { StateDict } from '../model/state-dict.js';
import { ensureOnnxModel } from '../onnx/ensure-onnx-model.js';
import { createOnnxEngine } from '../onnx/onnx-engine.js';
import type { PreprocessingSpec } from '../preprocess/prepare-for-network.js';
import { InputFileError, PankNetError } from '../util/errors.js';
import { log } from '../util/log.js';
import type { SegmentationEngine } from './engine.js';
import { TfjsEngine } from './tfjs-engine.js';

/** Which engine runs the network. */
export type EngineChoice = 'auto' | 'onnx' | 'tfjs';

/** Options of `loadModel`. */
export interface LoadModelOptions {
  /** `auto` (default): onnxruntime when it loads, else TensorFlow.js. */
  engine?: EngineChoice;
  /** TensorFlow.js backend to force (default: `PANKNET_BACKEND`, else the fastest). */
  backend?: BackendName;
  /** Threads of the onnxruntime engine (default: the cores available). */
  threads?: number;
}

/** A model ready to segment. */
export interface LoadedModel {
  engine: SegmentationEngine;
  /** The checkpoint folder used. */
  modelDir: string;
  manifest: CheckpointManifest;
  /** How inputs must be prepared. */
  preprocessing: PreprocessingSpec;
}

export { DEMO_MODEL_DIR } from './demo-model.js';

/**
 * Finds the checkpoint folder of a path: the folder itself, or a run folder's `best/` or
 * `last/model/`.
 *
 * @throws InputFileError when none of these holds a `panknet.json`.
 */
export function resolveModelDir(path: string): string {
  if (!existsSync(path)) {
    throw new InputFileError(path, 'no such model folder. Check the path.');
  }
  const candidates = [path, join(path, 'best'), join(path, 'last', 'model')];
  const found = candidates.find((dir) => existsSync(join(dir, 'panknet.json')));
  if (found === undefined) {
    throw new InputFileError(
      path,
      'holds no PankNet checkpoint (panknet.json). Pass a folder written by `panknet train` ' +
        '(the run folder, or its best/ folder).',
    );
  }
  return found;
}

/** The preprocessing a checkpoint records. */
export function preprocessingOf(manifest: CheckpointManifest): PreprocessingSpec {
  const normalisation = manifest.normalisation;
  return {
    spacingMm: manifest.targetSpacingMm,
    modality: normalisation.modality,
    windowHu: normalisation.windowHu,
    percentiles: normalisation.percentiles as [number, number] | undefined,
  };
}

async function tfjsEngine(
  stateDict: StateDict,
  manifest: CheckpointManifest,
  options: LoadModelOptions,
) {
  const choice = await selectBackend({ backend: options.backend });
  if (choice.hint) log.info(`TensorFlow.js runs on ${choice.name}; ${choice.hint}`);
  const net = new PankNet(manifest.architecture);
  net.loadStateDict(stateDict);
  return new TfjsEngine(net);
}

/**
 * Loads a checkpoint for inference.
 *
 * @param path - Checkpoint folder, or a run folder (its `best/` is used).
 * @param options - Engine and backend choice.
 * @returns The engine and how to prepare inputs; the caller disposes the engine.
 * @throws InputFileError or WeightsError for a bad checkpoint, WeightsError for a partial
 *   (encoder-only) one; BackendError when a forced engine cannot load.
 */
export async function loadModel(
  path: string,
  options: LoadModelOptions = {},
): Promise<LoadedModel> {
  const modelDir = resolveModelDir(path);
  const { manifest, stateDict } = loadCheckpoint(modelDir);
  requireWholeCheckpoint(modelDir, manifest, 'inference');
  const choice = options.engine ?? 'auto';
  const loaded = { modelDir, manifest, preprocessing: preprocessingOf(manifest) };

  if (choice !== 'tfjs') {
    try {
      const onnx = await ensureOnnxModel(modelDir, async () => ({
        architecture: manifest.architecture,
        stateDict,
        info: {
          targetSpacingMm: manifest.targetSpacingMm,
          normalisation: manifest.normalisation,
          labels: Object.values(manifest.labels),
        },
      }));
      const engine = await createOnnxEngine(onnx.path, { threads: options.threads });
      return { ...loaded, engine };
    } catch (error) {
      if (choice === 'onnx') throw error;
      const reason = error instanceof PankNetError ? error.message : String(error);
      log.warn(`the ONNX engine could not start (${reason}); using TensorFlow.js instead.`);
    }
  }
  return { ...loaded, engine: await tfjsEngine(stateDict, manifest, options) };
}
