/**
 * Soft Dice loss with softmax, background included (DESIGN.md, training recipe), summed over the
 * decoder maps and the fused map for deep supervision.
 */

import * as tf from '@tensorflow/tfjs-core';

/** Smoothing terms that keep the loss finite for empty classes (MONAI's defaults). */
const SMOOTH_NUMERATOR = 1e-5;
const SMOOTH_DENOMINATOR = 1e-5;

/**
 * Softmax over the channel axis of a channels-first tensor.
 *
 * @param logits - `[N, C, D, H, W]`.
 * @returns Probabilities of the same shape; the caller disposes.
 */
export function softmaxChannels(logits: tf.Tensor5D): tf.Tensor5D {
  return tf.tidy(() => {
    const shifted = tf.sub(logits, tf.max(logits, 1, true));
    const e = tf.exp(shifted);
    return tf.div(e, tf.sum(e, 1, true)) as tf.Tensor5D;
  });
}

/**
 * One-hot encoding of a binary label on the channel axis (channel 0 background, 1 pancreas).
 *
 * @param label - `[N, 1, D, H, W]` float32 with values 0 or 1.
 * @returns `[N, 2, D, H, W]` float32; the caller disposes.
 */
export function oneHotBinary(label: tf.Tensor5D): tf.Tensor5D {
  return tf.tidy(() => tf.concat([tf.sub(1, label), label], 1) as tf.Tensor5D);
}

/**
 * Soft Dice loss of one map: `1 - mean_c (2 sum(p g) + s) / (sum(p) + sum(g) + s)`, with sums
 * over the batch and voxels per class c (background included).
 *
 * @param logits - `[N, C, D, H, W]` logits (softmax is applied here).
 * @param target - `[N, C, D, H, W]` one-hot float32.
 * @returns A scalar in [0, 1]; the caller disposes.
 */
export function softDiceLoss(logits: tf.Tensor5D, target: tf.Tensor5D): tf.Scalar {
  return tf.tidy(() => {
    const probabilities = softmaxChannels(logits);
    const axes = [0, 2, 3, 4];
    const intersection = tf.sum(tf.mul(probabilities, target), axes);
    const denominator = tf.add(tf.sum(probabilities, axes), tf.sum(target, axes));
    const dice = tf.div(
      tf.add(tf.mul(2, intersection), SMOOTH_NUMERATOR),
      tf.add(denominator, SMOOTH_DENOMINATOR),
    );
    return tf.sub(1, tf.mean(dice)) as tf.Scalar;
  });
}

/**
 * Deep-supervision loss: the soft Dice of every decoder map plus that of the fused map.
 *
 * @param mapLogits - Decoder logits, each `[N, C, D, H, W]`.
 * @param fusedLogits - Fused logits `[N, C, D, H, W]`.
 * @param target - `[N, C, D, H, W]` one-hot float32.
 * @returns The summed scalar loss; the caller disposes.
 */
export function deepSupervisionLoss(
  mapLogits: tf.Tensor5D[],
  fusedLogits: tf.Tensor5D,
  target: tf.Tensor5D,
): tf.Scalar {
  return tf.tidy(() =>
    tf.addN([...mapLogits, fusedLogits].map((logits) => softDiceLoss(logits, target))),
  ) as tf.Scalar;
}
