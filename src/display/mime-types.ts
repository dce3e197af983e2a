/**
 * The MIME types of PankNet's rich notebook outputs, declared once. The kernel, the VS Code
 * extension manifest (`extension/package.json`) and the renderers all use these strings.
 */

/** Slice viewer payload: one volume, optional mask (`VolumePayload`). */
export const VOLUME_MIME = 'application/vnd.panknet.volume+json';

/** Decoder grid payload: the four decoder maps and the fused map (`DecodersPayload`). */
export const DECODERS_MIME = 'application/vnd.panknet.decoders+json';

/** Training curves payload: loss, Dice per map, learning rate (`TrainingPayload`). */
export const TRAINING_MIME = 'application/vnd.panknet.training+json';

/** Every PankNet MIME type, in the order the extension lists its renderers. */
export const PANKNET_MIMES = [VOLUME_MIME, DECODERS_MIME, TRAINING_MIME] as const;

/** One of the PankNet MIME types. */
export type PankNetMime = (typeof PANKNET_MIMES)[number];
