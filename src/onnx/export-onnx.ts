/**
 * Exports a PankNet graph and its weights as a standard ONNX model (an `onnx.ModelProto` built
 * and encoded with the `onnx-proto` package), so that onnxruntime or any ONNX runtime can run
 * it. BatchNorm is folded into the convolution before it; the model carries the metadata that
 * inference needs (patch, spacing, normalisation, labels, architecture, weights digest).
 */

import onnxProto from 'onnx-proto';

import type { GraphNode, PankNetGraph, PankNetOptions, Triple } from '../model/architecture.js';
import { foldBatchNorm } from '../model/fold-batch-norm.js';
import { checkStateDict } from '../model/state-dict.js';
import type { StateDict } from '../model/state-dict.js';
import { UnsupportedError } from '../util/errors.js';
import { panknetVersion } from '../util/version.js';
import { littleEndianBytes, stateDictSha256 } from './state-dict.js';

const { onnx } = onnxProto;

/** Lowest opset the exporter writes: Softmax acts on one axis and Resize takes scales from 13. */
export const MIN_OPSET = 13;
/** Highest opset the exporter writes (onnxruntime-node 1.31 runs up to 21 and beyond). */
export const MAX_OPSET = 21;
/** Default opset. */
export const DEFAULT_OPSET = 17;

/** Name of the model's one input, `[N, inChannels, D, H, W]` float32 in [0, 1]. */
export const ONNX_INPUT_NAME = 'image';
/** Name of the fused probabilities output `[N, outChannels, D, H, W]`. */
export const ONNX_FUSED_NAME = 'fused';
/** Symbolic batch dimension when the batch is dynamic. */
export const ONNX_BATCH_PARAM = 'N';

/**
 * Name of the per-decoder probabilities output of one tap.
 *
 * @param tap - Encoder tap, 1 to 4.
 * @returns `map1` to `map4`.
 */
export function onnxMapName(tap: number): string {
  return `map${tap}`;
}

/** Keys of the model's `metadata_props`; every value is a JSON text. */
export const ONNX_METADATA_KEYS = {
  format: 'panknet.format',
  version: 'panknet.version',
  architecture: 'panknet.architecture',
  patch: 'panknet.patch',
  targetSpacingMm: 'panknet.target_spacing_mm',
  normalisation: 'panknet.normalisation',
  labels: 'panknet.labels',
  weightsSha256: 'panknet.weights_sha256',
} as const;

/** Version of the metadata layout above; readers refuse other versions. */
export const ONNX_METADATA_FORMAT = 1;

/** What the checkpoint knows beyond the weights, carried into the model's metadata. */
export interface OnnxModelInfo {
  /** Spacing `[x, y, z]` in mm the network was trained at (DESIGN.md: 1 x 1 x 1). */
  targetSpacingMm: Triple;
  /** The preprocessing recipe as stored in the checkpoint (JSON-serialisable, any layout). */
  normalisation: unknown;
  /** Class names by output channel, e.g. `['background', 'pancreas']`. */
  labels: string[];
}

/** Everything read back from an exported model's metadata. */
export interface OnnxModelMetadata extends OnnxModelInfo {
  /** Architecture options the graph was built from. */
  architecture: PankNetOptions;
  /** Window `[D, H, W]` in voxels. */
  patch: Triple;
  /** {@link stateDictSha256} of the exported weights. */
  weightsSha256: string;
  /** PankNet version that wrote the model. */
  version: string;
}

/** Options of {@link exportOnnx}. */
export interface OnnxExportOptions {
  /** ONNX opset, {@link MIN_OPSET} to {@link MAX_OPSET} (default {@link DEFAULT_OPSET}). */
  opset?: number;
  /** Symbolic batch `N` in the input and outputs; otherwise the batch is fixed to 1. */
  dynamicBatch?: boolean;
  /** Spacing, normalisation and labels stored as metadata. */
  metadata: OnnxModelInfo;
  /**
   * Fold BatchNorm into the preceding conv (default true). `false` writes BatchNormalization
   * nodes instead; it exists to prove the folding exact and is slower to run.
   */
  foldBatchNorm?: boolean;
}

/** IR version that goes with an opset (onnx/helper.py's table: 8 up to opset 18). */
function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

type TensorProto = onnxProto.onnx.ITensorProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;

function floatTensor(name: string, dims: number[], values: Float32Array): TensorProto {
  return {
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: littleEndianBytes(values).slice(),
  };
}

function ints(name: string, values: number[]): AttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values };
}

function int(name: string, value: number): AttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

function text(name: string, value: string): AttributeProto {
  const s = new TextEncoder().encode(value);
  return { name, type: onnx.AttributeProto.AttributeType.STRING, s };
}

function valueInfo(
  name: string,
  batch: number | null,
  dims: number[],
): onnxProto.onnx.IValueInfoProto {
  const batchDim = batch === null ? { dimParam: ONNX_BATCH_PARAM } : { dimValue: batch };
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [batchDim, ...dims.map((d) => ({ dimValue: d }))] },
      },
    },
  };
}

/**
 * Builds the ONNX model of a PankNet graph with its weights.
 *
 * Inputs and outputs: `image` `[N, inChannels, D, H, W]`; `fused` `[N, outChannels, D, H, W]`
 * (softmax over channels: background, pancreas); `map1`..`map4`, the softmax of each decoder's
 * logits, one per tap the graph has. `N` is symbolic with `dynamicBatch`, else 1.
 *
 * @param graph - The network, from `buildPankNetGraph`.
 * @param stateDict - Weights for every `graph.parameters` entry (PyTorch layout).
 * @param options - Opset, batch, metadata, BatchNorm folding.
 * @returns The encoded `ModelProto`, ready to write as `model.onnx`.
 * @throws WeightsError when a parameter is missing or misshapen.
 * @throws UnsupportedError for an opset outside {@link MIN_OPSET}..{@link MAX_OPSET}.
 */
export function exportOnnx(
  graph: PankNetGraph,
  stateDict: StateDict,
  options: OnnxExportOptions,
): Uint8Array {
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new UnsupportedError(
      `exportOnnx: opset ${opset} is not supported; use ${MIN_OPSET} to ${MAX_OPSET} ` +
        `(default ${DEFAULT_OPSET}).`,
    );
  }
  checkStateDict(graph, stateDict, 'exportOnnx');
  const batch = options.dynamicBatch === true ? null : 1;
  // Folded weights have no BatchNorm keys; a BatchNorm whose keys remain becomes a node.
  const weights = options.foldBatchNorm === false ? stateDict : foldBatchNorm(graph, stateDict);
  const param = (name: string): Float32Array => weights.get(name)!.data;

  const outputNames = new Map<string, string>([[graph.fused, ONNX_FUSED_NAME]]);
  const tensorOf = new Map<string, string>();
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: TensorProto[] = [];
  const nameOf = (id: string): string => tensorOf.get(id)!;
  const emit = (
    node: GraphNode,
    opType: string,
    inputs: string[],
    attrs: AttributeProto[] = [],
  ): void => {
    const output = outputNames.get(node.id) ?? node.id;
    tensorOf.set(node.id, output);
    nodes.push({ name: node.id, opType, input: inputs, output: [output], attribute: attrs });
  };
  const constant = (name: string, dims: number[], values: number[]): string => {
    if (!initializers.some((t) => t.name === name)) {
      initializers.push(floatTensor(name, dims, Float32Array.from(values)));
    }
    return name;
  };

  for (const node of graph.nodes) {
    switch (node.op) {
      case 'input':
        tensorOf.set(node.id, ONNX_INPUT_NAME);
        break;
      case 'conv': {
        const weight = weights.get(`${node.name}.weight`)!;
        const bias = weights.get(`${node.name}.bias`);
        initializers.push(floatTensor(`${node.name}.weight`, weight.shape, weight.data));
        const inputs = [nameOf(node.input), `${node.name}.weight`];
        if (bias !== undefined) {
          initializers.push(floatTensor(`${node.name}.bias`, [node.outChannels], bias.data));
          inputs.push(`${node.name}.bias`);
        }
        emit(node, 'Conv', inputs, [
          ints('kernel_shape', node.kernel),
          ints('strides', node.stride),
          ints('pads', [...node.pad, ...node.pad]),
          ints('dilations', [1, 1, 1]),
          int('group', node.groups),
        ]);
        break;
      }
      case 'batchnorm': {
        if (!weights.has(`${node.name}.weight`)) {
          tensorOf.set(node.id, nameOf(node.input));
          break;
        }
        const fields = ['weight', 'bias', 'running_mean', 'running_var'];
        const names = fields.map((field) => `${node.name}.${field}`);
        for (const name of names) {
          initializers.push(floatTensor(name, [node.channels], param(name)));
        }
        const epsilon: AttributeProto = {
          name: 'epsilon',
          type: onnx.AttributeProto.AttributeType.FLOAT,
          f: node.eps,
        };
        emit(node, 'BatchNormalization', [nameOf(node.input), ...names], [epsilon]);
        break;
      }
      case 'relu':
        emit(node, 'Relu', [nameOf(node.input)]);
        break;
      case 'relu6':
        emit(node, 'Clip', [
          nameOf(node.input),
          constant('relu6.min', [], [0]),
          constant('relu6.max', [], [6]),
        ]);
        break;
      case 'softmax':
        emit(node, 'Softmax', [nameOf(node.input)], [int('axis', 1)]);
        break;
      case 'maxpool':
        emit(
          node,
          'MaxPool',
          [nameOf(node.input)],
          [
            ints('kernel_shape', node.kernel),
            ints('strides', node.stride),
            ints('pads', [...node.pad, ...node.pad]),
          ],
        );
        break;
      case 'concat':
        emit(node, 'Concat', node.inputs.map(nameOf), [int('axis', 1)]);
        break;
      case 'upsample': {
        const scales = constant(`${node.id}.scales`, [5], [1, 1, ...node.scale]);
        emit(
          node,
          'Resize',
          [nameOf(node.input), '', scales],
          [text('mode', 'linear'), text('coordinate_transformation_mode', 'align_corners')],
        );
        break;
      }
    }
  }

  // Per-decoder probabilities: the softmax of each decoder's logits, named after its tap.
  const { options: arch } = graph;
  const mapNames = arch.taps.map(onnxMapName);
  graph.maps.forEach((id, i) => {
    nodes.push({
      name: `${mapNames[i]}_softmax`,
      opType: 'Softmax',
      input: [nameOf(id)],
      output: [mapNames[i]!],
      attribute: [int('axis', 1)],
    });
  });

  const [d, h, w] = arch.patch;
  const outDims = [arch.outChannels, d, h, w];
  const metadata: Record<string, unknown> = {
    [ONNX_METADATA_KEYS.format]: ONNX_METADATA_FORMAT,
    [ONNX_METADATA_KEYS.version]: panknetVersion(),
    [ONNX_METADATA_KEYS.architecture]: arch,
    [ONNX_METADATA_KEYS.patch]: arch.patch,
    [ONNX_METADATA_KEYS.targetSpacingMm]: options.metadata.targetSpacingMm,
    [ONNX_METADATA_KEYS.normalisation]: options.metadata.normalisation ?? null,
    [ONNX_METADATA_KEYS.labels]: options.metadata.labels,
    [ONNX_METADATA_KEYS.weightsSha256]: stateDictSha256(graph, stateDict),
  };
  const model = onnx.ModelProto.create({
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'panknet',
    producerVersion: panknetVersion(),
    docString: 'PankNet pancreas segmentation: S3D encoder, four decoders, fused softmax.',
    metadataProps: Object.entries(metadata).map(([key, value]) => ({
      key,
      value: JSON.stringify(value),
    })),
    graph: {
      name: 'panknet',
      node: nodes,
      initializer: initializers,
      input: [valueInfo(ONNX_INPUT_NAME, batch, [arch.inChannels, d, h, w])],
      output: [ONNX_FUSED_NAME, ...mapNames].map((name) => valueInfo(name, batch, outDims)),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
