/**
 * PankNet as data: the exact layer graph of ../shared/DESIGN.md ("The method"), independent of
 * any engine. The TensorFlow.js network, the ONNX exporter and the PyTorch importer all walk this
 * one description, so that parameter names, shapes and wiring cannot drift apart.
 *
 * Tensors are channels-first `[N, C, D, H, W]`; D is the slice axis (the volume's k), H the rows
 * (j) and W the columns (i). Parameter names mirror the PyTorch state-dict keys of the reference:
 * the encoder's keys are the S3D checkpoint's `base.*` keys under `encoder.`; conv weights are
 * `[Cout, Cin / groups, kD, kH, kW]` as in PyTorch.
 */

import { ShapeError } from '../util/errors.js';

/** Three integers along D, H, W. */
export type Triple = [number, number, number];

/** Options that define a PankNet network. */
export interface PankNetOptions {
  /** Input channels (1 for CT or MRI). */
  inChannels: number;
  /** Output channels (2: background, pancreas). */
  outChannels: number;
  /** Channel multiplier of the encoder (1 to use S3D Kinetics-400 weights). */
  encoderWidth: number;
  /** Channel multiplier of the decoders. */
  decoderWidth: number;
  /** Which encoder taps (1 to 4) have decoders; the paper uses all four. */
  taps: number[];
  /** Patch size `[D, H, W]` in voxels: slices, rows, columns. */
  patch: Triple;
}

/** The paper's network: 1 input channel, 2 classes, full width, four decoders, 48x128x128. */
export const DEFAULT_PANKNET_OPTIONS: PankNetOptions = {
  inChannels: 1,
  outChannels: 2,
  encoderWidth: 1,
  decoderWidth: 1,
  taps: [1, 2, 3, 4],
  patch: [48, 128, 128],
};

/** BatchNorm epsilon of the S3D encoder (DESIGN.md). */
export const ENCODER_BN_EPS = 1e-3;
/** BatchNorm epsilon of the decoders (DESIGN.md). */
export const DECODER_BN_EPS = 1e-5;

/** One node of the graph; `input`/`inputs` name earlier nodes by `id`. */
export type GraphNode =
  | { op: 'input'; id: string; channels: number }
  | {
      op: 'conv';
      id: string;
      input: string;
      /** Parameter prefix: weights at `${name}.weight`, bias at `${name}.bias`. */
      name: string;
      inChannels: number;
      outChannels: number;
      kernel: Triple;
      stride: Triple;
      pad: Triple;
      /** 1 for a full conv; `inChannels` for a depthwise conv. */
      groups: number;
      bias: boolean;
    }
  | {
      op: 'batchnorm';
      id: string;
      input: string;
      /** Parameters `${name}.weight|bias|running_mean|running_var`, each `[C]`. */
      name: string;
      channels: number;
      eps: number;
    }
  | { op: 'relu' | 'relu6' | 'softmax'; id: string; input: string }
  | {
      op: 'maxpool';
      id: string;
      input: string;
      kernel: Triple;
      stride: Triple;
      /** Padding counts as minus infinity, as in PyTorch. */
      pad: Triple;
    }
  | { op: 'concat'; id: string; inputs: string[] }
  | {
      /** Trilinear upsampling by integer factors, align_corners true. */
      op: 'upsample';
      id: string;
      input: string;
      scale: Triple;
    };

/** A learnable (or running-statistics) parameter. */
export interface ParameterSpec {
  /** PyTorch-style key, e.g. `encoder.base.0.conv_s.weight`. */
  name: string;
  /** Shape in PyTorch layout. */
  shape: number[];
}

/** The network as a graph: nodes in topological order plus the named outputs. */
export interface PankNetGraph {
  options: PankNetOptions;
  nodes: GraphNode[];
  /** Node ids of the encoder taps, indexed like `options.taps`. */
  taps: string[];
  /** Node ids of the decoder maps (logits `[N, outChannels, D, H, W]`), like `options.taps`. */
  maps: string[];
  /** Node id of the fused probabilities (softmax) `[N, outChannels, D, H, W]`. */
  fused: string;
  /** Node id of the fused logits, before softmax. */
  fusedLogits: string;
  /** Every parameter, in a stable order. */
  parameters: ParameterSpec[];
  /** Spatial size `[D, H, W]` of each node's output. */
  sizes: Map<string, Triple>;
}

/** Parameters of each part, for summaries: `encoder`, `decoder1`..`decoder4`, `fusion`. */
export function partOf(parameterName: string): string {
  const decoder = /^decoders\.(\d)\./.exec(parameterName);
  if (decoder) return `decoder${decoder[1]}`;
  return parameterName.split('.')[0] ?? parameterName;
}

/** Channel mixes of the S3D Mixed blocks: cin; b0; b1a, b1; b2a, b2; b3 (DESIGN.md). */
const MIXED: Record<string, number[]> = {
  '3b': [192, 64, 96, 128, 16, 32, 32],
  '3c': [256, 128, 128, 192, 32, 96, 64],
  '4b': [480, 192, 96, 208, 16, 48, 64],
  '4c': [512, 160, 112, 224, 24, 64, 64],
  '4d': [512, 128, 128, 256, 24, 64, 64],
  '4e': [512, 112, 144, 288, 32, 64, 64],
  '4f': [528, 256, 160, 320, 32, 128, 128],
  '5b': [832, 256, 160, 320, 32, 128, 128],
  '5c': [832, 384, 192, 384, 48, 128, 128],
};

/** Decoder channels and block counts per tap (DESIGN.md). */
const DECODERS: Record<number, { channels: number[]; blocks: number[]; depth: number[] }> = {
  1: { channels: [64, 8, 3], blocks: [2, 2, 2], depth: [1, 1, 2] },
  2: { channels: [128, 64, 8, 3], blocks: [3, 2, 2, 2], depth: [1, 1, 2, 2] },
  3: { channels: [256, 128, 64, 8, 3], blocks: [3, 3, 2, 2, 2], depth: [1, 1, 2, 2, 2] },
  4: { channels: [256, 128, 64, 8, 3], blocks: [3, 3, 2, 2, 2], depth: [1, 1, 2, 2, 2] },
};

/** Patch sizes must be multiples of these along D, H, W so that every stride divides evenly. */
export const PATCH_MULTIPLE: Triple = [8, 32, 32];

function scaled(channels: number, width: number): number {
  return Math.max(1, Math.round(channels * width));
}

/**
 * Checks the options and returns a complete copy.
 *
 * @throws ShapeError when the patch cannot pass through the strides, or options are out of range.
 */
export function validateOptions(options: Partial<PankNetOptions> = {}): PankNetOptions {
  const full: PankNetOptions = { ...DEFAULT_PANKNET_OPTIONS, ...options };
  const [d, h, w] = full.patch;
  const bad = full.patch.some((size, axis) => size <= 0 || size % PATCH_MULTIPLE[axis]! !== 0);
  if (full.patch.length !== 3 || bad) {
    throw new ShapeError(
      `PankNet patch [D, H, W] = [${full.patch.join(', ')}] cannot pass the encoder strides: ` +
        `slices must be a multiple of ${PATCH_MULTIPLE[0]} and rows and columns a multiple of ` +
        `${PATCH_MULTIPLE[1]} (e.g. 48 x 128 x 128, 32 x 96 x 96, 16 x 64 x 64); ` +
        `got ${w} x ${h} x ${d} (x, y, slices).`,
    );
  }
  const taps = [...new Set(full.taps)].sort((a, b) => a - b);
  if (taps.length === 0 || taps.some((tap) => !(tap in DECODERS))) {
    throw new ShapeError(
      `PankNet taps must be a non-empty subset of 1, 2, 3, 4; got ${full.taps}.`,
    );
  }
  for (const key of ['inChannels', 'outChannels'] as const) {
    if (!Number.isInteger(full[key]) || full[key] < 1) {
      throw new ShapeError(`PankNet ${key} must be a positive integer; got ${full[key]}.`);
    }
  }
  for (const key of ['encoderWidth', 'decoderWidth'] as const) {
    if (!(full[key] > 0 && full[key] <= 4)) {
      throw new ShapeError(`PankNet ${key} must be in (0, 4]; got ${full[key]}.`);
    }
  }
  return { ...full, taps, patch: [d, h, w] };
}

/** Output size of a conv or pool along one axis (PyTorch floor rule). */
function outSize(size: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

/**
 * Builds the PankNet graph for the given options.
 *
 * @param options - Architecture options; missing fields take the paper's defaults.
 * @returns Nodes, outputs, parameters and the spatial size of every node.
 * @throws ShapeError for a patch the strides cannot divide or invalid options.
 */
export function buildPankNetGraph(options: Partial<PankNetOptions> = {}): PankNetGraph {
  const opts = validateOptions(options);
  const nodes: GraphNode[] = [];
  const parameters: ParameterSpec[] = [];
  const sizes = new Map<string, Triple>();
  const channelsOf = new Map<string, number>();
  let counter = 0;
  const fresh = (hint: string): string => `${hint}_${counter++}`;

  const add = (node: GraphNode, size: Triple, channels: number): string => {
    nodes.push(node);
    sizes.set(node.id, size);
    channelsOf.set(node.id, channels);
    return node.id;
  };
  const conv = (
    input: string,
    name: string,
    outChannels: number,
    kernel: Triple,
    stride: Triple,
    pad: Triple,
    extra: { groups?: number; bias?: boolean } = {},
  ): string => {
    const inChannels = channelsOf.get(input)!;
    const groups = extra.groups ?? 1;
    const bias = extra.bias ?? false;
    const size = sizes.get(input)!.map((s, a) => outSize(s, kernel[a]!, stride[a]!, pad[a]!));
    parameters.push({
      name: `${name}.weight`,
      shape: [outChannels, inChannels / groups, ...kernel],
    });
    if (bias) parameters.push({ name: `${name}.bias`, shape: [outChannels] });
    const node: GraphNode = {
      op: 'conv',
      id: fresh('conv'),
      input,
      name,
      inChannels,
      outChannels,
      kernel,
      stride,
      pad,
      groups,
      bias,
    };
    return add(node, size as Triple, outChannels);
  };
  const unary = (op: 'relu' | 'relu6' | 'softmax', input: string): string =>
    add({ op, id: fresh(op), input }, sizes.get(input)!, channelsOf.get(input)!);
  const batchnorm = (input: string, name: string, eps: number): string => {
    const channels = channelsOf.get(input)!;
    for (const field of ['weight', 'bias', 'running_mean', 'running_var']) {
      parameters.push({ name: `${name}.${field}`, shape: [channels] });
    }
    return add(
      { op: 'batchnorm', id: fresh('bn'), input, name, channels, eps },
      sizes.get(input)!,
      channels,
    );
  };
  const maxpool = (input: string, kernel: Triple, stride: Triple, pad: Triple): string => {
    const size = sizes.get(input)!.map((s, a) => outSize(s, kernel[a]!, stride[a]!, pad[a]!));
    const node: GraphNode = { op: 'maxpool', id: fresh('pool'), input, kernel, stride, pad };
    return add(node, size as Triple, channelsOf.get(input)!);
  };
  const concat = (inputs: string[]): string => {
    const channels = inputs.reduce((sum, id) => sum + channelsOf.get(id)!, 0);
    return add({ op: 'concat', id: fresh('concat'), inputs }, sizes.get(inputs[0]!)!, channels);
  };

  // S3D building blocks (encoder BN eps 1e-3, ReLU, no conv biases).
  const basic = (input: string, name: string, cout: number): string => {
    const c = conv(input, `${name}.conv`, cout, [1, 1, 1], [1, 1, 1], [0, 0, 0]);
    return unary('relu', batchnorm(c, `${name}.bn`, ENCODER_BN_EPS));
  };
  const sepConv = (input: string, name: string, cout: number, k: number, s: number, p: number) => {
    const cs = conv(input, `${name}.conv_s`, cout, [1, k, k], [1, s, s], [0, p, p]);
    const rs = unary('relu', batchnorm(cs, `${name}.bn_s`, ENCODER_BN_EPS));
    const ct = conv(rs, `${name}.conv_t`, cout, [k, 1, 1], [s, 1, 1], [p, 0, 0]);
    return unary('relu', batchnorm(ct, `${name}.bn_t`, ENCODER_BN_EPS));
  };
  const mixed = (input: string, name: string, mix: number[]): string => {
    const [, b0, b1a, b1, b2a, b2, b3] = mix.map((c) => scaled(c, opts.encoderWidth));
    const branch0 = basic(input, `${name}.branch0.0`, b0!);
    const branch1 = sepConv(
      basic(input, `${name}.branch1.0`, b1a!),
      `${name}.branch1.1`,
      b1!,
      3,
      1,
      1,
    );
    const branch2 = sepConv(
      basic(input, `${name}.branch2.0`, b2a!),
      `${name}.branch2.1`,
      b2!,
      3,
      1,
      1,
    );
    const pooled = maxpool(input, [3, 3, 3], [1, 1, 1], [1, 1, 1]);
    const branch3 = basic(pooled, `${name}.branch3.1`, b3!);
    return concat([branch0, branch1, branch2, branch3]);
  };

  // Encoder: the `base` Sequential of S3D, indexes as in the Kinetics-400 checkpoint.
  const e = (index: number): string => `encoder.base.${index}`;
  const width = (c: number): number => scaled(c, opts.encoderWidth);
  const input = add(
    { op: 'input', id: 'input', channels: opts.inChannels },
    opts.patch,
    opts.inChannels,
  );
  let x = sepConv(input, e(0), width(64), 7, 2, 3);
  x = maxpool(x, [1, 3, 3], [1, 2, 2], [0, 1, 1]);
  x = basic(x, e(2), width(64));
  x = sepConv(x, e(3), width(192), 3, 1, 1);
  const tap1 = maxpool(x, [1, 3, 3], [1, 2, 2], [0, 1, 1]);
  x = mixed(tap1, e(5), MIXED['3b']!);
  x = mixed(x, e(6), MIXED['3c']!);
  const tap2 = maxpool(x, [3, 3, 3], [2, 2, 2], [1, 1, 1]);
  x = tap2;
  ['4b', '4c', '4d', '4e', '4f'].forEach((block, i) => {
    x = mixed(x, e(8 + i), MIXED[block]!);
  });
  const tap3 = maxpool(x, [2, 2, 2], [2, 2, 2], [0, 0, 0]);
  x = mixed(tap3, e(14), MIXED['5b']!);
  const tap4 = mixed(x, e(15), MIXED['5c']!);
  const allTaps: Record<number, string> = { 1: tap1, 2: tap2, 3: tap3, 4: tap4 };

  // Decoders: blocks of full conv, depthwise-separable pairs, ReLU6, trilinear upsampling.
  const decoderWidth = (c: number, last: boolean): number =>
    last ? c : Math.max(3, scaled(c, opts.decoderWidth));
  const maps: string[] = [];
  for (const tap of opts.taps) {
    const spec = DECODERS[tap]!;
    let y = allTaps[tap]!;
    spec.channels.forEach((channels, b) => {
      const cout = decoderWidth(channels, b === spec.channels.length - 1);
      const name = `decoders.${tap}.blocks.${b}`;
      y = conv(y, `${name}.conv`, cout, [3, 3, 3], [1, 1, 1], [1, 1, 1]);
      y = unary('relu6', batchnorm(y, `${name}.bn`, DECODER_BN_EPS));
      for (let r = 1; r < spec.blocks[b]!; r++) {
        y = conv(y, `${name}.dw${r}`, cout, [3, 3, 3], [1, 1, 1], [1, 1, 1], { groups: cout });
        y = unary('relu6', batchnorm(y, `${name}.dw${r}_bn`, DECODER_BN_EPS));
        y = conv(y, `${name}.pw${r}`, cout, [1, 1, 1], [1, 1, 1], [0, 0, 0]);
        y = unary('relu6', batchnorm(y, `${name}.pw${r}_bn`, DECODER_BN_EPS));
      }
      // The extra depth factor applies only while the map has fewer slices than the patch.
      const [depth] = sizes.get(y)!;
      const factorD = spec.depth[b] === 2 && depth! < opts.patch[0] ? 2 : 1;
      const scale: Triple = [factorD, 2, 2];
      const [sd, sh, sw] = sizes.get(y)!;
      y = add(
        { op: 'upsample', id: fresh('up'), input: y, scale },
        [sd! * scale[0], sh! * 2, sw! * 2],
        channelsOf.get(y)!,
      );
    });
    y = conv(y, `decoders.${tap}.head`, opts.outChannels, [1, 1, 1], [1, 1, 1], [0, 0, 0], {
      bias: true,
    });
    const size = sizes.get(y)!;
    if (size.some((s, a) => s !== opts.patch[a])) {
      throw new ShapeError(
        `PankNet decoder ${tap} ends at [${size.join(', ')}], not the patch ` +
          `[${opts.patch.join(', ')}]; use a patch that is a multiple of ` +
          `[${PATCH_MULTIPLE.join(', ')}].`,
      );
    }
    maps.push(y);
  }

  // Fusion: concat(map4, map3, map2, map1) -> 1x1x1 conv with bias -> softmax.
  const stacked = concat([...maps].reverse());
  const fusedLogits = conv(stacked, 'fusion', opts.outChannels, [1, 1, 1], [1, 1, 1], [0, 0, 0], {
    bias: true,
  });
  const fused = unary('softmax', fusedLogits);
  return {
    options: opts,
    nodes,
    taps: opts.taps.map((tap) => allTaps[tap]!),
    maps,
    fused,
    fusedLogits,
    parameters,
    sizes,
  };
}

/** Number of scalars of a parameter list, by part (`encoder`, `decoder1`.., `fusion`). */
export function countParameters(parameters: ParameterSpec[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of parameters) {
    if (p.name.endsWith('running_mean') || p.name.endsWith('running_var')) continue;
    const n = p.shape.reduce((a, b) => a * b, 1);
    counts.set(partOf(p.name), (counts.get(partOf(p.name)) ?? 0) + n);
  }
  return counts;
}
