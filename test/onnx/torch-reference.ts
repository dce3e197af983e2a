/**
 * Helpers shared by the ONNX specs and `scripts/bench.ts`: seeded weights for any PankNet graph,
 * and the PyTorch reference (`test/fixtures/onnx_torch_reference.py`, run by Debian's
 * `/usr/bin/python3` with python3-torch) fed the same graph, weights and input.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { PankNetGraph } from '../../src/model/architecture.js';
import type { StateDict } from '../../src/model/state-dict.js';
import { PROJECT_ROOT } from '../helpers/data.js';

/** Python with torch and numpy (Debian python3-torch); the PATH one lacks them. */
export const TORCH_PYTHON = '/usr/bin/python3';

/** The reference script. */
export const TORCH_SCRIPT = join(PROJECT_ROOT, 'test', 'fixtures', 'onnx_torch_reference.py');

/** A small deterministic PRNG (mulberry32) returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Extra scale of the decoder heads and the fusion, so that the maps are far from 0.5. */
const HEAD_GAIN = 4;

/**
 * Seeded weights for every parameter of a graph: conv weights uniform with He scale
 * (`sqrt(6 / fan_in)`, times 4 for the heads and the fusion), biases in [-0.1, 0.1],
 * BatchNorm gamma in [0.5, 1.5], beta and mean in
 * [-0.2, 0.2], variance in [0.5, 1.5], so that activations stay of order one through the net.
 */
export function seededStateDict(graph: PankNetGraph, seed: number): StateDict {
  const random = seededRandom(seed);
  const uniform = (lo: number, hi: number): number => lo + (hi - lo) * random();
  const dict: StateDict = new Map();
  for (const spec of graph.parameters) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const field = spec.name.slice(spec.name.lastIndexOf('.') + 1);
    const isBn = /(bn|bn_s|bn_t|_bn)$/.test(spec.name.slice(0, spec.name.lastIndexOf('.')));
    const head = /(\.head|^fusion)\.weight$/.test(spec.name);
    for (let i = 0; i < size; i++) {
      if (spec.shape.length === 5) {
        const fanIn = size / spec.shape[0]!;
        const a = Math.sqrt(6 / fanIn) * (head ? HEAD_GAIN : 1);
        data[i] = uniform(-a, a);
      } else if (!isBn) data[i] = uniform(-0.1, 0.1);
      else if (field === 'weight') data[i] = uniform(0.5, 1.5);
      else if (field === 'running_var') data[i] = uniform(0.5, 1.5);
      else data[i] = uniform(-0.2, 0.2);
    }
    dict.set(spec.name, { shape: [...spec.shape], data });
  }
  return dict;
}

/** A seeded input `[n, C, D, H, W]` in [0, 1] with some smooth structure. */
export function seededInput(graph: PankNetGraph, n: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const [d, h, w] = graph.options.patch;
  const size = n * graph.options.inChannels * d * h * w;
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const x = i % w;
    const y = Math.floor(i / w) % h;
    data[i] = 0.5 + 0.3 * Math.sin(x / 5) * Math.cos(y / 7) + 0.2 * (random() - 0.5);
  }
  return data;
}

/** What the PyTorch reference returns. */
export interface TorchResult {
  /** Fused probabilities `[n, C, D, H, W]`. */
  fused: Float32Array;
  /** Per-decoder probabilities by tap order. */
  maps: Float32Array[];
  /** Wall time of each forward pass, ms. */
  forwardMs: number[];
  /** Peak resident memory of the Python process, kB. */
  maxRssKb: number;
  /** Threads torch used. */
  threads: number;
}

/**
 * Runs the graph in PyTorch on the same weights and input.
 *
 * @param graph - Network; written as JSON for the script.
 * @param stateDict - Weights (unfolded BatchNorm).
 * @param input - `[n, C, D, H, W]` float32.
 * @param n - Batch.
 * @param options - Forward repeats (timing) and torch threads.
 */
export function runTorchReference(
  graph: PankNetGraph,
  stateDict: StateDict,
  input: Float32Array,
  n: number,
  options: { repeats?: number; threads?: number } = {},
): TorchResult {
  const work = mkdtempSync(join(tmpdir(), 'panknet-torch-'));
  try {
    const { nodes, maps, fused, options: arch } = graph;
    writeFileSync(join(work, 'graph.json'), JSON.stringify({ nodes, maps, fused, options: arch }));
    const index: { name: string; shape: number[]; offset: number }[] = [];
    let offset = 0;
    for (const spec of graph.parameters) {
      index.push({ name: spec.name, shape: spec.shape, offset });
      offset += stateDict.get(spec.name)!.data.length;
    }
    const all = new Float32Array(offset);
    index.forEach((entry) => all.set(stateDict.get(entry.name)!.data, entry.offset));
    writeFileSync(join(work, 'weights.json'), JSON.stringify(index));
    writeFileSync(join(work, 'weights.bin'), new Uint8Array(all.buffer));
    const [d, h, w] = arch.patch;
    const shape = [n, arch.inChannels, d, h, w];
    writeFileSync(join(work, 'input.json'), JSON.stringify({ shape }));
    const inputBytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    writeFileSync(join(work, 'input.bin'), inputBytes);

    const args = [TORCH_SCRIPT, work, '--repeats', String(options.repeats ?? 1)];
    if (options.threads !== undefined) args.push('--threads', String(options.threads));
    const result = spawnSync(TORCH_PYTHON, args, { encoding: 'utf8' });
    if (result.status !== 0) {
      const why = `${result.stderr}${result.error?.message ?? ''}`;
      throw new Error(`PyTorch reference failed (status ${result.status}): ${why}`);
    }
    const read = (name: string): Float32Array => {
      const bytes = readFileSync(join(work, name));
      const end = bytes.byteOffset + bytes.byteLength;
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset, end));
    };
    const timing = JSON.parse(readFileSync(join(work, 'timing.json'), 'utf8')) as {
      forward_ms: number[];
      max_rss_kb: number;
      threads: number;
    };
    return {
      fused: read('fused.bin'),
      maps: arch.taps.map((tap) => read(`map${tap}.bin`)),
      forwardMs: timing.forward_ms,
      maxRssKb: timing.max_rss_kb,
      threads: timing.threads,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Largest absolute difference of two arrays of equal length. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
