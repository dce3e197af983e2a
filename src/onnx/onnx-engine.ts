/**
 * A {@link SegmentationEngine} on onnxruntime-node: runs an exported PankNet `.onnx` model on
 * the CUDA execution provider when its library is installed, else on the CPU with one intra-op
 * thread per available core. CPU inference at full speed needs this engine (DESIGN.md,
 * "Engines"): about 0.85x PyTorch per convolution, against 0.12x for tfjs on wasm.
 */

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';

import * as ort from 'onnxruntime-node';

import type { EngineOutput, EngineRunOptions, SegmentationEngine } from '../infer/engine.js';
import type { Triple } from '../model/architecture.js';
import { BackendError, InputFileError, ShapeError } from '../util/errors.js';
import { log } from '../util/log.js';
import { ONNX_FUSED_NAME, ONNX_INPUT_NAME, onnxMapName } from './export-onnx.js';
import { readOnnxMetadata } from './read-onnx-metadata.js';
import type { OnnxModelSignature } from './read-onnx-metadata.js';

/** Execution provider choice: `auto` takes CUDA when its provider library is installed. */
export type OnnxProvider = 'auto' | 'cpu' | 'cuda';

/** Options of {@link createOnnxEngine}. */
export interface OnnxEngineOptions {
  /** Intra-op threads (default: `os.availableParallelism()`). */
  threads?: number;
  /** Execution provider (default `auto`). */
  provider?: OnnxProvider;
  /** Windows per call (default: 1 on the CPU, 4 on CUDA; a fixed-batch model sets its own). */
  maxBatch?: number;
}

/** The engine, with the metadata of the model it runs. */
export interface OnnxEngine extends SegmentationEngine {
  /** Metadata and signature read from the model. */
  readonly metadata: OnnxModelSignature;
  /** The execution provider the session runs on. */
  readonly provider: 'cpu' | 'cuda';
}

/**
 * Whether onnxruntime-node's CUDA provider library is installed beside its CPU binaries. The
 * package ships without it; its install script fetches it unless `.npmrc` says
 * `onnxruntime-node-install=skip`, as ours does.
 *
 * @returns True when `libonnxruntime_providers_cuda.so` sits beside the native binding.
 */
export function cudaProviderInstalled(): boolean {
  if (process.platform !== 'linux') return false;
  const require = createRequire(import.meta.url);
  const root = dirname(dirname(require.resolve('onnxruntime-node')));
  const folder = join(root, 'bin', 'napi-v6', 'linux', process.arch);
  return existsSync(join(folder, 'libonnxruntime_providers_cuda.so'));
}

async function createSession(
  bytes: Uint8Array,
  file: string,
  provider: 'cpu' | 'cuda',
  threads: number,
): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, {
      executionProviders: [provider],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new BackendError(
      `${file}: onnxruntime (${provider}) cannot load the model (${reason.split('\n')[0]}). ` +
        'Re-export it with `panknet export-onnx`, or use the tfjs engine.',
      { cause: error },
    );
  }
}

/**
 * Loads an exported PankNet model into onnxruntime-node.
 *
 * @param source - Path of a `.onnx` file written by `exportOnnx`, or its bytes.
 * @param options - Threads, provider, windows per call.
 * @returns The engine; call `dispose()` to release the native session.
 * @throws InputFileError naming the file when it is missing, unreadable, not ONNX, not a PankNet
 *   export, or its input/outputs disagree with its metadata.
 * @throws BackendError when onnxruntime cannot create a session for it.
 */
export async function createOnnxEngine(
  source: string | Uint8Array,
  options: OnnxEngineOptions = {},
): Promise<OnnxEngine> {
  const file = typeof source === 'string' ? source : '<onnx bytes>';
  let bytes: Uint8Array;
  if (typeof source === 'string') {
    try {
      bytes = await readFile(source);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new InputFileError(
        source,
        `cannot read the ONNX model (${reason}). Check the path, or export one with ` +
          '`panknet export-onnx MODEL_DIR -o model.onnx`.',
        { cause: error },
      );
    }
  } else {
    bytes = source;
  }
  const metadata = readOnnxMetadata(bytes, file);

  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new BackendError(`createOnnxEngine: threads must be a positive integer; got ${threads}.`);
  }
  const wanted = options.provider ?? 'auto';
  let provider: 'cpu' | 'cuda' = 'cpu';
  let session: ort.InferenceSession | undefined;
  if (wanted === 'cuda' || (wanted === 'auto' && cudaProviderInstalled())) {
    try {
      session = await createSession(bytes, file, 'cuda', threads);
      provider = 'cuda';
    } catch (error) {
      if (wanted === 'cuda') throw error;
      const reason = error instanceof Error ? error.message : String(error);
      log.warn(`onnxruntime CUDA provider unavailable (${reason}); running on the CPU.`);
    }
  }
  session ??= await createSession(bytes, file, 'cpu', threads);

  const { architecture, patch, batch } = metadata;
  const maxBatch = batch ?? options.maxBatch ?? (provider === 'cuda' ? 4 : 1);
  const name = `onnxruntime (${provider}${provider === 'cpu' ? `, ${threads} threads` : ''})`;
  log.info(`${name}: ${file}, patch ${patch.join(' x ')}, taps ${architecture.taps.join(',')}`);
  return new OrtSegmentationEngine(session, metadata, provider, name, maxBatch, file);
}

class OrtSegmentationEngine implements OnnxEngine {
  readonly patch: Triple;
  readonly outChannels: number;
  readonly taps: number[];
  private session: ort.InferenceSession | undefined;

  constructor(
    session: ort.InferenceSession,
    readonly metadata: OnnxModelSignature,
    readonly provider: 'cpu' | 'cuda',
    readonly name: string,
    readonly maxBatch: number,
    private readonly file: string,
  ) {
    this.session = session;
    this.patch = metadata.patch;
    this.outChannels = metadata.architecture.outChannels;
    this.taps = metadata.architecture.taps;
  }

  async run(
    windows: Float32Array,
    n: number,
    options: EngineRunOptions = {},
  ): Promise<EngineOutput> {
    const session = this.session;
    if (session === undefined) {
      throw new BackendError(`${this.name}: the engine was disposed; create a new one.`);
    }
    const [d, h, w] = this.patch;
    const inVoxels = this.metadata.architecture.inChannels * d * h * w;
    if (!Number.isInteger(n) || n < 1 || windows.length !== n * inVoxels) {
      throw new ShapeError(
        `${this.name}.run: windows has ${windows.length} values; expected n = ${n} windows of ` +
          `[${this.metadata.architecture.inChannels}, ${d}, ${h}, ${w}] (${n * inVoxels}).`,
      );
    }
    const outVoxels = this.outChannels * d * h * w;
    const wantMaps = options.decoderMaps === true;
    const fetches = [ONNX_FUSED_NAME, ...(wantMaps ? this.taps.map(onnxMapName) : [])];
    const results = fetches.map(() => new Float32Array(n * outVoxels));

    // A fixed-batch model takes exactly `maxBatch` windows: the last chunk is zero-padded.
    const fixed = this.metadata.batch !== null;
    for (let start = 0; start < n; start += this.maxBatch) {
      const count = Math.min(this.maxBatch, n - start);
      const feedBatch = fixed ? this.maxBatch : count;
      let data = windows.subarray(start * inVoxels, (start + count) * inVoxels);
      if (feedBatch !== count) {
        const padded = new Float32Array(feedBatch * inVoxels);
        padded.set(data);
        data = padded;
      }
      const dims = [feedBatch, this.metadata.architecture.inChannels, d, h, w];
      const input = new ort.Tensor('float32', data, dims);
      let outputs: ort.InferenceSession.OnnxValueMapType | undefined;
      try {
        outputs = await session.run({ [ONNX_INPUT_NAME]: input }, fetches);
        fetches.forEach((fetch, i) => {
          const values = outputs![fetch]!.data as Float32Array;
          results[i]!.set(values.subarray(0, count * outVoxels), start * outVoxels);
        });
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new BackendError(`${this.name}: inference failed on ${this.file} (${reason}).`, {
          cause: error,
        });
      } finally {
        input.dispose();
        for (const value of Object.values(outputs ?? {})) value.dispose();
      }
    }
    return wantMaps ? { fused: results[0]!, maps: results.slice(1) } : { fused: results[0]! };
  }

  async dispose(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session !== undefined) await session.release();
  }
}
