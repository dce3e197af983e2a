/**
 * MIME bundles of the display payloads, as a notebook kernel sends them: the rich payload for
 * PankNet's renderers, a PNG fallback and a plain-text summary.
 */
import { DECODERS_MIME, TRAINING_MIME, VOLUME_MIME } from './mime-types.js';
import type {
  DecodersPayload,
  DisplayPayload,
  TrainingPayload,
  VolumePayload,
} from './payload-types.js';
import { decodersPng, trainingPng, volumePng } from './png-fallback.js';
import { textSummary } from './text-summary.js';

/** A bundle `{ [mime]: payload, 'image/png': base64, 'text/plain': string }`. */
export type MimeBundle =
  | { [VOLUME_MIME]: VolumePayload; 'image/png': string; 'text/plain': string }
  | { [DECODERS_MIME]: DecodersPayload; 'image/png': string; 'text/plain': string }
  | { [TRAINING_MIME]: TrainingPayload; 'image/png': string; 'text/plain': string };

/**
 * MIME type of a payload.
 *
 * @returns `application/vnd.panknet.<view>+json` for the payload's kind.
 */
export function mimeTypeOf(payload: DisplayPayload): string {
  if (payload.kind === 'panknet.volume') return VOLUME_MIME;
  if (payload.kind === 'panknet.decoders') return DECODERS_MIME;
  return TRAINING_MIME;
}

/**
 * Builds the MIME bundle of a payload.
 *
 * @param payload - From `buildVolumePayload`, `buildDecodersPayload` or `buildTrainingPayload`.
 * @returns The payload under its MIME type, the PNG fallback (base64) and the text summary.
 */
export function mimeBundle(payload: DisplayPayload): MimeBundle {
  const text = textSummary(payload);
  if (payload.kind === 'panknet.volume') {
    const png = volumePng(payload).toString('base64');
    return { [VOLUME_MIME]: payload, 'image/png': png, 'text/plain': text };
  }
  if (payload.kind === 'panknet.decoders') {
    const png = decodersPng(payload).toString('base64');
    return { [DECODERS_MIME]: payload, 'image/png': png, 'text/plain': text };
  }
  const png = trainingPng(payload).toString('base64');
  return { [TRAINING_MIME]: payload, 'image/png': png, 'text/plain': text };
}
