/**
 * The digest of a network's weights, stored in exported ONNX models so that a cached export can
 * tell whether the checkpoint changed since.
 */

import { createHash } from 'node:crypto';

import type { PankNetGraph } from '../model/architecture.js';
import { checkStateDict } from '../model/state-dict.js';
import type { StateDict } from '../model/state-dict.js';

/**
 * SHA-256 of the weights a graph uses: for each parameter in the graph's order, its name, its
 * shape and its float32 values as little-endian bytes. Extra entries of the dict do not count,
 * so the digest identifies exactly what an export bakes in.
 *
 * @param graph - The network whose parameters are hashed.
 * @param stateDict - Weights, checked against the graph first.
 * @returns Lower-case hex digest, 64 characters.
 * @throws WeightsError when a parameter is missing, unexpected or misshapen.
 */
export function stateDictSha256(graph: PankNetGraph, stateDict: StateDict): string {
  checkStateDict(graph, stateDict, 'stateDictSha256');
  const hash = createHash('sha256');
  for (const spec of graph.parameters) {
    const tensor = stateDict.get(spec.name)!;
    hash.update(`${spec.name}[${tensor.shape.join(',')}]\n`);
    hash.update(littleEndianBytes(tensor.data));
  }
  return hash.digest('hex');
}

/**
 * The bytes of a float32 array in little-endian order (a view on little-endian hosts).
 *
 * @param values - Any float32 array.
 * @returns `4 * values.length` bytes.
 */
export function littleEndianBytes(values: Float32Array): Uint8Array {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) {
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  }
  const bytes = new Uint8Array(values.byteLength);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  return bytes;
}
