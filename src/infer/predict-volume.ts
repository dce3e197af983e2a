/**
 * Whole-volume segmentation: preprocess as the model's recipe says, run the sliding window,
 * bring the pancreas probability back onto the input grid, threshold and clean up. The mask has
 * exactly the input's shape and affine.
 */

import type { Volume } from '../io/volume.js';
import { voxelCount } from '../io/volume.js';
import { prepareForNetwork, type PreprocessingSpec } from '../preprocess/prepare-for-network.js';
import { resampleToReference } from '../preprocess/resample.js';
import type { ProgressCallback } from '../util/log.js';
import type { SegmentationEngine } from './engine.js';
import { fillHoles, keepLargestComponent } from './postprocess.js';
import { slidingWindowInference } from './sliding-window.js';

/** Options of `predictVolume`. */
export interface PredictVolumeOptions {
  /** Window overlap in [0, 1) (default 0.5). */
  overlap?: number;
  /** Flip test-time augmentation (4 times the work). */
  tta?: boolean;
  /** Windows per engine call (default the engine's). */
  batchSize?: number;
  /** Also return the four decoders' pancreas probabilities on the input grid. */
  decoderMaps?: boolean;
  /** Keep the largest connected component and fill holes (default true). */
  postprocess?: boolean;
  /** Probability at or above which a voxel is pancreas (default 0.5). */
  threshold?: number;
  /** Progress of the windows. */
  onProgress?: ProgressCallback;
  /** Stops between window batches. */
  signal?: AbortSignal;
}

/** What `predictVolume` returns. */
export interface PredictVolumeResult {
  /** Binary mask on the input grid, uint8 (0 background, 1 pancreas). */
  mask: Volume;
  /** Pancreas probability on the input grid, float32 in [0, 1]. */
  probability: Volume;
  /** Each decoder's pancreas probability on the input grid, ascending tap order, when asked. */
  decoderMaps?: Volume[];
  /** Pancreas volume in mL (mask voxels times voxel volume). */
  volumeMl: number;
  /** Milliseconds per stage: `preprocess`, `windows`, `restore`, `postprocess`. */
  timingsMs: Record<string, number>;
  /** Windows run, and the network grid `[D, H, W]`. */
  windows: number;
  networkShape: [number, number, number];
}

/**
 * Segments the pancreas in one volume.
 *
 * @param volume - CT (HU) or MRI on its own grid; any orientation and spacing.
 * @param engine - A loaded network (tfjs or onnxruntime).
 * @param spec - The model's preprocessing (spacing, modality, normalisation).
 * @param options - Overlap, TTA, batch, decoder maps, post-processing, threshold, progress.
 * @returns The mask and probabilities on the input grid, volume in mL and stage timings.
 */
export async function predictVolume(
  volume: Volume,
  engine: SegmentationEngine,
  spec: PreprocessingSpec,
  options: PredictVolumeOptions = {},
): Promise<PredictVolumeResult> {
  const timingsMs: Record<string, number> = {};
  let started = performance.now();
  const lap = (stage: string): void => {
    const now = performance.now();
    timingsMs[stage] = now - started;
    started = now;
  };

  const prepared = prepareForNetwork(volume, spec);
  lap('preprocess');

  const result = await slidingWindowInference(prepared.image, prepared.shape, engine, {
    overlap: options.overlap,
    tta: options.tta,
    batchSize: options.batchSize,
    decoderMaps: options.decoderMaps,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  lap('windows');

  // Channel 1 (pancreas) of `[C, D, H, W]` is a volume on the RAS grid, i fastest.
  const voxels = voxelCount(prepared.grid.shape);
  const onInputGrid = (probabilities: Float32Array): Volume =>
    resampleToReference(
      {
        ...prepared.grid,
        data: probabilities.subarray(voxels, 2 * voxels),
        meta: { ...prepared.grid.meta, datatype: 'float32' },
      },
      volume,
      'linear',
    );
  const probability = onInputGrid(result.fused);
  const decoderMaps = result.maps?.map(onInputGrid);
  lap('restore');

  const threshold = options.threshold ?? 0.5;
  const maskData = new Uint8Array(probability.data.length);
  for (let i = 0; i < maskData.length; i++) maskData[i] = probability.data[i]! >= threshold ? 1 : 0;
  if (options.postprocess !== false) {
    keepLargestComponent(maskData, volume.shape);
    fillHoles(maskData, volume.shape);
  }
  lap('postprocess');

  const mask: Volume = {
    ...probability,
    data: maskData,
    meta: { ...probability.meta, datatype: 'uint8' },
  };
  const voxelMl = (volume.spacingMm[0] * volume.spacingMm[1] * volume.spacingMm[2]) / 1000;
  const count = maskData.reduce((sum, v) => sum + v, 0);
  return {
    mask,
    probability: { ...probability, meta: { ...probability.meta, datatype: 'float32' } },
    decoderMaps,
    volumeMl: count * voxelMl,
    timingsMs,
    windows: result.windows,
    networkShape: prepared.shape,
  };
}
