/**
 * Picks the TensorFlow.js backend at run time, fastest first: tfjs-node-gpu, tfjs-node (native
 * TensorFlow, optional peer dependencies), wasm, cpu (../shared/DESIGN.md, "Engines").
 */

import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { BackendError } from '../util/errors.js';
import { getLogLevel, log } from '../util/log.js';

/** Backends in the order tried. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

const ORDER: BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** Which backend runs, and how to get a faster one. */
export interface BackendChoice {
  /** Our name of the backend that runs. */
  name: BackendName;
  /** `tf.getBackend()` after the choice (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string;
  /** Threads of the wasm backend (1 where Node lacks wasm threads). */
  threads?: number;
  /** For a non-native backend: how to install a faster one. */
  hint?: string;
}

/** Options of `selectBackend`. */
export interface SelectBackendOptions {
  /** Force one backend; default `PANKNET_BACKEND`, else the fastest available. */
  backend?: BackendName;
}

const FASTER_HINT =
  'for native speed install @tensorflow/tfjs-node (or tfjs-node-gpu with CUDA) where the ' +
  'machine can download libtensorflow, or use the onnxruntime engine for inference';

async function tryNative(pkg: string): Promise<boolean> {
  try {
    await import(pkg);
    return true;
  } catch {
    return false;
  }
}

async function tryWasm(): Promise<number | undefined> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  wasm.setWasmPaths(join(dist, '/').replace(/\\/g, '/'));
  // Node has no wasm threads in tfjs 4.22 (WASM_HAS_MULTITHREAD_SUPPORT is false); ask anyway.
  wasm.setThreadsCount(Math.max(1, Math.min(4, cpus().length)));
  if (!(await tf.setBackend('wasm'))) return undefined;
  await tf.ready();
  return wasm.getThreadsCount();
}

/**
 * Chooses and initialises the TensorFlow.js backend.
 *
 * @param options - A forced backend, else `PANKNET_BACKEND`, else the fastest available.
 * @returns Which backend runs; logs it with `log.info`, with a hint when it is not native.
 * @throws BackendError when a forced backend cannot load or the name is unknown.
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendChoice> {
  const forced = options.backend ?? (process.env.PANKNET_BACKEND as BackendName | undefined);
  if (forced !== undefined && !ORDER.includes(forced)) {
    throw new BackendError(
      `selectBackend: unknown backend "${String(forced)}" (from options or PANKNET_BACKEND); ` +
        `use one of ${ORDER.join(', ')}.`,
    );
  }
  // The library is quiet unless asked: TensorFlow.js's own console notices (such as the cpu
  // backend's "install tfjs-node" banner) show only at the debug log level.
  tf.env().set('PROD', getLogLevel() !== 'debug');
  for (const name of forced ? [forced] : ORDER) {
    const choice = await tryOne(name);
    if (choice) {
      log.info(`tfjs backend: ${name}${choice.threads ? ` (${choice.threads} thread(s))` : ''}`);
      if (choice.hint) log.info(`tfjs backend ${name} is not native: ${choice.hint}`);
      return choice;
    }
    if (forced) {
      throw new BackendError(
        `selectBackend: backend "${name}" could not be loaded; install its package ` +
          `(${name.startsWith('tensorflow') ? '@tensorflow/tfjs-node' : 'bundled'}) ` +
          'or pick another.',
      );
    }
  }
  throw new BackendError('selectBackend: no TensorFlow.js backend could be loaded.');
}

async function tryOne(name: BackendName): Promise<BackendChoice | undefined> {
  if (name === 'tensorflow-gpu' || name === 'tensorflow') {
    const pkg = name === 'tensorflow' ? '@tensorflow/tfjs-node' : '@tensorflow/tfjs-node-gpu';
    if (!(await tryNative(pkg)) || !(await tf.setBackend('tensorflow'))) return undefined;
    return { name, tfBackend: tf.getBackend() };
  }
  if (name === 'wasm') {
    const threads = await tryWasm().catch(() => undefined);
    return threads === undefined
      ? undefined
      : { name, tfBackend: 'wasm', threads, hint: FASTER_HINT };
  }
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) return undefined;
  return { name, tfBackend: 'cpu', hint: FASTER_HINT };
}
