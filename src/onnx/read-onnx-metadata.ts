/**
 * Reads and checks the PankNet metadata and the input/output signature of an exported `.onnx`
 * model, so that a corrupt, foreign or mismatched file fails with a message naming it before
 * any inference runs.
 */

import onnxProto from 'onnx-proto';

import { validateOptions } from '../model/architecture.js';
import type { PankNetOptions, Triple } from '../model/architecture.js';
import { InputFileError } from '../util/errors.js';
import {
  ONNX_FUSED_NAME,
  ONNX_INPUT_NAME,
  ONNX_METADATA_FORMAT,
  ONNX_METADATA_KEYS,
  onnxMapName,
} from './export-onnx.js';
import type { OnnxModelMetadata } from './export-onnx.js';

const { onnx } = onnxProto;

/** An exported model's metadata plus its batch dimension. */
export interface OnnxModelSignature extends OnnxModelMetadata {
  /** Fixed batch size of the input, or `null` when it is symbolic (`--dynamic-batch`). */
  batch: number | null;
  /** The opset the model imports for the default domain. */
  opset: number;
}

const FIX = 'Re-export it with `panknet export-onnx MODEL_DIR -o model.onnx`.';

function dims(value: onnxProto.onnx.IValueInfoProto | undefined): (number | string)[] | null {
  const shape = value?.type?.tensorType?.shape?.dim;
  if (!shape) return null;
  return shape.map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue ?? 0)));
}

/**
 * Decodes an ONNX model and checks that it is a PankNet export this version can run.
 *
 * @param bytes - The `.onnx` file contents.
 * @param file - The file name for messages (or a label such as `<bytes>`).
 * @returns Metadata, fixed batch (or `null`), opset.
 * @throws InputFileError naming `file` when the bytes are not an ONNX model, the PankNet metadata
 *   is missing or of another format, or the input/outputs disagree with the architecture.
 */
export function readOnnxMetadata(bytes: Uint8Array, file: string): OnnxModelSignature {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputFileError(file, `not a readable ONNX model (${reason}). ${FIX}`, {
      cause: error,
    });
  }
  const graph = model.graph;
  if (!graph || !graph.node || graph.node.length === 0) {
    throw new InputFileError(file, `not an ONNX model (no graph found). ${FIX}`);
  }
  const props = new Map(model.metadataProps.map((p) => [p.key, p.value]));
  const get = (key: string): unknown => {
    const value = props.get(key);
    if (value === undefined || value === null) {
      throw new InputFileError(
        file,
        `ONNX model without PankNet metadata (${key} is missing); it was not written by ` +
          `panknet export-onnx. ${FIX}`,
      );
    }
    try {
      return JSON.parse(value) as unknown;
    } catch (error) {
      throw new InputFileError(file, `metadata ${key} is not valid JSON. ${FIX}`, { cause: error });
    }
  };
  const format = get(ONNX_METADATA_KEYS.format);
  if (format !== ONNX_METADATA_FORMAT) {
    throw new InputFileError(
      file,
      `PankNet ONNX metadata format ${String(format)}, this version reads ` +
        `${ONNX_METADATA_FORMAT}. ${FIX}`,
    );
  }
  let architecture: PankNetOptions;
  try {
    architecture = validateOptions(get(ONNX_METADATA_KEYS.architecture) as Partial<PankNetOptions>);
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputFileError(file, `invalid architecture metadata: ${reason} ${FIX}`, {
      cause: error,
    });
  }
  const patch = get(ONNX_METADATA_KEYS.patch) as Triple;
  const spacing = get(ONNX_METADATA_KEYS.targetSpacingMm) as Triple;
  const labels = get(ONNX_METADATA_KEYS.labels) as string[];
  const sha = get(ONNX_METADATA_KEYS.weightsSha256);
  const samePatch = Array.isArray(patch) && patch.every((s, a) => s === architecture.patch[a]);
  if (!samePatch || patch.length !== 3) {
    throw new InputFileError(
      file,
      `metadata patch ${JSON.stringify(patch)} disagrees with the architecture's ` +
        `[${architecture.patch.join(', ')}]. ${FIX}`,
    );
  }
  if (!Array.isArray(spacing) || spacing.length !== 3 || !Array.isArray(labels)) {
    throw new InputFileError(file, `metadata target spacing or labels malformed. ${FIX}`);
  }
  if (typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha)) {
    throw new InputFileError(file, `metadata weights sha256 malformed. ${FIX}`);
  }

  // The signature must be what the engine feeds and reads.
  const [d, h, w] = architecture.patch;
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((v) => !initializers.has(v.name));
  const input = dims(inputs[0]);
  const batchDim = input?.[0];
  const inputOk =
    inputs.length === 1 &&
    inputs[0]!.name === ONNX_INPUT_NAME &&
    input !== null &&
    input.length === 5 &&
    [architecture.inChannels, d, h, w].every((s, a) => input[a + 1] === s);
  if (!inputOk) {
    const found = inputs.map((v) => `${v.name} [${(dims(v) ?? []).join(', ')}]`).join(', ');
    throw new InputFileError(
      file,
      `model input is ${found || 'missing'}; expected one input ${ONNX_INPUT_NAME} ` +
        `[N, ${architecture.inChannels}, ${d}, ${h}, ${w}]. ${FIX}`,
    );
  }
  const expected = [ONNX_FUSED_NAME, ...architecture.taps.map(onnxMapName)];
  const outputs = (graph.output ?? []).map((v) => v.name);
  const missing = expected.filter((name) => !outputs.includes(name));
  if (missing.length > 0) {
    throw new InputFileError(
      file,
      `model outputs are [${outputs.join(', ')}], missing ${missing.join(', ')}. ${FIX}`,
    );
  }
  const opset = Number(model.opsetImport.find((o) => !o.domain)?.version ?? 0);
  return {
    architecture,
    patch: architecture.patch,
    targetSpacingMm: spacing,
    normalisation: get(ONNX_METADATA_KEYS.normalisation),
    labels,
    weightsSha256: sha,
    version: String(get(ONNX_METADATA_KEYS.version)),
    batch: typeof batchDim === 'number' && batchDim > 0 ? batchDim : null,
    opset,
  };
}
