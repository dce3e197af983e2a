/**
 * 3D max pooling with PyTorch's explicit, per-axis padding (padding never wins the max).
 */

import * as tf from '@tensorflow/tfjs-core';

import type { Triple } from '../model/architecture.js';

/** Fill value of the padding: below any activation, finite so gradients stay finite. */
const PAD_VALUE = -3.0e38;

/**
 * Max pooling over D, H, W with per-axis kernel, stride and padding (PyTorch `MaxPool3d`).
 * Differentiable on cpu and wasm (both have MaxPool3D and MaxPool3DGrad).
 *
 * Limitation: wasm's MaxPool3D starts each window at FLT_MIN (1.2e-38), so a window of only
 * negative values yields 1.2e-38 there; PankNet pools only ReLU outputs, which are >= 0.
 *
 * @param x - Input `[N, D, H, W, C]`, float32.
 * @param kernel - Window `[kD, kH, kW]` in voxels.
 * @param stride - Stride `[sD, sH, sW]` in voxels.
 * @param pad - Padding `[pD, pH, pW]` in voxels on both sides; counts as minus infinity.
 * @returns `[N, OD, OH, OW, C]` with `O = floor((I + 2p - k) / s) + 1`; the caller disposes.
 */
export function maxPool3dPadded(
  x: tf.Tensor5D,
  kernel: Triple,
  stride: Triple,
  pad: Triple,
): tf.Tensor5D {
  return tf.tidy(() => {
    const padded = pad.some((p) => p > 0)
      ? tf.pad(
          x,
          [
            [0, 0],
            [pad[0], pad[0]],
            [pad[1], pad[1]],
            [pad[2], pad[2]],
            [0, 0],
          ],
          PAD_VALUE,
        )
      : x;
    return tf.maxPool3d(padded, kernel, stride, 'valid');
  });
}
