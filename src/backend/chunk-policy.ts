/**
 * How large one conv2d call may be on each backend. On the wasm backend a large call falls to
 * about 1 GFLOP/s while small calls reach 10-20 (../shared/DESIGN.md, "Engines"); the numbers
 * below come from `scripts/bench-conv.ts` on the 2-core development machine (results in
 * `scripts/bench-conv.md`).
 */

/** Limits of one conv2d call, in output elements. */
export interface ChunkPolicy {
  /** Largest `batch * outRows * outCols` (output pixels) of one call. */
  maxOutputPixels: number;
  /** Largest `batch * outRows * outCols * outChannels` (output scalars) of one call. */
  maxOutputScalars: number;
}

/** Measured limits per backend name; unknown backends (native TensorFlow) are not chunked. */
export const CHUNK_POLICIES: Record<string, ChunkPolicy> = {
  wasm: { maxOutputPixels: 4096, maxOutputScalars: 262144 },
  cpu: { maxOutputPixels: 16384, maxOutputScalars: 1 << 22 },
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
