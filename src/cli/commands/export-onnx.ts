/**
 * `panknet export-onnx MODEL_DIR -o model.onnx`: writes a checkpoint as a standard ONNX model
 * that onnxruntime (or any ONNX runtime) runs, with the checkpoint's metadata inside.
 */

import type { Command } from 'commander';
import onnxProto from 'onnx-proto';

import { preprocessingOf, resolveModelDir } from '../../infer/load-model.js';
import { buildPankNetGraph } from '../../model/architecture.js';
import { loadCheckpoint, requireWholeCheckpoint } from '../../model/checkpoint.js';
import { DEFAULT_OPSET, exportOnnx } from '../../onnx/export-onnx.js';
import { readOnnxMetadata } from '../../onnx/read-onnx-metadata.js';
import { writeFileAtomic } from '../../util/write-atomic.js';
import { parseNonNegativeInteger } from '../parse-options.js';

const { onnx } = onnxProto;

/** Options of `panknet export-onnx`. */
interface ExportOnnxFlags {
  output: string;
  opset: number;
  dynamicBatch?: boolean;
}

/**
 * The inputs and outputs an encoded ONNX model declares, one line each: name and dimensions
 * (a symbolic dimension by its name).
 *
 * @param bytes - An encoded `ModelProto`.
 * @returns Lines such as `input  image [N, 1, 48, 128, 128]`.
 */
export function describeOnnxSignature(bytes: Uint8Array): string[] {
  const graph = onnx.ModelProto.decode(bytes).graph;
  const line = (kind: string, value: onnxProto.onnx.IValueInfoProto): string => {
    const dims = value.type?.tensorType?.shape?.dim ?? [];
    const shape = dims.map((d) => (d.dimParam ? d.dimParam : String(d.dimValue ?? '?')));
    return `${kind} ${value.name ?? '?'} [${shape.join(', ')}]`;
  };
  return [
    ...(graph?.input ?? []).map((value) => line('input ', value)),
    ...(graph?.output ?? []).map((value) => line('output', value)),
  ];
}

/**
 * Registers `panknet export-onnx <model-dir> -o <file> [--opset N] [--dynamic-batch]`.
 *
 * @param program - The `panknet` program.
 */
export function registerExportOnnx(program: Command): void {
  program
    .command('export-onnx')
    .description('export a trained checkpoint as an ONNX model for onnxruntime')
    .argument('<model-dir>', 'checkpoint folder (or a run folder: its best/ is used)')
    .requiredOption('-o, --output <file>', 'the .onnx file to write')
    .option(
      '--opset <n>',
      `ONNX opset, 13 to 21 (default ${DEFAULT_OPSET})`,
      parseNonNegativeInteger,
    )
    .option('--dynamic-batch', 'symbolic batch N in the input and outputs (default: batch 1)')
    .action(async (path: string, flags: ExportOnnxFlags) => {
      const modelDir = resolveModelDir(path);
      const { manifest, stateDict } = loadCheckpoint(modelDir);
      requireWholeCheckpoint(modelDir, manifest, 'ONNX export');

      const graph = buildPankNetGraph(manifest.architecture);
      const bytes = exportOnnx(graph, stateDict, {
        opset: flags.opset,
        dynamicBatch: flags.dynamicBatch === true,
        metadata: {
          targetSpacingMm: preprocessingOf(manifest).spacingMm,
          normalisation: manifest.normalisation,
          labels: Object.values(manifest.labels),
        },
      });
      // Read back what was built, so that the summary shows what a runtime will see.
      const signature = readOnnxMetadata(bytes, flags.output);
      await writeFileAtomic(flags.output, bytes, { createFolder: true, what: 'file' });

      const sizeMb = (bytes.length / 1024 / 1024).toFixed(1);
      const batch = signature.batch === null ? 'dynamic (N)' : String(signature.batch);
      const patch = signature.patch.join(' x ');
      process.stdout.write(
        [
          `Wrote ${flags.output}: ${sizeMb} MB (${bytes.length} bytes), ` +
            `opset ${signature.opset}, batch ${batch}, patch ${patch} (D x H x W).`,
          `From ${modelDir} (weights sha256 ${manifest.weightsSha256.slice(0, 12)}...).`,
          ...describeOnnxSignature(bytes),
          '',
        ].join('\n'),
      );
    });
}
