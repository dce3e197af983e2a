/**
 * Every 3D convolution of PankNet through the fastest path of the TensorFlow.js backends
 * (../shared/DESIGN.md, "Engines"): `(1,k,k)` as a conv2d over each slice, `(k,1,1)` as a
 * conv2d over `[D, H*W]`, 1x1x1 as a matMul, full and depthwise k^3 as sums of 2D convs over
 * shifted slices; all tiled for the backend and differentiable on cpu and wasm.
 */

import * as tf from '@tensorflow/tfjs-core';

import type { Triple } from '../model/architecture.js';
import { UnsupportedError } from '../util/errors.js';
import { chunkPolicyFor, splitRange } from './chunk-policy.js';
import { conv2dTiled, depthwiseConv2dTiled } from './conv2d-ops.js';

/** Geometry of one 3D convolution (PyTorch semantics, zero padding on both sides). */
export interface Conv3dSpec {
  /** Kernel `[kD, kH, kW]` in voxels. */
  kernel: Triple;
  /** Stride `[sD, sH, sW]` in voxels. */
  stride: Triple;
  /** Zero padding `[pD, pH, pW]` in voxels, on both sides. */
  pad: Triple;
  /** 1 for a full conv, or the channel count for a depthwise conv. */
  groups: number;
}

/** Which implementation `conv3dFast` picks for a spec (for tests and the benchmark). */
export type Conv3dPath = 'pointwise' | 'in-plane' | 'through-plane' | 'slices' | 'conv3d';

/**
 * Chooses the implementation of a 3D conv.
 *
 * @param spec - Conv geometry.
 * @param inChannels - Input channels (to recognise depthwise convs).
 * @returns The path `conv3dFast` takes.
 */
export function conv3dPath(spec: Conv3dSpec, inChannels: number): Conv3dPath {
  const { kernel: k, stride: s, pad: p, groups } = spec;
  const depthwise = groups === inChannels && groups > 1;
  if (groups !== 1 && !depthwise) return 'conv3d';
  if (!depthwise && k.every((v) => v === 1) && s.every((v) => v === 1) && p.every((v) => v === 0)) {
    return 'pointwise';
  }
  if (!depthwise && k[0] === 1 && s[0] === 1 && p[0] === 0) return 'in-plane';
  if (!depthwise && k[1] === 1 && k[2] === 1 && s[1] === 1 && s[2] === 1 && p[1] + p[2] === 0) {
    return 'through-plane';
  }
  if (s[0] === 1 && (!depthwise || (s[1] === 1 && s[2] === 1))) return 'slices';
  return 'conv3d';
}

function outExtent(size: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

/**
 * 3D convolution, channels-last, through the fastest path of the current backend.
 *
 * @param x - Input `[N, D, H, W, Cin]`, float32.
 * @param w - Filter `[kD, kH, kW, Cin / groups, Cout]` (PyTorch's `[Cout, Cin/g, kD, kH, kW]`
 *   transposed with perm `[2, 3, 4, 1, 0]`); for a depthwise conv `[kD, kH, kW, 1, C]`.
 * @param spec - Kernel, stride, padding and groups.
 * @param bias - Optional `[Cout]` added to every voxel.
 * @returns `[N, OD, OH, OW, Cout]`; the caller disposes.
 * @throws UnsupportedError for grouped convs other than depthwise (PankNet has none).
 */
export function conv3dFast(
  x: tf.Tensor5D,
  w: tf.Tensor5D,
  spec: Conv3dSpec,
  bias?: tf.Tensor1D,
): tf.Tensor5D {
  return tf.tidy(() => {
    const [n, d, h, wd, cin] = x.shape;
    const [kd, kh, kw, , cout] = w.shape;
    const { stride: s, pad: p } = spec;
    const od = outExtent(d, kd, s[0], p[0]);
    const oh = outExtent(h, kh, s[1], p[1]);
    const ow = outExtent(wd, kw, s[2], p[2]);
    let y: tf.Tensor5D;
    switch (conv3dPath(spec, cin)) {
      case 'pointwise': {
        const flat = tf.reshape(x, [n * d * h * wd, cin]) as tf.Tensor2D;
        y = tf.reshape(pointwise(flat, tf.reshape(w, [cin, cout])), [n, d, h, wd, cout]);
        break;
      }
      case 'in-plane': {
        const slices = tf.reshape(x, [n * d, h, wd, cin]) as tf.Tensor4D;
        const out = conv2dTiled(
          slices,
          tf.reshape(w, [kh, kw, cin, cout]),
          [s[1], s[2]],
          [
            [p[1], p[1]],
            [p[2], p[2]],
          ],
        );
        y = tf.reshape(out, [n, d, oh, ow, cout]);
        break;
      }
      case 'through-plane': {
        const columns = tf.reshape(x, [n, d, h * wd, cin]) as tf.Tensor4D;
        const out = conv2dTiled(
          columns,
          tf.reshape(w, [kd, 1, cin, cout]),
          [s[0], 1],
          [
            [p[0], p[0]],
            [0, 0],
          ],
        );
        y = tf.reshape(out, [n, od, h, wd, cout]);
        break;
      }
      case 'slices':
        y = sliceSum(x, w, spec, [od, oh, ow]);
        break;
      default:
        if (spec.groups !== 1) {
          throw new UnsupportedError(
            `conv3dFast: groups = ${spec.groups} with ${cin} input channels is not supported; ` +
              'use groups 1 or depthwise (groups = channels) with stride 1.',
          );
        }
        y = tf.conv3d(
          tf.pad(x, [
            [0, 0],
            [p[0], p[0]],
            [p[1], p[1]],
            [p[2], p[2]],
            [0, 0],
          ]),
          w,
          s,
          'valid',
        );
    }
    return bias ? tf.add(y, bias) : y;
  });
}

/** 1x1x1 conv as row-chunked matMuls `[M, Cin] x [Cin, Cout]`. */
function pointwise(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const [m] = x.shape;
  const cout = w.shape[1];
  const policy = chunkPolicyFor(tf.getBackend());
  const rows = Math.max(1, Math.min(policy.maxOutputPixels * 4, policy.maxOutputScalars / cout));
  const ranges = splitRange(m, rows);
  if (ranges.length === 1) return tf.matMul(x, w);
  const parts = ranges.map(([start, size]) =>
    tf.matMul(tf.slice(x, [start, 0], [size, x.shape[1]]), w),
  );
  return tf.concat(parts, 0) as tf.Tensor2D;
}

/** Full or depthwise conv with stride 1 along D: a sum over kD of 2D convs of shifted slices. */
function sliceSum(x: tf.Tensor5D, w: tf.Tensor5D, spec: Conv3dSpec, out: Triple): tf.Tensor5D {
  const [n, , h, wd, cin] = x.shape;
  const [kd, kh, kw, , cout] = w.shape;
  const { stride: s, pad: p } = spec;
  const depthwise = spec.groups > 1;
  const [od, oh, ow] = out;
  const padded =
    p[0] > 0
      ? tf.pad(x, [
          [0, 0],
          [p[0], p[0]],
          [0, 0],
          [0, 0],
          [0, 0],
        ])
      : x;
  const pad2d: [[number, number], [number, number]] = [
    [p[1], p[1]],
    [p[2], p[2]],
  ];
  let sum: tf.Tensor4D | undefined;
  for (let i = 0; i < kd; i++) {
    const view = tf.slice(padded, [0, i, 0, 0, 0], [n, od, h, wd, cin]);
    const slices = tf.reshape(view, [n * od, h, wd, cin]) as tf.Tensor4D;
    const filter = tf.reshape(tf.slice(w, [i, 0, 0, 0, 0], [1, kh, kw, w.shape[3], cout]), [
      kh,
      kw,
      cin,
      depthwise ? 1 : cout,
    ]) as tf.Tensor4D;
    const term = depthwise
      ? depthwiseConv2dTiled(slices, filter, pad2d)
      : conv2dTiled(slices, filter, [s[1], s[2]], pad2d);
    sum = sum ? (tf.add(sum, term) as tf.Tensor4D) : term;
  }
  return tf.reshape(sum!, [n, od, oh, ow, cout]) as tf.Tensor5D;
}
