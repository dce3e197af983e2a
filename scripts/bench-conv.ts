/**
 * `npm run bench:conv`: measures how large one conv2d call should be on the TensorFlow.js wasm
 * and cpu backends, on the convolutions PankNet really has (full width, 48 x 128 x 128 patch).
 *
 * The convs of `buildPankNetGraph()` are grouped by (kernel, stride, groups, channels, input
 * size); the groups with the most FLOPs per forward pass are timed through `conv3dFast` under
 * several chunk policies (`setChunkPolicy`), beside one unchunked call and `tf.conv3d`. On wasm
 * each conv runs at its full size unless `--gflop` crops it (along D; along H for (k,1,1)
 * kernels); on cpu, and for `tf.conv3d` (both 20-50x slower), convs are cropped to 0.5 and 0.25
 * GFLOP, which only shortens the run: the chunk policy, not the crop, sets the call sizes. The
 * policy with
 * the lowest estimated conv time of one whole forward pass (sum over groups of their FLOPs over
 * the measured rate; untimed groups count at the rate of their own path) wins. Not in `npm test`.
 *
 * Usage: npm run bench:conv [-- --backends wasm,cpu --groups 8 --repeats 3 --gflop 0.5]
 */

import { performance } from 'node:perf_hooks';

import * as tf from '@tensorflow/tfjs-core';

import { setChunkPolicy, type ChunkPolicy } from '../src/backend/chunk-policy.js';
import { conv3dFast, conv3dPath, type Conv3dPath } from '../src/backend/conv3d.js';
import { selectBackend, type BackendName } from '../src/backend/select-backend.js';
import { buildPankNetGraph, type Triple } from '../src/model/architecture.js';

/** One group of identical convs of the network. */
interface ConvGroup {
  label: string;
  path: Conv3dPath;
  kernel: Triple;
  stride: Triple;
  pad: Triple;
  groups: number;
  cin: number;
  cout: number;
  input: Triple;
  count: number;
  /** FLOPs of all convs of the group in one forward pass (2 per multiply-add). */
  flops: number;
}

/** A named policy; `undefined` limits mean one call per conv. */
interface Candidate {
  name: string;
  policy: ChunkPolicy;
}

function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function stringArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? String(process.argv[i + 1]) : fallback;
}

function outExtent(size: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

function convFlops(g: Omit<ConvGroup, 'label' | 'path' | 'count' | 'flops'>): number {
  const out = g.input.map((s, i) => outExtent(s, g.kernel[i]!, g.stride[i]!, g.pad[i]!));
  const kernelVolume = g.kernel[0] * g.kernel[1] * g.kernel[2];
  return 2 * out[0]! * out[1]! * out[2]! * g.cout * (g.cin / g.groups) * kernelVolume;
}

/** Every distinct conv of the full-width network at its default patch, most FLOPs first. */
export function pankNetConvGroups(): ConvGroup[] {
  const graph = buildPankNetGraph();
  const groups = new Map<string, ConvGroup>();
  for (const node of graph.nodes) {
    if (node.op !== 'conv') continue;
    const input = graph.sizes.get(node.input)!;
    const depthwise = node.groups > 1;
    const strided = node.stride.some((s) => s > 1);
    const label =
      `${node.kernel.join('x')}${strided ? `/s${node.stride.join('')}` : ''}` +
      `${depthwise ? ' dw' : ''} ${node.inChannels}->${node.outChannels} @ ${input.join('x')}`;
    const base = {
      kernel: node.kernel,
      stride: node.stride,
      pad: node.pad,
      groups: node.groups,
      cin: node.inChannels,
      cout: node.outChannels,
      input,
    };
    const found = groups.get(label) ?? {
      ...base,
      label,
      path: conv3dPath(node, node.inChannels),
      count: 0,
      flops: 0,
    };
    found.count += 1;
    found.flops += convFlops(base);
    groups.set(label, found);
  }
  return [...groups.values()].sort((a, b) => b.flops - a.flops);
}

/** The group cropped to about `gflop` GFLOP: fewer slices, or fewer rows for (k,1,1) kernels. */
function cropped(group: ConvGroup, gflop: number): Triple {
  const one = convFlops(group) / group.count;
  const input: Triple = [...group.input];
  const axis = group.path === 'through-plane' ? 1 : 0;
  const keep = Math.max(group.kernel[axis]!, Math.ceil((input[axis]! * gflop * 1e9) / one));
  input[axis] = Math.min(input[axis]!, keep);
  return input;
}

/** Best wall time of `repeats` runs; returns the last output, which the caller disposes. */
async function timeMs(
  fn: () => tf.Tensor,
  repeats: number,
): Promise<{ bestMs: number; last: tf.Tensor }> {
  let bestMs = Infinity;
  let last: tf.Tensor | undefined;
  for (let r = 0; r < repeats; r++) {
    last?.dispose();
    const start = performance.now();
    last = fn();
    await last.data();
    bestMs = Math.min(bestMs, performance.now() - start);
  }
  return { bestMs, last: last! };
}

function candidates(): Candidate[] {
  const list: Candidate[] = [{ name: 'one call', policy: unlimited() }];
  for (const px of [1024, 4096, 16384, 65536]) {
    list.push({ name: `px ${px}`, policy: { maxOutputPixels: px, maxOutputScalars: Infinity } });
  }
  for (const sc of [1 << 16, 1 << 18, 1 << 20]) {
    list.push({ name: `sc ${sc}`, policy: { maxOutputPixels: Infinity, maxOutputScalars: sc } });
  }
  for (const [px, sc] of [
    [1024, 1 << 18],
    [4096, 1 << 18],
    [4096, 1 << 20],
  ] as const) {
    list.push({ name: `px ${px} sc ${sc}`, policy: { maxOutputPixels: px, maxOutputScalars: sc } });
  }
  return list;
}

function unlimited(): ChunkPolicy {
  return { maxOutputPixels: Infinity, maxOutputScalars: Infinity };
}

async function benchBackend(
  backend: BackendName,
  groups: ConvGroup[],
  all: ConvGroup[],
  repeats: number,
  gflop: number,
): Promise<ChunkPolicy> {
  await selectBackend({ backend });
  const list = candidates();
  const rates: number[][] = [];
  const conv3dRates: number[] = [];
  process.stdout.write(`\n### ${backend} backend (tf.getBackend() = ${tf.getBackend()})\n\n`);
  process.stdout.write(
    `GFLOP/s, best of ${repeats}; ` +
      `${Number.isFinite(gflop) ? `convs cropped to about ${gflop} GFLOP` : 'convs at full size'}` +
      ' (timed input column).\n\n',
  );
  const header = ['conv (k, cin->cout @ DxHxW)', 'path', 'GFLOP/pass', 'timed input'];
  header.push(...list.map((c) => c.name), 'tf.conv3d');
  process.stdout.write(`| ${header.join(' | ')} |\n| ${header.map(() => '---').join(' | ')} |\n`);

  for (const group of groups) {
    const input = cropped(group, gflop);
    const flops = convFlops({ ...group, input });
    const [d, h, w] = input;
    const x = tf.randomUniform([1, d, h, w, group.cin], -1, 1, 'float32', 1) as tf.Tensor5D;
    const wShape: [number, number, number, number, number] = [
      ...group.kernel,
      group.cin / group.groups,
      group.cout,
    ];
    const filter = tf.randomUniform(wShape, -0.1, 0.1, 'float32', 2) as tf.Tensor5D;
    const spec = {
      kernel: group.kernel,
      stride: group.stride,
      pad: group.pad,
      groups: group.groups,
    };
    const row: number[] = [];

    // Every candidate must give the unchunked result (guards the benchmark itself).
    let reference: tf.Tensor | undefined;
    for (const candidate of list) {
      setChunkPolicy(candidate.policy);
      const timed = await timeMs(() => conv3dFast(x, filter, spec), repeats);
      if (reference === undefined) reference = timed.last;
      else {
        const diff = tf.max(tf.abs(tf.sub(timed.last, reference))).dataSync()[0]!;
        timed.last.dispose();
        if (diff > 1e-3) throw new Error(`${group.label}, ${candidate.name}: differs by ${diff}`);
      }
      row.push(flops / timed.bestMs / 1e6);
    }
    setChunkPolicy(undefined);
    reference?.dispose();

    // tf.conv3d is slow everywhere: one run on a quarter of the crop, not for depthwise convs.
    let conv3dRate = NaN;
    if (group.groups === 1) {
      const small = cropped(group, Math.min(gflop / 4, 0.25));
      const xs = tf.slice(x, [0, 0, 0, 0, 0], [1, ...small, group.cin]);
      const pads = group.pad.map((p) => [p, p] as [number, number]);
      const padded = tf.pad(xs, [[0, 0], ...pads, [0, 0]]) as tf.Tensor5D;
      const timed = await timeMs(() => tf.conv3d(padded, filter, group.stride, 'valid'), 1);
      timed.last.dispose();
      xs.dispose();
      padded.dispose();
      conv3dRate = convFlops({ ...group, input: small }) / timed.bestMs / 1e6;
    }
    x.dispose();
    filter.dispose();
    rates.push(row);
    conv3dRates.push(conv3dRate);
    const cells = [
      group.label,
      group.path,
      (group.flops / 1e9).toFixed(2),
      input.join('x'),
      ...row.map((r) => r.toFixed(2)),
      Number.isNaN(conv3dRate) ? '-' : conv3dRate.toFixed(2),
    ];
    process.stdout.write(`| ${cells.join(' | ')} |\n`);
  }

  // Estimated conv seconds of one forward pass per candidate: timed groups at their rate,
  // the rest at the FLOP-weighted rate of their path (or of all timed groups).
  const estimates = list.map((_, c) => {
    const byPath = new Map<Conv3dPath, { flops: number; seconds: number }>();
    let timedSeconds = 0;
    let timedFlops = 0;
    groups.forEach((g, i) => {
      const s = g.flops / (rates[i]![c]! * 1e9);
      const e = byPath.get(g.path) ?? { flops: 0, seconds: 0 };
      e.flops += g.flops;
      e.seconds += s;
      byPath.set(g.path, e);
      timedSeconds += s;
      timedFlops += g.flops;
    });
    let seconds = timedSeconds;
    for (const g of all) {
      if (groups.includes(g)) continue;
      const e = byPath.get(g.path);
      seconds += e ? (g.flops * e.seconds) / e.flops : (g.flops * timedSeconds) / timedFlops;
    }
    return seconds;
  });
  const totalFlops = all.reduce((s, g) => s + g.flops, 0);
  process.stdout.write('\nEstimated conv time of one full-width forward pass (all convs):\n\n');
  process.stdout.write('| policy | seconds | GFLOP/s |\n| --- | --- | --- |\n');
  const order = list.map((_, i) => i).sort((a, b) => estimates[a]! - estimates[b]!);
  for (const i of order) {
    const s = estimates[i]!;
    process.stdout.write(
      `| ${list[i]!.name} | ${s.toFixed(2)} | ${(totalFlops / s / 1e9).toFixed(2)} |\n`,
    );
  }
  const best = list[order[0]!]!;
  const c3 = conv3dRates.filter((r) => !Number.isNaN(r));
  process.stdout.write(
    `\nBest on ${backend}: ${best.name}; ` +
      `tf.conv3d median over timed groups ${median(c3).toFixed(2)} GFLOP/s.\n`,
  );
  return best.policy;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const backends = stringArg('backends', 'wasm,cpu').split(',') as BackendName[];
  const groupCount = numberArg('groups', 8);
  const repeats = numberArg('repeats', 3);
  const gflop = numberArg('gflop', Infinity);
  const all = pankNetConvGroups();
  const total = all.reduce((s, g) => s + g.flops, 0);
  const timed = all.slice(0, groupCount);
  const share = timed.reduce((s, g) => s + g.flops, 0) / total;
  process.stdout.write(
    `PankNet full width, patch 48x128x128: ${all.length} distinct convs, ` +
      `${(total / 1e9).toFixed(1)} GFLOP per forward; timing the ${timed.length} largest ` +
      `(${(100 * share).toFixed(0)}% of the FLOPs).\n`,
  );
  for (const backend of backends) {
    // The cpu backend is about 20x slower: smaller crops keep its run short.
    const size = backend === 'cpu' ? Math.min(gflop, 0.5) : gflop;
    await benchBackend(backend, timed, all, backend === 'cpu' ? 1 : repeats, size);
  }
}

void main();
