/**
 * PankNet in TensorFlow.js: the graph of `architecture.ts` with variables, BatchNorm in train or
 * eval mode, PyTorch-compatible state dicts and BatchNorm folding for inference.
 *
 * Internally tensors are channels-last `[N, D, H, W, C]` and conv weights
 * `[kD, kH, kW, Cin/groups, Cout]`; the public API is channels-first and PyTorch-layout.
 */

import * as tf from '@tensorflow/tfjs-core';

import '../backend/register-gradients.js';

import { conv3dFast } from '../backend/conv3d.js';
import { maxPool3dPadded } from '../backend/max-pool3d.js';
import { upsampleTrilinear } from '../backend/upsample-trilinear.js';
import { ShapeError } from '../util/errors.js';
import { RandomStream } from '../util/random.js';
import {
  buildPankNetGraph,
  type GraphNode,
  type PankNetGraph,
  type PankNetOptions,
} from './architecture.js';
import { foldBatchNorm } from './fold-batch-norm.js';
import { checkStateDict, type StateDict } from './state-dict.js';

/**
 * BatchNorm momentum of every layer: PyTorch's default, also in the encoder instead of the
 * 0.001 of the S3D video code, whose running statistics barely move from their initial values
 * in a short run (0.999^600 keeps 55% of the start after 600 steps) and stay those of video
 * frames when fine-tuning on CT, leaving inference (which uses them) far from what training saw.
 */
export const BN_MOMENTUM = 0.1;

/** Options of `PankNet.forward`. */
export interface ForwardOptions {
  /** BatchNorm from batch statistics, updating the running statistics (default false). */
  training?: boolean;
  /** Also return the encoder taps (default false). */
  returnTaps?: boolean;
  /** Eval mode with BatchNorm folded into the convs (faster; ignored when training). */
  folded?: boolean;
}

/** Outputs of one forward pass, channels-first; the caller disposes every tensor. */
export interface ForwardResult {
  /** Fused probabilities `[N, C, D, H, W]` (softmax over C: background, pancreas). */
  fused: tf.Tensor5D;
  /** Fused logits `[N, C, D, H, W]`, before softmax. */
  logits: tf.Tensor5D;
  /** Decoder logits `[N, C, D, H, W]`, one per tap in ascending tap order. */
  maps: tf.Tensor5D[];
  /** Encoder taps `[N, Ctap, d, h, w]` in ascending tap order, when asked for. */
  taps?: tf.Tensor5D[];
}

/**
 * Fresh weights initialised like PyTorch's defaults, from a seed: conv weights and biases
 * uniform in `+-1/sqrt(fanIn)` (kaiming-uniform with a = sqrt(5)), BatchNorm weight 1, bias 0,
 * running mean 0, running variance 1.
 *
 * @param graph - The network.
 * @param seed - Integer seed; the same seed gives the same weights.
 * @returns A complete state dict in PyTorch layout.
 */
export function initialStateDict(graph: PankNetGraph, seed = 0): StateDict {
  const random = new RandomStream(seed);
  const fanIn = new Map<string, number>();
  for (const node of graph.nodes) {
    if (node.op === 'conv') {
      fanIn.set(node.name, (node.inChannels / node.groups) * node.kernel.reduce((a, b) => a * b));
    }
  }
  const state: StateDict = new Map();
  for (const p of graph.parameters) {
    const count = p.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    const [prefix, field] = [p.name.slice(0, p.name.lastIndexOf('.')), p.name.split('.').pop()];
    const fan = fanIn.get(prefix);
    if (fan !== undefined) {
      const bound = 1 / Math.sqrt(fan);
      for (let i = 0; i < count; i++) data[i] = (2 * random.next() - 1) * bound;
    } else if (field === 'weight' || field === 'running_var') {
      data.fill(1);
    }
    state.set(p.name, { shape: p.shape, data });
  }
  return state;
}

const TO_TFJS = [2, 3, 4, 1, 0];
const TO_TORCH = [4, 3, 0, 1, 2];

function isConvWeight(shape: number[]): boolean {
  return shape.length === 5;
}

/** The PankNet network on TensorFlow.js variables. */
export class PankNet {
  /** The layer graph this network runs. */
  readonly graph: PankNetGraph;
  private readonly variables = new Map<string, tf.Variable>();
  /** Networks created so far in this process (makes variable names unique). */
  private static instances = 0;
  private foldedWeights: Map<string, tf.Tensor> | undefined;

  /**
   * Builds the network with PyTorch-default initial weights.
   *
   * @param options - Architecture options (missing fields: the paper's network).
   * @param seed - Seed of the initial weights.
   * @throws ShapeError for an impossible patch or invalid options.
   */
  constructor(options: Partial<PankNetOptions> = {}, seed = 0) {
    PankNet.instances += 1;
    this.graph = buildPankNetGraph(options);
    const initial = initialStateDict(this.graph, seed);
    for (const p of this.graph.parameters) {
      const trainable = !/running_(mean|var)$/.test(p.name);
      const value = this.toInternal(initial.get(p.name)!.data, p.shape);
      // tfjs variable names are global: each network gets its own prefix.
      const name = `panknet${PankNet.instances}/${p.name}`;
      this.variables.set(p.name, tf.variable(value, trainable, name));
      value.dispose();
    }
  }

  /** Trainable variables (conv weights and biases, BatchNorm weights and biases). */
  trainableVariables(): tf.Variable[] {
    return [...this.variables.values()].filter((v) => v.trainable);
  }

  /**
   * Trainable variables by PyTorch name; values are in the internal layout (conv weights
   * `[kD, kH, kW, Cin/groups, Cout]`), so optimizer state keyed by name stays aligned.
   */
  namedTrainableVariables(): Map<string, tf.Variable> {
    return new Map([...this.variables].filter(([, v]) => v.trainable));
  }

  /** Number of parameters (running statistics excluded). */
  parameterCount(): number {
    return this.trainableVariables().reduce((sum, v) => sum + v.size, 0);
  }

  private toInternal(data: Float32Array, shape: number[]): tf.Tensor {
    return tf.tidy(() => {
      const t = tf.tensor(data, shape, 'float32');
      return isConvWeight(shape) ? tf.transpose(t, TO_TFJS) : t;
    });
  }

  /**
   * Replaces every parameter.
   *
   * @param stateDict - Weights in PyTorch layout; `num_batches_tracked` keys are ignored.
   * @param source - Name of the weights' origin for error messages.
   * @throws WeightsError listing every missing, unexpected or mis-shaped key.
   */
  loadStateDict(stateDict: StateDict, source = 'PankNet.loadStateDict'): void {
    checkStateDict(this.graph, stateDict, source);
    for (const [name, variable] of this.variables) {
      const entry = stateDict.get(name)!;
      const value = this.toInternal(entry.data, entry.shape);
      variable.assign(value);
      value.dispose();
    }
    this.dropFolded();
  }

  /**
   * Reads every parameter back in PyTorch names and layout.
   *
   * @returns A new state dict (copies), in the graph's parameter order.
   */
  stateDict(): StateDict {
    const state: StateDict = new Map();
    for (const p of this.graph.parameters) {
      const variable = this.variables.get(p.name)!;
      const data = tf.tidy(() =>
        isConvWeight(p.shape) ? tf.transpose(variable, TO_TORCH) : tf.clone(variable),
      );
      state.set(p.name, { shape: [...p.shape], data: Float32Array.from(data.dataSync()) });
      data.dispose();
    }
    return state;
  }

  private dropFolded(): void {
    if (this.foldedWeights) tf.dispose([...this.foldedWeights.values()]);
    this.foldedWeights = undefined;
  }

  private folded(): Map<string, tf.Tensor> {
    if (!this.foldedWeights) {
      const weights = new Map<string, tf.Tensor>();
      for (const [name, entry] of foldBatchNorm(this.graph, this.stateDict())) {
        weights.set(name, this.toInternal(entry.data, entry.shape));
      }
      this.foldedWeights = weights;
    }
    return this.foldedWeights;
  }

  /**
   * Runs the network.
   *
   * @param input - `[N, inChannels, D, H, W]` float32, D H W equal to the patch, values in [0, 1].
   * @param options - Training mode, taps, folded BatchNorm.
   * @returns Fused probabilities and logits, decoder logits, taps; the caller disposes them.
   * @throws ShapeError when `input` is not `[N, inChannels, ...patch]`.
   */
  forward(input: tf.Tensor, options: ForwardOptions = {}): ForwardResult {
    const { inChannels, patch } = this.graph.options;
    const expected = [inChannels, ...patch];
    if (input.rank !== 5 || input.shape.slice(1).join(',') !== expected.join(',')) {
      throw new ShapeError(
        `PankNet.forward(input): shape [${input.shape.join(', ')}], expected ` +
          `[N, ${expected.join(', ')}] (batch, channels, slices, rows, columns); ` +
          'cut windows of the patch size (the sliding window does).',
      );
    }
    const training = options.training ?? false;
    if (training) this.dropFolded();
    const weights = !training && options.folded ? this.folded() : undefined;
    return tf.tidy(() => {
      const values = new Map<string, tf.Tensor5D>();
      for (const node of this.graph.nodes) {
        values.set(node.id, this.runNode(node, values, input, training, weights));
      }
      const channelsFirst = (id: string): tf.Tensor5D =>
        tf.transpose(values.get(id)!, [0, 4, 1, 2, 3]) as tf.Tensor5D;
      const result: ForwardResult = {
        fused: channelsFirst(this.graph.fused),
        logits: channelsFirst(this.graph.fusedLogits),
        maps: this.graph.maps.map(channelsFirst),
      };
      if (options.returnTaps) result.taps = this.graph.taps.map(channelsFirst);
      return result as unknown as tf.TensorContainer;
    }) as unknown as ForwardResult;
  }

  private runNode(
    node: GraphNode,
    values: Map<string, tf.Tensor5D>,
    input: tf.Tensor,
    training: boolean,
    weights: Map<string, tf.Tensor> | undefined,
  ): tf.Tensor5D {
    if (node.op === 'input') return tf.transpose(input, [0, 2, 3, 4, 1]) as tf.Tensor5D;
    if (node.op === 'concat')
      return tf.concat(
        node.inputs.map((id) => values.get(id)!),
        4,
      );
    const x = values.get(node.input)!;
    switch (node.op) {
      case 'conv': {
        const source = weights ?? this.variables;
        const w = source.get(`${node.name}.weight`)! as tf.Tensor5D;
        const b = source.get(`${node.name}.bias`) as tf.Tensor1D | undefined;
        const spec = {
          kernel: node.kernel,
          stride: node.stride,
          pad: node.pad,
          groups: node.groups,
        };
        return conv3dFast(x, w, spec, b);
      }
      case 'batchnorm':
        if (weights) return x;
        return this.batchNorm(x, node.name, node.eps, training);
      case 'relu':
        return tf.relu(x);
      case 'relu6':
        return tf.relu6(x);
      case 'softmax':
        return tf.softmax(x);
      case 'maxpool':
        return maxPool3dPadded(x, node.kernel, node.stride, node.pad);
      case 'upsample':
        return upsampleTrilinear(x, node.scale);
    }
  }

  private batchNorm(x: tf.Tensor5D, name: string, eps: number, training: boolean): tf.Tensor5D {
    const gamma = this.variables.get(`${name}.weight`)!;
    const beta = this.variables.get(`${name}.bias`)!;
    const runningMean = this.variables.get(`${name}.running_mean`)!;
    const runningVar = this.variables.get(`${name}.running_var`)!;
    if (!training) {
      const scale = tf.mul(gamma, tf.rsqrt(tf.add(runningVar, eps)));
      return tf.add(tf.mul(tf.sub(x, runningMean), scale), beta);
    }
    const { mean, variance } = tf.moments(x, [0, 1, 2, 3]);
    const count = x.size / x.shape[4];
    // Running statistics as PyTorch keeps them (unbiased variance); no loss depends on them.
    const [newMean, newVar] = tf.tidy(() => {
      const v = tf.mul(variance, count / Math.max(1, count - 1));
      return [
        tf.add(tf.mul(runningMean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)),
        tf.add(tf.mul(runningVar, 1 - BN_MOMENTUM), tf.mul(v, BN_MOMENTUM)),
      ];
    });
    runningMean.assign(newMean!);
    runningVar.assign(newVar!);
    const normalised = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(normalised, gamma), beta);
  }

  /** Frees every variable and cached tensor; the network cannot run afterwards. */
  dispose(): void {
    this.dropFolded();
    tf.dispose([...this.variables.values()]);
    this.variables.clear();
  }
}
