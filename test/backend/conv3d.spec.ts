import assert from 'node:assert/strict';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

import { setChunkPolicy } from '../../src/backend/chunk-policy.js';
import { conv3dFast, conv3dPath, type Conv3dSpec } from '../../src/backend/conv3d.js';
import { maxPool3dPadded } from '../../src/backend/max-pool3d.js';
import { upsampleTrilinear } from '../../src/backend/upsample-trilinear.js';
import type { Triple } from '../../src/model/architecture.js';

/** Deterministic pseudo-random values in [-1, 1). */
function seeded(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

interface Case {
  title: string;
  x: [number, number, number, number, number];
  cout: number;
  spec: Conv3dSpec;
  path: string;
}

const t = (a: number, b: number, c: number): Triple => [a, b, c];
const CASES: Case[] = [
  {
    title: '1x1x1',
    x: [2, 3, 4, 5, 6],
    cout: 4,
    path: 'pointwise',
    spec: { kernel: t(1, 1, 1), stride: t(1, 1, 1), pad: t(0, 0, 0), groups: 1 },
  },
  {
    title: '(1,7,7) stride (1,2,2) pad (0,3,3)',
    x: [1, 3, 10, 9, 2],
    cout: 3,
    path: 'in-plane',
    spec: { kernel: t(1, 7, 7), stride: t(1, 2, 2), pad: t(0, 3, 3), groups: 1 },
  },
  {
    title: '(1,3,3) stride 1 pad (0,1,1)',
    x: [2, 2, 6, 5, 3],
    cout: 4,
    path: 'in-plane',
    spec: { kernel: t(1, 3, 3), stride: t(1, 1, 1), pad: t(0, 1, 1), groups: 1 },
  },
  {
    title: '(7,1,1) stride (2,1,1) pad (3,0,0)',
    x: [1, 8, 3, 4, 3],
    cout: 2,
    path: 'through-plane',
    spec: { kernel: t(7, 1, 1), stride: t(2, 1, 1), pad: t(3, 0, 0), groups: 1 },
  },
  {
    title: '(3,1,1) stride 1 pad (1,0,0)',
    x: [2, 4, 3, 3, 2],
    cout: 3,
    path: 'through-plane',
    spec: { kernel: t(3, 1, 1), stride: t(1, 1, 1), pad: t(1, 0, 0), groups: 1 },
  },
  {
    title: 'full 3x3x3 pad 1',
    x: [2, 4, 5, 6, 3],
    cout: 2,
    path: 'slices',
    spec: { kernel: t(3, 3, 3), stride: t(1, 1, 1), pad: t(1, 1, 1), groups: 1 },
  },
  {
    title: 'depthwise 3x3x3 pad 1',
    x: [1, 3, 5, 4, 4],
    cout: 4,
    path: 'slices',
    spec: { kernel: t(3, 3, 3), stride: t(1, 1, 1), pad: t(1, 1, 1), groups: 4 },
  },
];

/** Reference on the cpu backend: tf.conv3d (depthwise as per-channel conv3d), and gradients. */
function reference(xs: tf.Tensor5D, w: tf.Tensor5D, spec: Conv3dSpec, dy: tf.Tensor5D) {
  const p = spec.pad;
  const f = (x: tf.Tensor5D, filter: tf.Tensor5D): tf.Tensor5D => {
    const padded = tf.pad(x, [
      [0, 0],
      [p[0], p[0]],
      [p[1], p[1]],
      [p[2], p[2]],
      [0, 0],
    ]);
    if (spec.groups === 1) return tf.conv3d(padded as tf.Tensor5D, filter, spec.stride, 'valid');
    const channels = tf.split(padded, spec.groups, 4) as tf.Tensor5D[];
    const filters = tf.split(filter, spec.groups, 4) as tf.Tensor5D[];
    return tf.concat(
      channels.map((c, i) => tf.conv3d(c, filters[i]!, spec.stride, 'valid')),
      4,
    ) as tf.Tensor5D;
  };
  const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(f(a as tf.Tensor5D, b as tf.Tensor5D), dy)),
  )([xs, w]);
  return { y: f(xs, w), value, dx: grads[0]!, dw: grads[1]! };
}

function close(actual: Float32Array, expected: Float32Array, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / (1 + Math.abs(expected[i]!)));
  }
  assert.ok(worst < tol, `${what}: worst relative error ${worst} >= ${tol}`);
}

describe('conv3dFast', () => {
  after(async () => {
    setChunkPolicy(undefined);
    await tf.setBackend('cpu');
  });

  for (const backend of ['cpu', 'wasm']) {
    for (const tiny of [false, true]) {
      for (const c of CASES) {
        const tiling = tiny ? ' (tiled in 7-pixel calls)' : '';
        it(`${c.title} on ${backend}${tiling}: value and gradients match tf.conv3d`, async () => {
          const cin = c.x[4];
          const wShape = [...c.spec.kernel, c.spec.groups === 1 ? cin : 1, c.cout];
          const xData = seeded(
            c.x.reduce((a, b) => a * b, 1),
            1,
          );
          const wData = seeded(
            wShape.reduce((a, b) => a * b, 1),
            2,
          );

          await tf.setBackend('cpu');
          const x0 = tf.tensor5d(xData, c.x);
          const w0 = tf.tensor(wData, wShape) as tf.Tensor5D;
          const yShape = tf
            .conv3d(
              tf.pad(x0, [
                [0, 0],
                ...c.spec.pad.map((p): [number, number] => [p, p]),
                [0, 0],
              ]) as tf.Tensor5D,
              tf.ones([...c.spec.kernel, cin, 1]) as tf.Tensor5D,
              c.spec.stride,
              'valid',
            )
            .shape.slice(0, 4)
            .concat([c.cout]);
          const dyData = seeded(
            yShape.reduce((a, b) => a * b, 1),
            3,
          );
          const ref = reference(x0, w0, c.spec, tf.tensor(dyData, yShape) as tf.Tensor5D);
          const expected = { y: ref.y.dataSync(), dx: ref.dx.dataSync(), dw: ref.dw.dataSync() };
          tf.disposeVariables();

          await tf.setBackend(backend);
          setChunkPolicy(tiny ? { maxOutputPixels: 7, maxOutputScalars: 1e9 } : undefined);
          assert.equal(conv3dPath(c.spec, cin), c.path);
          const before = tf.memory().numTensors;
          const x = tf.tensor5d(xData, c.x);
          const w = tf.tensor(wData, wShape) as tf.Tensor5D;
          const dy = tf.tensor(dyData, yShape) as tf.Tensor5D;
          const y = conv3dFast(x, w, c.spec);
          assert.deepEqual(y.shape, yShape);
          close(y.dataSync() as Float32Array, expected.y as Float32Array, 1e-5, 'value');
          const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.mul(conv3dFast(a as tf.Tensor5D, b as tf.Tensor5D, c.spec), dy)),
          )([x, w]);
          close(grads[0]!.dataSync() as Float32Array, expected.dx as Float32Array, 1e-5, 'dx');
          close(grads[1]!.dataSync() as Float32Array, expected.dw as Float32Array, 1e-5, 'dw');
          tf.dispose([x, w, dy, y, ...grads]);
          assert.equal(tf.memory().numTensors, before, 'leaked tensors');
          setChunkPolicy(undefined);
        });
      }
    }
  }

  it('filter gradient of a (1,3,3) conv on wasm matches central finite differences', async () => {
    await tf.setBackend('wasm');
    const spec: Conv3dSpec = { kernel: [1, 3, 3], stride: [1, 2, 2], pad: [0, 1, 1], groups: 1 };
    const x = tf.tensor5d(seeded(2 * 2 * 5 * 5 * 2, 5), [2, 2, 5, 5, 2]);
    const wData = seeded(1 * 3 * 3 * 2 * 3, 6);
    const loss = (w: tf.Tensor): tf.Scalar =>
      tf.sum(tf.square(conv3dFast(x, w as tf.Tensor5D, spec)));
    const w = tf.tensor(wData, [1, 3, 3, 2, 3]);
    const analytic = tf.grad(loss)(w).dataSync();
    const eps = 1e-2;
    for (const index of [0, 7, 20, 53]) {
      const plus = Float32Array.from(wData);
      const minus = Float32Array.from(wData);
      plus[index]! += eps;
      minus[index]! -= eps;
      const lp = loss(tf.tensor(plus, w.shape)).dataSync()[0]!;
      const lm = loss(tf.tensor(minus, w.shape)).dataSync()[0]!;
      const numeric = (lp - lm) / (2 * eps);
      assert.ok(
        Math.abs(numeric - analytic[index]!) < 2e-3 * (1 + Math.abs(numeric)),
        `w[${index}]: finite difference ${numeric} vs gradient ${analytic[index]}`,
      );
    }
  });
});

describe('maxPool3dPadded and upsampleTrilinear', () => {
  it('max pool k(1,3,3) s(1,2,2) p(0,1,1) on [1,2,4,4,1] picks the PyTorch windows', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor5d(
      Array.from({ length: 32 }, (_, i) => i),
      [1, 2, 4, 4, 1],
    );
    const y = maxPool3dPadded(x, [1, 3, 3], [1, 2, 2], [0, 1, 1]);
    // Windows cover rows/cols {-1,0,1} and {1,2,3}: their bottom-right voxels win.
    assert.deepEqual(y.shape, [1, 2, 2, 2, 1]);
    assert.deepEqual(Array.from(y.dataSync()), [5, 7, 13, 15, 21, 23, 29, 31]);
    const g = tf.grad((a: tf.Tensor) =>
      tf.sum(maxPool3dPadded(a as tf.Tensor5D, [1, 3, 3], [1, 2, 2], [0, 1, 1])),
    )(x);
    const expected = new Array(32).fill(0);
    for (const i of [5, 7, 13, 15, 21, 23, 29, 31]) expected[i] = 1;
    assert.deepEqual(Array.from(g.dataSync()), expected);
  });

  it('upsamples [1,2,2,2,1] by (2,2,2) with align_corners to the trilinear ramp', async () => {
    await tf.setBackend('wasm');
    // f(d, h, w) = 4d + 2h + w is linear, so the result is f at (i/3, j/3, k/3).
    const x = tf.tensor5d([0, 1, 2, 3, 4, 5, 6, 7], [1, 2, 2, 2, 1]);
    const y = upsampleTrilinear(x, [2, 2, 2]);
    assert.deepEqual(y.shape, [1, 4, 4, 4, 1]);
    const data = y.dataSync();
    for (let d = 0; d < 4; d++) {
      for (let h = 0; h < 4; h++) {
        for (let w = 0; w < 4; w++) {
          const expected = (4 * d + 2 * h + w) / 3;
          assert.ok(Math.abs(data[(d * 4 + h) * 4 + w]! - expected) < 1e-5, `(${d},${h},${w})`);
        }
      }
    }
    const g = tf.grad((a: tf.Tensor) => tf.sum(upsampleTrilinear(a as tf.Tensor5D, [2, 2, 2])))(x);
    // Each input's weights over the 64 outputs sum to (sum of 1D weights)^3 = 2^3.
    assert.deepEqual(
      Array.from(g.dataSync()).map((v) => Math.round(v * 1e4) / 1e4),
      Array(8).fill(8),
    );
  });
});
