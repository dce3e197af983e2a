/**
 * The TensorFlow.js inference engine: PankNet in eval mode with BatchNorm folded.
 */

import * as tf from '@tensorflow/tfjs-core';

import type { Triple } from '../model/architecture.js';
import { PankNet } from '../model/panknet.js';
import { ShapeError } from '../util/errors.js';
import type { EngineOutput, EngineRunOptions, SegmentationEngine } from './engine.js';

/** A `SegmentationEngine` on a TensorFlow.js PankNet (any backend). */
export class TfjsEngine implements SegmentationEngine {
  readonly name: string;
  readonly patch: Triple;
  readonly outChannels: number;
  readonly taps: number[];
  readonly maxBatch: number;
  private net: PankNet | undefined;

  /**
   * @param net - A network with loaded weights; the engine owns and disposes it.
   * @param maxBatch - Windows per call (default 1: larger batches raise peak memory by the
   *   batch size, and no speed gain from them has been measured on wasm).
   */
  constructor(net: PankNet, maxBatch = 1) {
    this.net = net;
    this.name = `tfjs (${tf.getBackend()})`;
    this.patch = [...net.graph.options.patch];
    this.outChannels = net.graph.options.outChannels;
    this.taps = [...net.graph.options.taps];
    this.maxBatch = maxBatch;
  }

  /**
   * Runs the network on `n` windows; every intermediate tensor is disposed.
   *
   * @param windows - `[n, 1, D, H, W]` float32 in [0, 1].
   * @param n - Number of windows.
   * @returns Fused probabilities, and per-decoder probabilities when asked for.
   * @throws ShapeError when `windows.length` is not `n * D * H * W * inChannels`.
   */
  async run(
    windows: Float32Array,
    n: number,
    options: EngineRunOptions = {},
  ): Promise<EngineOutput> {
    const net = this.net;
    if (!net) throw new ShapeError('TfjsEngine.run: the engine was disposed; create a new one.');
    const shape = [n, net.graph.options.inChannels, ...this.patch];
    const expected = shape.reduce((a, b) => a * b, 1);
    if (windows.length !== expected) {
      throw new ShapeError(
        `TfjsEngine.run(windows): ${windows.length} values, expected ${expected} for ` +
          `[${shape.join(', ')}]; cut windows of the engine's patch.`,
      );
    }
    const input = tf.tensor(windows, shape, 'float32');
    const out = net.forward(input, { folded: true });
    const maps = options.decoderMaps
      ? out.maps.map((m) => tf.tidy(() => tf.softmax(tf.transpose(m, [0, 2, 3, 4, 1]))))
      : [];
    try {
      const fused = (await out.fused.data()) as Float32Array;
      const probabilities: Float32Array[] = [];
      for (const m of maps) {
        const channelsFirst = tf.transpose(m, [0, 4, 1, 2, 3]);
        probabilities.push((await channelsFirst.data()) as Float32Array);
        channelsFirst.dispose();
      }
      return options.decoderMaps ? { fused, maps: probabilities } : { fused };
    } finally {
      tf.dispose([input, out.fused, out.logits, ...out.maps, ...maps]);
    }
  }

  /** Frees the network's variables. */
  dispose(): void {
    this.net?.dispose();
    this.net = undefined;
  }
}
