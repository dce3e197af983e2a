/**
 * Folds each inference BatchNorm into the convolution before it, on plain arrays.
 */

import type { PankNetGraph } from './architecture.js';
import type { StateDict } from './state-dict.js';

/**
 * Returns weights in which every `conv -> batchnorm` pair of the graph is one conv with bias:
 * `w' = w * g / sqrt(v + eps)` per output channel and `b' = (b - m) * g / sqrt(v + eps) + beta`
 * (with `b = 0` for convs without bias). Parameters of other layers are copied by reference.
 *
 * @param graph - The network.
 * @param stateDict - Complete weights in PyTorch layout (checked by the caller).
 * @returns Weights without BatchNorm keys; folded convs gain `${name}.bias`. Float32 math in
 *   float64, rounded once.
 */
export function foldBatchNorm(graph: PankNetGraph, stateDict: StateDict): StateDict {
  const convOf = new Map<string, string>();
  for (const node of graph.nodes) if (node.op === 'conv') convOf.set(node.id, node.name);
  const folded: StateDict = new Map(stateDict);
  for (const node of graph.nodes) {
    if (node.op !== 'batchnorm') continue;
    const conv = convOf.get(node.input);
    if (conv === undefined) continue;
    const get = (field: string): Float32Array => stateDict.get(`${node.name}.${field}`)!.data;
    const [gamma, beta, mean, variance] = ['weight', 'bias', 'running_mean', 'running_var'].map(
      get,
    );
    const weight = stateDict.get(`${conv}.weight`)!;
    const oldBias = stateDict.get(`${conv}.bias`)?.data;
    const cout = weight.shape[0]!;
    const per = weight.data.length / cout;
    const w = new Float32Array(weight.data.length);
    const b = new Float32Array(cout);
    for (let c = 0; c < cout; c++) {
      const scale = gamma![c]! / Math.sqrt(variance![c]! + node.eps);
      for (let i = 0; i < per; i++) w[c * per + i] = weight.data[c * per + i]! * scale;
      b[c] = ((oldBias?.[c] ?? 0) - mean![c]!) * scale + beta![c]!;
    }
    folded.set(`${conv}.weight`, { shape: weight.shape, data: w });
    folded.set(`${conv}.bias`, { shape: [cout], data: b });
    for (const field of ['weight', 'bias', 'running_mean', 'running_var']) {
      folded.delete(`${node.name}.${field}`);
    }
  }
  return folded;
}
