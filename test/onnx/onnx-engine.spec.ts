import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import onnxProto from 'onnx-proto';

import { buildPankNetGraph } from '../../src/model/architecture.js';
import type { StateDict } from '../../src/model/state-dict.js';
import { ensureOnnxModel } from '../../src/onnx/ensure-onnx-model.js';
import type { OnnxCheckpoint } from '../../src/onnx/ensure-onnx-model.js';
import { exportOnnx } from '../../src/onnx/export-onnx.js';
import type { OnnxModelInfo } from '../../src/onnx/export-onnx.js';
import { createOnnxEngine } from '../../src/onnx/onnx-engine.js';
import {
  BackendError,
  InputFileError,
  UnsupportedError,
  WeightsError,
} from '../../src/util/errors.js';
import { maxAbsDiff, runTorchReference, seededInput, seededStateDict } from './torch-reference.js';

const { onnx } = onnxProto;

// A narrow network on a small patch: every op of the full one, fast on 2 cores.
const OPTIONS = {
  encoderWidth: 0.125,
  decoderWidth: 0.125,
  patch: [16, 64, 64] as [number, number, number],
};
const INFO: OnnxModelInfo = {
  targetSpacingMm: [1, 1, 1],
  normalisation: { kind: 'zscore-then-minmax' },
  labels: ['background', 'pancreas'],
};

function spread(values: Float32Array): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return hi - lo;
}

describe('onnx export and onnxruntime engine', () => {
  const graph = buildPankNetGraph(OPTIONS);
  const stateDict = seededStateDict(graph, 11);
  const input = seededInput(graph, 2, 5);
  let work: string;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'panknet-onnx-'));
  });
  after(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('matches PyTorch (conv3d, batch_norm, interpolate) on fused and map1..4 to 1e-4', async () => {
    const bytes = exportOnnx(graph, stateDict, { dynamicBatch: true, metadata: INFO });
    const engine = await createOnnxEngine(bytes, { threads: 2 });
    const out = await engine.run(input, 2, { decoderMaps: true });
    await engine.dispose();
    const ref = runTorchReference(graph, stateDict, input, 2);

    assert.equal(out.fused.length, 2 * 2 * 16 * 64 * 64);
    assert.equal(out.maps?.length, 4);
    assert.ok(maxAbsDiff(out.fused, ref.fused) < 1e-4, `fused ${maxAbsDiff(out.fused, ref.fused)}`);
    out.maps!.forEach((map, i) => {
      const diff = maxAbsDiff(map, ref.maps[i]!);
      assert.ok(diff < 1e-4, `map${i + 1} differs by ${diff}`);
    });
    // The comparison means something only if the outputs vary over the patch.
    assert.ok(spread(ref.fused) > 0.5, `fused spread ${spread(ref.fused)}`);
    const spreads = ref.maps.map(spread);
    assert.ok(
      spreads.every((s) => s > 0.05),
      `map spreads ${spreads.join(', ')}`,
    );
    // Softmax over the 2 channels sums to 1 at a voxel.
    const voxels = 16 * 64 * 64;
    assert.ok(Math.abs(out.fused[123]! + out.fused[voxels + 123]! - 1) < 1e-6);
  });

  it('folds BatchNorm exactly: folded and BatchNormalization exports agree to 1e-5', async () => {
    const folded = exportOnnx(graph, stateDict, { dynamicBatch: true, metadata: INFO });
    const plain = exportOnnx(graph, stateDict, {
      dynamicBatch: true,
      metadata: INFO,
      foldBatchNorm: false,
    });
    const count = (bytes: Uint8Array, op: string): number =>
      onnx.ModelProto.decode(bytes).graph!.node!.filter((n) => n.opType === op).length;
    const bnCount = graph.nodes.filter((n) => n.op === 'batchnorm').length;
    assert.equal(count(folded, 'BatchNormalization'), 0);
    assert.equal(count(plain, 'BatchNormalization'), bnCount);
    assert.equal(count(folded, 'Conv'), count(plain, 'Conv'));

    const a = await createOnnxEngine(folded, { threads: 2 });
    const b = await createOnnxEngine(plain, { threads: 2 });
    const one = input.subarray(0, input.length / 2);
    const outA = await a.run(one, 1, { decoderMaps: true });
    const outB = await b.run(one, 1, { decoderMaps: true });
    await a.dispose();
    await b.dispose();
    assert.ok(maxAbsDiff(outA.fused, outB.fused) < 1e-5);
    outA.maps!.forEach((map, i) => assert.ok(maxAbsDiff(map, outB.maps![i]!) < 1e-5));
  });

  it('writes a standard ModelProto: opset, input image [N,1,16,64,64], outputs, metadata', () => {
    const bytes = exportOnnx(graph, stateDict, { opset: 13, metadata: INFO });
    const model = onnx.ModelProto.decode(bytes);
    assert.equal(Number(model.opsetImport[0]!.version), 13);
    const input = model.graph!.input![0]!;
    assert.equal(input.name, 'image');
    const dims = input.type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue));
    assert.deepEqual(dims, [1, 1, 16, 64, 64]);
    assert.deepEqual(
      model.graph!.output!.map((o) => o.name),
      ['fused', 'map1', 'map2', 'map3', 'map4'],
    );
    const props = new Map(model.metadataProps.map((p) => [p.key, p.value]));
    assert.deepEqual(JSON.parse(props.get('panknet.patch')!), [16, 64, 64]);
    assert.deepEqual(JSON.parse(props.get('panknet.labels')!), ['background', 'pancreas']);
    assert.equal(JSON.parse(props.get('panknet.architecture')!).encoderWidth, 0.125);
    assert.match(JSON.parse(props.get('panknet.weights_sha256')!), /^[0-9a-f]{64}$/);
    const resize = model.graph!.node!.find((n) => n.opType === 'Resize')!;
    const mode = resize.attribute!.find((x) => x.name === 'coordinate_transformation_mode')!;
    assert.equal(new TextDecoder().decode(mode.s!), 'align_corners');
  });

  it('runs a fixed-batch export one window per call (maxBatch 1), same result', async () => {
    const engine = await createOnnxEngine(exportOnnx(graph, stateDict, { metadata: INFO }));
    assert.equal(engine.maxBatch, 1);
    assert.match(engine.name, /onnxruntime \(cpu, \d+ threads\)/);
    const out = await engine.run(input, 2);
    await engine.dispose();
    assert.equal(out.maps, undefined);
    const ref = runTorchReference(graph, stateDict, input, 2);
    assert.ok(maxAbsDiff(out.fused, ref.fused) < 1e-4);
    await assert.rejects(engine.run(input, 2), BackendError);
  });

  it('rejects a bad opset and weights that do not fit the graph', () => {
    const opset11 = (): Uint8Array => exportOnnx(graph, stateDict, { opset: 11, metadata: INFO });
    assert.throws(opset11, UnsupportedError);
    const broken: StateDict = new Map(stateDict);
    broken.delete('decoders.2.head.weight');
    assert.throws(() => exportOnnx(graph, broken, { metadata: INFO }), WeightsError);
  });

  it('names the file when the .onnx is truncated, foreign, mismatched or missing', async () => {
    const good = exportOnnx(graph, stateDict, { metadata: INFO });
    const truncated = join(work, 'truncated.onnx');
    writeFileSync(truncated, good.subarray(0, 5000));
    await assert.rejects(createOnnxEngine(truncated), (error: unknown) => {
      assert.ok(error instanceof InputFileError);
      assert.equal(error.file, truncated);
      assert.match(error.message, /truncated\.onnx: .*panknet export-onnx/);
      return true;
    });

    // A valid ONNX model that is not a PankNet export: no metadata.
    const foreign = onnx.ModelProto.decode(good);
    foreign.metadataProps = [];
    const foreignPath = join(work, 'foreign.onnx');
    writeFileSync(foreignPath, onnx.ModelProto.encode(foreign).finish());
    const noMetadata = /foreign\.onnx: .*without PankNet metadata/;
    await assert.rejects(createOnnxEngine(foreignPath), noMetadata);

    // Metadata that claims another patch than the graph's input.
    const other = onnx.ModelProto.decode(good);
    for (const p of other.metadataProps) {
      if (p.key === 'panknet.architecture') {
        p.value = JSON.stringify({ ...JSON.parse(p.value!), patch: [32, 64, 64] });
      }
      if (p.key === 'panknet.patch') p.value = '[32,64,64]';
    }
    const otherPath = join(work, 'mismatch.onnx');
    writeFileSync(otherPath, onnx.ModelProto.encode(other).finish());
    await assert.rejects(
      createOnnxEngine(otherPath),
      /mismatch\.onnx: model input is image \[1, 1, 16, 64, 64\]; expected .*\[N, 1, 32, 64, 64\]/,
    );

    await assert.rejects(createOnnxEngine(join(work, 'none.onnx')), InputFileError);
  });

  it('ensureOnnxModel exports once, reuses the file, re-exports when weights change', async () => {
    const dir = join(work, 'model');
    let weights = stateDict;
    let loads = 0;
    const load = async (): Promise<OnnxCheckpoint> => {
      loads++;
      return { architecture: OPTIONS, stateDict: weights, info: INFO };
    };
    const first = await ensureOnnxModel(dir, load);
    assert.equal(first.exported, true);
    const firstTime = statSync(first.path).mtimeMs;
    const second = await ensureOnnxModel(dir, load);
    assert.equal(second.exported, false);
    assert.equal(statSync(second.path).mtimeMs, firstTime);

    weights = new Map(stateDict);
    const head = stateDict.get('fusion.bias')!;
    weights.set('fusion.bias', { shape: head.shape, data: head.data.map((v) => v + 1) });
    const third = await ensureOnnxModel(dir, load);
    assert.equal(third.exported, true);
    assert.notEqual(third.weightsSha256, first.weightsSha256);
    const model = onnx.ModelProto.decode(readFileSync(third.path));
    const sha = model.metadataProps.find((p) => p.key === 'panknet.weights_sha256')!.value!;
    assert.equal(JSON.parse(sha), third.weightsSha256);

    // A damaged cache is replaced rather than trusted.
    writeFileSync(third.path, 'not onnx');
    assert.equal((await ensureOnnxModel(dir, load)).exported, true);
    assert.equal(loads, 4);
  });
});
