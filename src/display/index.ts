/**
 * Display module: MIME types, payload types and builders, PNG and text fallbacks.
 */
export * from './colors.js';
export * from './decoders-payload.js';
export * from './downsample.js';
export * from './mime-bundle.js';
export * from './mime-types.js';
export * from './payload-types.js';
export * from './planes.js';
export * from './png-fallback.js';
export * from './text-summary.js';
export * from './training-payload.js';
export * from './volume-payload.js';
export * from './window.js';
