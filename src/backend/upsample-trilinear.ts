/**
 * Trilinear upsampling by integer factors with align_corners true (PyTorch
 * `Upsample(mode='trilinear', align_corners=True)`), as two bilinear resizes.
 */

import * as tf from '@tensorflow/tfjs-core';

import type { Triple } from '../model/architecture.js';

/**
 * Upsamples `[N, D, H, W, C]` by `[sD, sH, sW]`: a bilinear resize of each slice in H, W, then
 * one of `[D, H*W]` in D (along H*W the second resize is the identity, since with align_corners
 * an unchanged size maps every sample to itself). Differentiable on cpu and wasm.
 *
 * @param x - Input `[N, D, H, W, C]`, float32.
 * @param scale - Integer factors `[sD, sH, sW]`, each at least 1.
 * @returns `[N, D*sD, H*sH, W*sW, C]`; the caller disposes.
 */
export function upsampleTrilinear(x: tf.Tensor5D, scale: Triple): tf.Tensor5D {
  return tf.tidy(() => {
    const [n, d, h, w, c] = x.shape;
    const [oh, ow] = [h * scale[1], w * scale[2]];
    let y: tf.Tensor = x;
    if (scale[1] !== 1 || scale[2] !== 1) {
      const slices = tf.reshape(x, [n * d, h, w, c]) as tf.Tensor4D;
      y = tf.image.resizeBilinear(slices, [oh, ow], true);
    }
    if (scale[0] !== 1) {
      const columns = tf.reshape(y, [n, d, oh * ow, c]) as tf.Tensor4D;
      y = tf.image.resizeBilinear(columns, [d * scale[0], oh * ow], true);
    }
    return tf.reshape(y, [n, d * scale[0], oh, ow, c]) as tf.Tensor5D;
  });
}
