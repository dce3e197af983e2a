/**
 * Plain, engine-free model weights: PyTorch names and layouts on typed arrays, so that
 * checkpoints, the ONNX exporter and the TensorFlow.js network share one format.
 */

import type { PankNetGraph } from './architecture.js';
import { WeightsError } from '../util/errors.js';

/** One parameter: PyTorch shape (conv weights `[Cout, Cin/groups, kD, kH, kW]`), float32. */
export interface ParameterArray {
  shape: number[];
  data: Float32Array;
}

/** Parameters by PyTorch-style name, e.g. `encoder.base.0.conv_s.weight`. */
export type StateDict = Map<string, ParameterArray>;

/** PyTorch BatchNorm bookkeeping keys that carry no weights; accepted and ignored. */
export const IGNORED_KEY = /\.num_batches_tracked$/;

/** Options of {@link checkStateDict}. */
export interface CheckStateDictOptions {
  /**
   * Top-level parts the weights cover, e.g. `['encoder']` (see {@link parametersOfParts});
   * absent: the whole network.
   */
  parts?: string[];
}

/**
 * Whether a parameter belongs to one of the parts: its name equals a part or starts with
 * `part.` (`encoder` covers `encoder.base.0.conv_s.weight`, not `encoderX.w`).
 *
 * @param name - Parameter name, e.g. `decoders.1.head.bias`.
 * @param parts - Prefixes such as `encoder`, `decoders`, `decoders.2`, `fusion`.
 * @returns True when some part is a dotted prefix of the name.
 */
export function inParts(name: string, parts: readonly string[]): boolean {
  return parts.some((part) => name === part || name.startsWith(`${part}.`));
}

/**
 * The graph's parameters that a set of parts covers, in the graph's order.
 *
 * @param graph - The network.
 * @param parts - Prefixes such as `['encoder']`; absent: every parameter.
 * @returns The parameter specs (name, PyTorch shape).
 * @throws WeightsError when `parts` is empty or a part names no parameter of the graph; the
 *   message lists the top-level parts that exist.
 */
export function parametersOfParts(
  graph: PankNetGraph,
  parts?: readonly string[],
): PankNetGraph['parameters'] {
  if (parts === undefined) return graph.parameters;
  const unknown = parts.filter((part) => !graph.parameters.some((p) => inParts(p.name, [part])));
  if (parts.length === 0 || unknown.length > 0) {
    throw new WeightsError(
      `parts [${parts.join(', ')}]: ` +
        (parts.length === 0 ? 'no part given' : `${unknown.join(', ')} names no parameter`) +
        `; use top-level prefixes of the network (${topLevelParts(graph).join(', ')}).`,
    );
  }
  return graph.parameters.filter((p) => inParts(p.name, parts));
}

/**
 * The first name component of every parameter, in order of appearance.
 *
 * @param graph - The network.
 * @returns E.g. `['encoder', 'decoders', 'fusion']`.
 */
export function topLevelParts(graph: PankNetGraph): string[] {
  return [...new Set(graph.parameters.map((p) => p.name.split('.')[0]!))];
}

/**
 * Checks a state dict against a graph's parameters and reports every problem at once.
 *
 * @param graph - The network the weights are for.
 * @param stateDict - Weights by name.
 * @param source - Where the weights came from, for the message (a file or `loadStateDict`).
 * @param options - `parts`: check only the parameters under these prefixes (a partial
 *   checkpoint); keys of other parts then count as unexpected.
 * @throws WeightsError listing every missing, unexpected and mis-shaped key, and the fix; or
 *   when a part names no parameter.
 */
export function checkStateDict(
  graph: PankNetGraph,
  stateDict: StateDict,
  source: string,
  options: CheckStateDictOptions = {},
): void {
  const expected = new Map(parametersOfParts(graph, options.parts).map((p) => [p.name, p.shape]));
  const missing = [...expected.keys()].filter((name) => !stateDict.has(name));
  const unexpected: string[] = [];
  const misshaped: string[] = [];
  for (const [name, value] of stateDict) {
    const shape = expected.get(name);
    if (shape === undefined) {
      if (!IGNORED_KEY.test(name)) unexpected.push(name);
      continue;
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (value.shape.join(',') !== shape.join(',') || value.data.length !== count) {
      misshaped.push(`${name} is [${value.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
  }
  if (missing.length + unexpected.length + misshaped.length === 0) return;
  const list = (items: string[]): string =>
    items.length > 8
      ? `${items.slice(0, 8).join(', ')} and ${items.length - 8} more`
      : items.join(', ');
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`${missing.length} missing (${list(missing)})`);
  if (unexpected.length > 0) parts.push(`${unexpected.length} unexpected (${list(unexpected)})`);
  if (misshaped.length > 0) parts.push(`${misshaped.length} mis-shaped (${list(misshaped)})`);
  const o = graph.options;
  const scope = options.parts ? ` (parts ${options.parts.join(', ')} only)` : '';
  throw new WeightsError(
    `${source}: weights${scope} do not fit PankNet (encoderWidth ${o.encoderWidth}, decoderWidth ` +
      `${o.decoderWidth}, taps ${o.taps.join(',')}, ${o.inChannels} -> ${o.outChannels} ` +
      `channels): ${parts.join('; ')}. Build the network with the options the weights were ` +
      "trained with (see the checkpoint's panknet.json).",
  );
}
