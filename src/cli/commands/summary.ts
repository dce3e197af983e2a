import { Option, type Command } from 'commander';

import {
  buildPankNetGraph,
  countParameters,
  type PankNetOptions,
  type Triple,
} from '../../model/architecture.js';
import { loadCheckpoint } from '../../model/checkpoint.js';
import { parsePatch, parsePositiveNumber } from '../parse-options.js';

/**
 * Registers `panknet summary [--model DIR] [--width W] [--patch X,Y,Z]`: parameters per part
 * and tap and map shapes, without TensorFlow.js.
 */
export function registerSummary(program: Command): void {
  program
    .command('summary')
    .description('print PankNet parameter counts per part and tap/map shapes')
    .option('--model <dir>', 'checkpoint folder whose architecture to describe')
    .option('--width <w>', 'encoder and decoder channel multiplier', parsePositiveNumber, 1)
    .addOption(
      new Option('--patch <x,y,z>', 'patch size in voxels: columns, rows, slices')
        .argParser(parsePatch)
        .default([48, 128, 128] as Triple, '128,128,48'),
    )
    .action((opts: { model?: string; width: number; patch: Triple }) => {
      const options: Partial<PankNetOptions> = opts.model
        ? loadCheckpoint(opts.model).manifest.architecture
        : { encoderWidth: opts.width, decoderWidth: opts.width, patch: opts.patch };
      const graph = buildPankNetGraph(options);
      const counts = countParameters(graph.parameters);
      let total = 0;
      const lines = ['part        parameters'];
      for (const [part, count] of counts) {
        total += count;
        lines.push(`${part.padEnd(12)}${count.toLocaleString('en-US').padStart(12)}`);
      }
      lines.push(`${'total'.padEnd(12)}${total.toLocaleString('en-US').padStart(12)}`, '');
      const channels = new Map<string, number>();
      for (const node of graph.nodes) {
        if (node.op === 'conv') channels.set(node.id, node.outChannels);
      }
      const shapeOf = (id: string, c: number | string): string =>
        `[N, ${c}, ${graph.sizes.get(id)!.join(', ')}]`;
      graph.options.taps.forEach((tap, i) => {
        const tapId = graph.taps[i]!;
        const tapChannels = tapChannelCount(graph, tapId);
        lines.push(
          `tap ${tap}: ${shapeOf(tapId, tapChannels)} -> map ${tap}: ` +
            shapeOf(graph.maps[i]!, graph.options.outChannels),
        );
      });
      lines.push(`fused: ${shapeOf(graph.fused, graph.options.outChannels)}`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}

function tapChannelCount(graph: ReturnType<typeof buildPankNetGraph>, id: string): number {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const count = (nodeId: string): number => {
    const node = byId.get(nodeId)!;
    if (node.op === 'conv') return node.outChannels;
    if (node.op === 'input') return node.channels;
    if (node.op === 'concat') return node.inputs.reduce((sum, i) => sum + count(i), 0);
    return count(node.input);
  };
  return count(id);
}
