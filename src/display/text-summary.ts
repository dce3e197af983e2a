/**
 * Plain-text summaries of the display payloads: the `text/plain` part of a MIME bundle, read by
 * consoles, screen readers and front ends without our renderers.
 */
import type {
  DecodersPayload,
  DisplayPayload,
  TrainingPayload,
  VolumePayload,
} from './payload-types.js';
import { fromBase64 } from './volume-payload.js';

function fixed(values: readonly number[], digits: number): string {
  return values.map((v) => v.toFixed(digits)).join(' x ');
}

function gridLine(payload: VolumePayload | DecodersPayload): string {
  const { grid } = payload;
  let line =
    `${grid.shape.join(' x ')} voxels, ${fixed(grid.spacingMm, 2)} mm, ` +
    `orientation ${grid.axisCodes.join('')}`;
  if (grid.downsample.some((f) => f > 1)) {
    line += ` (downsampled by ${grid.downsample.join(' x ')} from ${grid.sourceShape.join(' x ')})`;
  }
  return line;
}

function volumeText(payload: VolumePayload): string {
  const lines = [payload.title, gridLine(payload)];
  const unit = payload.unit ? ` ${payload.unit}` : '';
  lines.push(
    `values ${payload.valueRange[0]}..${payload.valueRange[1]}${unit}; ` +
      `window ${payload.window.name} W${+payload.window.width.toFixed(1)}` +
      `/L${+payload.window.level.toFixed(1)}`,
  );
  if (payload.mask !== undefined) {
    lines.push(
      `mask: ${payload.mask.sourceVoxelCount} voxels, ${payload.mask.volumeMl.toFixed(1)} mL, ` +
        `labels ${payload.mask.labels.join(', ') || 'none'}`,
    );
  }
  if (payload.sourceFile !== undefined) lines.push(`file: ${payload.sourceFile}`);
  return lines.join('\n');
}

function decodersText(payload: DecodersPayload): string {
  const lines = [payload.title, gridLine(payload)];
  payload.maps.forEach((map, index) => {
    const bytes = fromBase64(map);
    let above = 0;
    let max = 0;
    for (const b of bytes) {
      if (b >= 128) above++;
      if (b > max) max = b;
    }
    lines.push(
      `${payload.names[index]}: ${above} voxels with p >= 0.5, max p ${(max / 255).toFixed(2)}`,
    );
  });
  return lines.join('\n');
}

function trainingText(payload: TrainingPayload): string {
  const n = payload.epoch.length;
  if (n === 0) return `${payload.title}: no epochs yet`;
  const last = n - 1;
  const show = (v: number | null, digits = 4): string => (v === null ? 'n/a' : v.toFixed(digits));
  const dice = (['map1', 'map2', 'map3', 'map4', 'fused'] as const)
    .map((name) => `${name} ${show(payload.dice[name][last])}`)
    .join(', ');
  const validated = payload.valDice.filter((v): v is number => v !== null);
  const lines = [
    `${payload.title}: ${n} epochs, last epoch ${payload.epoch[last]}`,
    `loss ${show(payload.loss[last])}, lr ${payload.lr[last] ?? 'n/a'}`,
    `Dice ${dice}`,
  ];
  if (validated.length > 0) {
    lines.push(
      `validation Dice: last ${validated[validated.length - 1].toFixed(4)}, ` +
        `best ${Math.max(...validated).toFixed(4)}`,
    );
  }
  return lines.join('\n');
}

/**
 * Plain-text summary of a payload (a few lines; file metadata appears as given).
 *
 * @param payload - Any PankNet display payload.
 * @returns Lines joined by `\n`.
 */
export function textSummary(payload: DisplayPayload): string {
  if (payload.kind === 'panknet.volume') return volumeText(payload);
  if (payload.kind === 'panknet.decoders') return decodersText(payload);
  return trainingText(payload);
}
