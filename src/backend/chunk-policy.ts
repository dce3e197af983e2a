/**
 * How large one conv2d (or pointwise matMul) call may be on each backend. Measured with
 * `npm run bench:conv` (scripts/bench-conv.ts) on 2026-12-04, on the 2-core development machine
 * under heavy load from other jobs (load average 6-7), on PankNet's six costliest convs at full
 * width and full size (53% of the 48.6 GFLOP of one 48x128x128 forward pass); tables in
 * BENCHMARKS.md, "Conv chunk policy".
 *
 * wasm: one call per conv was fastest, an estimated 12.8 GFLOP/s over the whole pass; a limit of
 * 2^20 output scalars came second (11.7), and every smaller chunk was slower (4096 pixels: 7.0;
 * 1024 pixels: 2.6; 2^16 scalars: 1.4), so wasm is not chunked. The cliff of large calls that
 * ../shared/DESIGN.md "Engines" reports did not show on these shapes: one call over 24 slices
 * of the (1,3,3) 64->192 conv ran at 14.8 GFLOP/s. cpu (one run per cell, crops of 0.5 GFLOP):
 * 65536 output pixels per call came first at 0.31 GFLOP/s and one call last at 0.24; the spread
 * is near the noise of one run on a loaded machine. `tf.conv3d` ran at 0.2-0.26 GFLOP/s.
 */

/** Limits of one conv2d call, in output elements. */
export interface ChunkPolicy {
  /** Largest `batch * outRows * outCols` (output pixels) of one call. */
  maxOutputPixels: number;
  /** Largest `batch * outRows * outCols * outChannels` (output scalars) of one call. */
  maxOutputScalars: number;
}

/**
 * Measured limits per backend name (see the header): one call per conv on wasm, 65536 output
 * pixels per call on cpu; other backends (native TensorFlow) are not chunked.
 */
export const CHUNK_POLICIES: Record<string, ChunkPolicy> = {
  wasm: { maxOutputPixels: Infinity, maxOutputScalars: Infinity },
  cpu: { maxOutputPixels: 65536, maxOutputScalars: Infinity },
};

const UNCHUNKED: ChunkPolicy = { maxOutputPixels: Infinity, maxOutputScalars: Infinity };

let override: ChunkPolicy | undefined;

/**
 * Returns the chunk policy of a backend (`tf.getBackend()`).
 *
 * @param backend - Backend name, e.g. `wasm`, `cpu`, `tensorflow`.
 * @returns The override set by `setChunkPolicy`, the measured policy, or no limit.
 */
export function chunkPolicyFor(backend: string): ChunkPolicy {
  return override ?? CHUNK_POLICIES[backend] ?? UNCHUNKED;
}

/**
 * Forces one policy for every backend (benchmarks and tests); `undefined` restores the table.
 *
 * @param policy - Limits to use, or `undefined`.
 */
export function setChunkPolicy(policy: ChunkPolicy | undefined): void {
  override = policy;
}

/**
 * Splits `[0, total)` into consecutive ranges of at most `size` (at least 1) elements.
 *
 * @param total - Number of elements.
 * @param size - Largest range.
 * @returns `[start, length]` pairs covering the whole range in order.
 */
export function splitRange(total: number, size: number): Array<[number, number]> {
  const step = Math.max(1, Math.floor(size));
  const ranges: Array<[number, number]> = [];
  for (let start = 0; start < total; start += step) {
    ranges.push([start, Math.min(step, total - start)]);
  }
  return ranges;
}
