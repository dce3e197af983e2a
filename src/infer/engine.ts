/**
 * The interface every inference engine implements (TensorFlow.js, onnxruntime-node), so that
 * one sliding window serves `predict`, validation during training and the notebooks.
 */

import type { Triple } from '../model/architecture.js';

/** What one engine call returns for a batch of `n` windows. */
export interface EngineOutput {
  /** Fused probabilities `[n, C, D, H, W]`, float32 in [0, 1] (softmax over C). */
  fused: Float32Array;
  /**
   * Per-decoder probabilities, one `[n, C, D, H, W]` array per tap in ascending tap order
   * (softmax of each decoder's logits); present only when asked for.
   */
  maps?: Float32Array[];
}

/** Options of one engine call. */
export interface EngineRunOptions {
  /** Also return the per-decoder maps (costs memory; off for plain prediction). */
  decoderMaps?: boolean;
}

/** A loaded network that maps windows of a normalised volume to probabilities. */
export interface SegmentationEngine {
  /** Human-readable engine and backend, e.g. `tfjs (wasm)` or `onnxruntime (cpu, 2 threads)`. */
  readonly name: string;
  /** Window size `[D, H, W]` in voxels the network takes. */
  readonly patch: Triple;
  /** Output classes C (2: background, pancreas). */
  readonly outChannels: number;
  /** Taps that have decoders, ascending (e.g. `[1, 2, 3, 4]`). */
  readonly taps: number[];
  /** Largest number of windows per call that the engine handles well. */
  readonly maxBatch: number;
  /**
   * Runs the network on `n` windows.
   *
   * @param windows - `[n, 1, D, H, W]` float32, normalised to [0, 1]; W fastest (the volume's i).
   * @param n - Number of windows in `windows`.
   * @returns Fused probabilities, and per-decoder maps when asked for.
   */
  run(windows: Float32Array, n: number, options?: EngineRunOptions): Promise<EngineOutput>;
  /** Frees native memory and tensors; the engine cannot run afterwards. */
  dispose(): Promise<void> | void;
}
