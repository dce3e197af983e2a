/**
 * Adam (Kingma and Ba, 2015) with its whole state exposed as a plain state dict, so that a
 * training checkpoint can hold it and `--resume` continues with the same moments and step.
 */

import * as tf from '@tensorflow/tfjs-core';

import type { StateDict } from '../model/state-dict.js';
import { WeightsError } from '../util/errors.js';

/** Adam hyper-parameters (PyTorch's defaults). */
export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** L2 weight decay added to the gradient (default 0). */
  weightDecay?: number;
}

/** Adam over named variables. */
export class Adam {
  private readonly moments = new Map<string, { m: tf.Variable; v: tf.Variable }>();
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly weightDecay: number;
  /** Number of updates applied so far. */
  step = 0;

  constructor(options: AdamOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
  }

  /**
   * Applies one update: `variable -= lr * mHat / (sqrt(vHat) + eps)`.
   *
   * @param variables - The variables by name.
   * @param gradients - Gradients by the same names (missing names are left alone).
   * @param learningRate - Step size of this update.
   */
  apply(
    variables: Map<string, tf.Variable>,
    gradients: Record<string, tf.Tensor>,
    learningRate: number,
  ): void {
    this.step += 1;
    const correction1 = 1 - this.beta1 ** this.step;
    const correction2 = 1 - this.beta2 ** this.step;
    for (const [name, variable] of variables) {
      const gradient = gradients[name];
      if (gradient === undefined) continue;
      const state = this.momentsOf(name, variable);
      tf.tidy(() => {
        const g =
          this.weightDecay > 0 ? tf.add(gradient, tf.mul(variable, this.weightDecay)) : gradient;
        const m = tf.add(tf.mul(state.m, this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(state.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        state.m.assign(m);
        state.v.assign(v);
        const update = tf.div(
          tf.div(m, correction1),
          tf.add(tf.sqrt(tf.div(v, correction2)), this.epsilon),
        );
        variable.assign(tf.sub(variable, tf.mul(update, learningRate)));
      });
    }
  }

  private momentsOf(name: string, variable: tf.Variable): { m: tf.Variable; v: tf.Variable } {
    let state = this.moments.get(name);
    if (state === undefined) {
      state = {
        m: tf.variable(tf.zerosLike(variable), false),
        v: tf.variable(tf.zerosLike(variable), false),
      };
      this.moments.set(name, state);
    }
    return state;
  }

  /** The moments as plain arrays (`<name>.adam_m`, `<name>.adam_v`); `step` is separate. */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    for (const [name, { m, v }] of this.moments) {
      out.set(`${name}.adam_m`, { shape: m.shape, data: m.dataSync() as Float32Array });
      out.set(`${name}.adam_v`, { shape: v.shape, data: v.dataSync() as Float32Array });
    }
    return out;
  }

  /**
   * Restores moments and step saved by `stateDict()`.
   *
   * @throws WeightsError when a saved moment does not match its variable's shape.
   */
  loadStateDict(state: StateDict, step: number, variables: Map<string, tf.Variable>): void {
    this.step = step;
    for (const [name, variable] of variables) {
      const m = state.get(`${name}.adam_m`);
      const v = state.get(`${name}.adam_v`);
      if (m === undefined || v === undefined) continue;
      if (m.data.length !== variable.size || v.data.length !== variable.size) {
        throw new WeightsError(
          `optimizer state for ${name} holds ${m.data.length} values, the variable ` +
            `${variable.size}; resume with the architecture the run was started with.`,
        );
      }
      const moments = this.momentsOf(name, variable);
      tf.tidy(() => {
        moments.m.assign(tf.tensor(m.data, variable.shape));
        moments.v.assign(tf.tensor(v.data, variable.shape));
      });
    }
  }

  /** Frees the moment variables. */
  dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
  }
}
