import assert from 'node:assert/strict';

import type { Triple } from '../../src/model/architecture.js';
import type { EngineOutput, SegmentationEngine } from '../../src/infer/engine.js';
import {
  gaussianImportance,
  slidingWindowInference,
  windowStarts,
} from '../../src/infer/sliding-window.js';

/**
 * Test double standing in for the network (the real engines have their own specs): channel 1
 * echoes the input and channel 0 is its complement; decoder map t is the input times t / 4. A
 * correct window blend must then give back the input exactly, whatever the overlap or flips.
 */
function echoEngine(patch: Triple, calls: number[] = []): SegmentationEngine {
  const voxels = patch[0] * patch[1] * patch[2];
  return {
    name: 'echo (test double)',
    patch,
    outChannels: 2,
    taps: [1, 2, 3, 4],
    maxBatch: 3,
    async run(windows, n, options): Promise<EngineOutput> {
      calls.push(n);
      const make = (scale: number): Float32Array => {
        const out = new Float32Array(n * 2 * voxels);
        for (let b = 0; b < n; b++) {
          for (let v = 0; v < voxels; v++) {
            const value = windows[b * voxels + v]! * scale;
            out[(b * 2 + 1) * voxels + v] = value;
            out[b * 2 * voxels + v] = 1 - value;
          }
        }
        return out;
      };
      return {
        fused: make(1),
        maps: options?.decoderMaps ? [1, 2, 3, 4].map((t) => make(t / 4)) : undefined,
      };
    },
    dispose(): void {},
  };
}

function ramp(shape: Triple): Float32Array {
  const [d, h, w] = shape;
  const image = new Float32Array(d * h * w);
  for (let z = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) image[(z * h + y) * w + x] = ((x * 7 + y * 3 + z * 11) % 97) / 97;
    }
  }
  return image;
}

function assertClose(actual: Float32Array, expected: Float32Array, tolerance: number): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (Math.abs(actual[i]! - expected[i]!) > tolerance) {
      assert.fail(`index ${i}: ${actual[i]} != ${expected[i]}`);
    }
  }
}

describe('windowStarts', () => {
  it('covers 300 voxels with 128-voxel windows at overlap 0.5 in 4 evenly spread windows', () => {
    assert.deepEqual(windowStarts(300, 128, 0.5), [0, 57, 115, 172]);
  });
  it('gives one window when the size equals or is below the patch', () => {
    assert.deepEqual(windowStarts(128, 128, 0.5), [0]);
    assert.deepEqual(windowStarts(40, 128, 0.5), [0]);
  });
  it('lets consecutive windows overlap by at least the asked fraction', () => {
    const starts = windowStarts(1000, 48, 0.25);
    for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! - starts[i - 1]! <= 36);
    assert.equal(starts.at(-1), 1000 - 48);
  });
});

describe('gaussianImportance', () => {
  it('peaks at 1 in the centre of an 8 x 16 x 16 patch and stays positive at the corners', () => {
    const map = gaussianImportance([8, 16, 16]);
    const max = Math.max(...map);
    assert.ok(Math.abs(max - Math.exp((-(0.5 ** 2) / (2 * 1)) * 3)) < 0.2);
    assert.ok(map[0]! > 0);
    assert.ok(map[0]! < map[(4 * 16 + 8) * 16 + 8]!);
  });
});

describe('slidingWindowInference (echo test double instead of the network)', () => {
  it('blends a 20 x 50 x 45 volume of 8 x 16 x 16 windows back to the input', async () => {
    const shape: Triple = [20, 50, 45];
    const image = ramp(shape);
    const calls: number[] = [];
    const progress: number[] = [];
    const result = await slidingWindowInference(image, shape, echoEngine([8, 16, 16], calls), {
      onProgress: (event) => progress.push(event.done),
    });
    assertClose(result.fused.subarray(20 * 50 * 45), image, 1e-5);
    assert.ok(calls.every((n) => n <= 3));
    assert.equal(progress.at(-1), result.windows);
    assert.equal(
      calls.reduce((a, b) => a + b, 0),
      result.windows,
    );
  });

  it('pads a volume smaller than the patch and crops back to 5 x 10 x 12', async () => {
    const shape: Triple = [5, 10, 12];
    const image = ramp(shape);
    const result = await slidingWindowInference(image, shape, echoEngine([8, 16, 16]));
    assert.equal(result.windows, 1);
    assert.equal(result.fused.length, 2 * 5 * 10 * 12);
    assertClose(result.fused.subarray(5 * 10 * 12), image, 1e-6);
  });

  it('undoes the flips of test-time augmentation and returns 4 scaled decoder maps', async () => {
    const shape: Triple = [12, 20, 24];
    const image = ramp(shape);
    const plain = await slidingWindowInference(image, shape, echoEngine([8, 16, 16]));
    const result = await slidingWindowInference(image, shape, echoEngine([8, 16, 16]), {
      tta: true,
      decoderMaps: true,
    });
    assert.equal(result.windows, plain.windows * 4);
    assertClose(result.fused.subarray(12 * 20 * 24), image, 1e-5);
    assert.equal(result.maps?.length, 4);
    const expected = image.map((v) => (v * 3) / 4);
    assertClose(result.maps![2]!.subarray(12 * 20 * 24), expected, 1e-5);
  });

  it('rejects an image whose length does not match its shape', async () => {
    await assert.rejects(
      slidingWindowInference(new Float32Array(10), [2, 2, 2], echoEngine([8, 16, 16])),
      /image has 10 voxels, shape \[2, 2, 2\] needs 8/,
    );
  });

  it('stops between batches when aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stopped by test'));
    await assert.rejects(
      slidingWindowInference(ramp([8, 16, 16]), [8, 16, 16], echoEngine([8, 16, 16]), {
        signal: controller.signal,
      }),
      /stopped by test/,
    );
  });
});
