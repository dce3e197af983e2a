/**
 * The two 2D convolutions every 3D conv of PankNet is built from, with tiled forward calls (the
 * wasm backend is fast only on small calls) and custom gradients that run on every backend.
 *
 * Limitation: wasm lacks Conv2DBackpropFilter and the depthwise backprop kernels, so the filter
 * gradients here are sums of matMul/mul over shifted input views, and input gradients are
 * convolutions with the flipped filter.
 */

import * as tf from '@tensorflow/tfjs-core';

import './register-gradients.js';

import { UnsupportedError } from '../util/errors.js';
import { chunkPolicyFor, splitRange } from './chunk-policy.js';

/** Padding of a 2D conv: `[[top, bottom], [left, right]]` in pixels. */
export type Pad2d = [[number, number], [number, number]];

type Pad4d = [[number, number], [number, number], [number, number], [number, number]];

type Kind = 'full' | 'depthwise';

function outExtent(size: number, kernel: number, stride: number, before: number, after: number) {
  return Math.floor((size + before + after - kernel) / stride) + 1;
}

/**
 * Runs one conv2d or depthwise conv2d in tiles that respect the backend's chunk policy.
 * Input `[B, H, W, Cin]`; returns `[B, OH, OW, Cout]`, which the caller disposes.
 */
function tiledConv(
  kind: Kind,
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  stride: [number, number],
  pad: Pad2d,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [batch, h, wd] = x.shape;
    const [kh, kw] = w.shape;
    const cout = kind === 'full' ? w.shape[3] : x.shape[3];
    const oh = outExtent(h, kh, stride[0], pad[0][0], pad[0][1]);
    const ow = outExtent(wd, kw, stride[1], pad[1][0], pad[1][1]);
    const policy = chunkPolicyFor(tf.getBackend());
    const budget = Math.max(1, Math.min(policy.maxOutputPixels, policy.maxOutputScalars / cout));
    const call = (input: tf.Tensor4D, p: Pad2d | 'valid'): tf.Tensor4D => {
      const padding: 'valid' | Pad4d = p === 'valid' ? 'valid' : [[0, 0], p[0], p[1], [0, 0]];
      return kind === 'full'
        ? tf.conv2d(input, w, stride, padding)
        : tf.depthwiseConv2d(input, w, stride, padding);
    };

    // Whole images fit: chunk along the batch only.
    if (oh * ow <= budget) {
      const ranges = splitRange(batch, budget / (oh * ow));
      if (ranges.length === 1) return call(x, pad);
      const parts = ranges.map(([start, size]) =>
        call(tf.slice(x, [start, 0, 0, 0], [size, h, wd, x.shape[3]]), pad),
      );
      return tf.concat(parts, 0);
    }

    // One image is too large: pad once, then convolve output tiles with their input halo.
    const padded = tf.pad(x, [[0, 0], pad[0], pad[1], [0, 0]]);
    const tileCols = Math.min(ow, budget);
    const tileRows = Math.max(1, Math.min(oh, Math.floor(budget / tileCols)));
    const rowParts: tf.Tensor4D[] = [];
    for (let b = 0; b < batch; b++) {
      for (const [r0, rows] of splitRange(oh, tileRows)) {
        const colParts: tf.Tensor4D[] = [];
        for (const [c0, cols] of splitRange(ow, tileCols)) {
          const inRows = (rows - 1) * stride[0] + kh;
          const inCols = (cols - 1) * stride[1] + kw;
          const tile = tf.slice(
            padded,
            [b, r0 * stride[0], c0 * stride[1], 0],
            [1, inRows, inCols, x.shape[3]],
          );
          colParts.push(call(tile, 'valid'));
        }
        rowParts.push(colParts.length === 1 ? colParts[0]! : tf.concat(colParts, 2));
      }
    }
    const perImage = splitRange(oh, tileRows).length;
    const images: tf.Tensor4D[] = [];
    for (let b = 0; b < batch; b++) {
      const slab = rowParts.slice(b * perImage, (b + 1) * perImage);
      images.push(slab.length === 1 ? slab[0]! : tf.concat(slab, 1));
    }
    return images.length === 1 ? images[0]! : tf.concat(images, 0);
  });
}

/** Filter gradient by shifted views: `dw[i, j] = sum over pixels of x(shifted) * dy`. */
function filterGradient(
  kind: Kind,
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  kernel: [number, number, number, number],
  stride: [number, number],
  pad: Pad2d,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [, oh, ow, cout] = dy.shape;
    const cin = x.shape[3];
    const padded = tf.pad(x, [[0, 0], pad[0], pad[1], [0, 0]]);
    const m = dy.shape[0] * oh * ow;
    const dyFlat = tf.reshape(dy, [m, cout]);
    const taps: tf.Tensor[] = [];
    for (let i = 0; i < kernel[0]; i++) {
      for (let j = 0; j < kernel[1]; j++) {
        const view = tf.stridedSlice(
          padded,
          [0, i, j, 0],
          [padded.shape[0], i + (oh - 1) * stride[0] + 1, j + (ow - 1) * stride[1] + 1, cin],
          [1, stride[0], stride[1], 1],
        );
        const flat = tf.reshape(view, [m, cin]);
        taps.push(
          kind === 'full' ? tf.matMul(flat, dyFlat, true, false) : tf.sum(tf.mul(flat, dyFlat), 0),
        );
      }
    }
    return tf.reshape(tf.stack(taps), kernel);
  });
}

/**
 * 2D convolution `[B, H, W, Cin]` * `[kH, kW, Cin, Cout]` with explicit padding, tiled for the
 * current backend, differentiable on every backend (cpu, wasm, native).
 *
 * @param x - Input `[B, H, W, Cin]`, float32.
 * @param w - Filter `[kH, kW, Cin, Cout]`.
 * @param stride - `[rows, cols]` strides.
 * @param pad - `[[top, bottom], [left, right]]` zero padding in pixels.
 * @returns `[B, OH, OW, Cout]`; the caller disposes.
 */
export function conv2dTiled(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  stride: [number, number],
  pad: Pad2d,
): tf.Tensor4D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x4, w4, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([x4, w4]);
    return {
      value: tiledConv('full', x4, w4, stride, pad),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]): tf.Tensor[] => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dy4 = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor4D;
        const [kh, kw, cin, cout] = ws.shape;
        const dw = filterGradient('full', xs, dy4, [kh, kw, cin, cout], stride, pad);
        return [inputGradient('full', xs, ws, dy4, stride, pad), dw];
      },
    };
  });
  return op(x, w) as tf.Tensor4D;
}

/**
 * Depthwise 2D convolution (stride 1) `[B, H, W, C]` * `[kH, kW, C, 1]`, tiled and
 * differentiable on every backend.
 *
 * @param x - Input `[B, H, W, C]`, float32.
 * @param w - Filter `[kH, kW, C, 1]`.
 * @param pad - `[[top, bottom], [left, right]]` zero padding in pixels.
 * @returns `[B, OH, OW, C]`; the caller disposes.
 */
export function depthwiseConv2dTiled(x: tf.Tensor4D, w: tf.Tensor4D, pad: Pad2d): tf.Tensor4D {
  const stride: [number, number] = [1, 1];
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x4, w4, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([x4, w4]);
    return {
      value: tiledConv('depthwise', x4, w4, stride, pad),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]): tf.Tensor[] => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dy4 = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor4D;
        const [kh, kw, c] = ws.shape;
        const dw = filterGradient('depthwise', xs, dy4, [kh, kw, c, 1], stride, pad);
        return [inputGradient('depthwise', xs, ws, dy4, stride, pad), dw];
      },
    };
  });
  return op(x, w) as tf.Tensor4D;
}

/**
 * Input gradient. Stride 1: a conv of `dy` with the flipped filter (tiled forward path).
 * Strided: `conv2dTranspose`, which every backend has as Conv2DBackpropInput.
 */
function inputGradient(
  kind: Kind,
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  dy: tf.Tensor4D,
  stride: [number, number],
  pad: Pad2d,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = w.shape;
    const [, h, wd] = x.shape;
    if (stride[0] === 1 && stride[1] === 1) {
      const flipped = tf.reverse(w, [0, 1]);
      const filter = kind === 'full' ? tf.transpose(flipped, [0, 1, 3, 2]) : flipped;
      // Padding that restores the input size: k-1-p before, the rest after.
      const top = kh - 1 - pad[0][0];
      const left = kw - 1 - pad[1][0];
      const grown = tf.pad(dy, [
        [0, 0],
        [Math.max(0, top), 0],
        [Math.max(0, left), 0],
        [0, 0],
      ]);
      const cropped = tf.slice(grown, [0, Math.max(0, -top), Math.max(0, -left), 0]);
      const bottom = h + kh - 1 - cropped.shape[1];
      const right = wd + kw - 1 - cropped.shape[2];
      const shaped = tf.pad(cropped, [
        [0, 0],
        [0, Math.max(0, bottom)],
        [0, Math.max(0, right)],
        [0, 0],
      ]) as tf.Tensor4D;
      const fitted = tf.slice(
        shaped,
        [0, 0, 0, 0],
        [shaped.shape[0], h + kh - 1, wd + kw - 1, shaped.shape[3]],
      ) as tf.Tensor4D;
      return tiledConv(
        kind,
        fitted,
        filter as tf.Tensor4D,
        [1, 1],
        [
          [0, 0],
          [0, 0],
        ],
      );
    }
    if (kind === 'depthwise') {
      throw new UnsupportedError('depthwiseConv2dTiled: stride must be 1; use tf.conv3d.');
    }
    const explicit: Pad4d = [[0, 0], pad[0], pad[1], [0, 0]];
    return tf.conv2dTranspose(dy, w, x.shape, stride, explicit);
  });
}
