import assert from 'node:assert/strict';

import * as tf from '@tensorflow/tfjs-core';

import '../../src/backend/register-gradients.js';
import { selectBackend } from '../../src/backend/select-backend.js';

/** Gradient of sum(resize(x) * weights) for a non-square 1 x 3 x 7 x 2 image resized to 5 x 13. */
function resizeGradient(): { shape: number[]; values: number[] } {
  return tf.tidy(() => {
    const x = tf.tensor4d(
      Array.from({ length: 42 }, (_, i) => Math.sin(i)),
      [1, 3, 7, 2],
    );
    const weights = tf.tensor4d(
      Array.from({ length: 130 }, (_, i) => Math.cos(i)),
      [1, 5, 13, 2],
    );
    const grad = tf.grad((input: tf.Tensor4D) =>
      tf.sum(tf.mul(tf.image.resizeBilinear(input, [5, 13], true), weights)),
    )(x);
    return { shape: grad.shape, values: Array.from(grad.dataSync()) };
  });
}

describe('register-gradients', () => {
  it('gives the same resizeBilinear gradient, shaped like the input, on cpu and wasm', async () => {
    await selectBackend({ backend: 'cpu' });
    const cpu = resizeGradient();
    await selectBackend({ backend: 'wasm' });
    const wasm = resizeGradient();
    assert.deepEqual(cpu.shape, [1, 3, 7, 2]);
    assert.deepEqual(wasm.shape, [1, 3, 7, 2]);
    cpu.values.forEach((v, i) => assert.ok(Math.abs(v - wasm.values[i]!) < 1e-5, `${i}`));
    // The gradient sums to the total weight that reaches the image: sum of all weights.
    const total = Array.from({ length: 130 }, (_, i) => Math.cos(i)).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(cpu.values.reduce((a, b) => a + b, 0) - total) < 1e-4);
  });
});
