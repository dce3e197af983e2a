/**
 * Pixel data of one DICOM frame, from any supported transfer syntax to little-endian sample
 * bytes. Compressed syntaxes go to maintained codecs, loaded on first use so that reading
 * native files (and `info`) never pays for WebAssembly start-up:
 * baseline JPEG: @cornerstonejs/codec-libjpeg-turbo-8bit; JPEG lossless: jpeg-lossless-decoder-js;
 * JPEG-LS: @cornerstonejs/codec-charls; JPEG 2000: @cornerstonejs/codec-openjpeg;
 * RLE Lossless: ours (`dicom-rle.ts`).
 */

import { createRequire } from 'node:module';

import { decodeRleFrame } from './dicom-rle.js';

/** How a transfer syntax stores its pixels. */
export type PixelEncoding = 'native' | 'jpeg8' | 'jpeg-lossless' | 'jpeg-ls' | 'j2k' | 'rle';

/** A transfer syntax this reader knows by name. */
export interface TransferSyntaxInfo {
  /** Readable name, e.g. `JPEG 2000 lossless`. */
  name: string;
  /** How pixels are stored, or `null` when this reader cannot decode them. */
  encoding: PixelEncoding | null;
}

const TRANSFER_SYNTAXES: Record<string, TransferSyntaxInfo> = {
  '1.2.840.10008.1.2': { name: 'implicit VR little endian', encoding: 'native' },
  '1.2.840.10008.1.2.1': { name: 'explicit VR little endian', encoding: 'native' },
  '1.2.840.10008.1.2.1.99': { name: 'deflated explicit VR little endian', encoding: 'native' },
  '1.2.840.10008.1.2.2': { name: 'explicit VR big endian', encoding: null },
  '1.2.840.10008.1.2.4.50': { name: 'JPEG baseline (process 1)', encoding: 'jpeg8' },
  '1.2.840.10008.1.2.4.51': { name: 'JPEG extended (process 2 and 4)', encoding: 'jpeg8' },
  '1.2.840.10008.1.2.4.57': { name: 'JPEG lossless (process 14)', encoding: 'jpeg-lossless' },
  '1.2.840.10008.1.2.4.70': { name: 'JPEG lossless (process 14, SV1)', encoding: 'jpeg-lossless' },
  '1.2.840.10008.1.2.4.80': { name: 'JPEG-LS lossless', encoding: 'jpeg-ls' },
  '1.2.840.10008.1.2.4.81': { name: 'JPEG-LS near-lossless', encoding: 'jpeg-ls' },
  '1.2.840.10008.1.2.4.90': { name: 'JPEG 2000 lossless', encoding: 'j2k' },
  '1.2.840.10008.1.2.4.91': { name: 'JPEG 2000', encoding: 'j2k' },
  '1.2.840.10008.1.2.5': { name: 'RLE lossless', encoding: 'rle' },
};

/**
 * Looks up a transfer syntax UID.
 *
 * @param uid - TransferSyntaxUID (0002,0010).
 * @returns Its name and encoding; unknown UIDs get the UID as name and a `null` encoding.
 */
export function transferSyntaxInfo(uid: string): TransferSyntaxInfo {
  return TRANSFER_SYNTAXES[uid] ?? { name: `transfer syntax ${uid}`, encoding: null };
}

/** What a decoder needs to know about the frame. */
export interface FrameLayout {
  /** Rows (0028,0010). */
  rows: number;
  /** Columns (0028,0011). */
  columns: number;
  /** BitsAllocated (0028,0100): 8, 16 or 32. */
  bitsAllocated: number;
  /** BitsStored (0028,0101). */
  bitsStored: number;
}

interface WasmFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
}

interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): WasmFrameInfo;
  delete(): void;
}

type WasmDecoderClass = new () => WasmDecoder;

interface LosslessDecoder {
  decode(buffer: ArrayBuffer, offset: number, length: number, numBytes: number): ArrayBufferView;
}

type LosslessDecoderClass = new () => LosslessDecoder;

const require = createRequire(import.meta.url);
const wasmClasses = new Map<string, Promise<WasmDecoderClass>>();

/** Loads an Emscripten codec module once and returns its decoder class. */
function wasmDecoderClass(moduleId: string, className: string): Promise<WasmDecoderClass> {
  let loaded = wasmClasses.get(moduleId);
  if (loaded === undefined) {
    loaded = (async (): Promise<WasmDecoderClass> => {
      const factory: unknown = require(moduleId);
      if (typeof factory !== 'function') throw new Error(`${moduleId} exports no module factory`);
      // Emscripten prints codec chatter (OpenJPEG's [INFO] lines) unless given sinks.
      const silent = { print: (): void => undefined, printErr: (): void => undefined };
      const module: unknown = await (factory as (arg: object) => Promise<unknown>)(silent);
      const cls = (module as Record<string, unknown>)[className];
      if (typeof cls !== 'function') throw new Error(`${moduleId} has no ${className}`);
      return cls as WasmDecoderClass;
    })();
    wasmClasses.set(moduleId, loaded);
  }
  return loaded;
}

/** Runs one of the cornerstone WebAssembly decoders; returns a copy of its output. */
async function decodeWithWasm(
  moduleId: string,
  className: string,
  encoded: Uint8Array,
  layout: FrameLayout,
): Promise<Uint8Array> {
  const Decoder = await wasmDecoderClass(moduleId, className);
  const decoder = new Decoder();
  try {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.decode();
    const info = decoder.getFrameInfo();
    if (info.width !== layout.columns || info.height !== layout.rows) {
      throw new Error(
        `the compressed image is ${info.width}x${info.height}, ` +
          `the header says ${layout.columns}x${layout.rows}`,
      );
    }
    if (info.componentCount !== 1) {
      throw new Error(`the compressed image has ${info.componentCount} components, expected 1`);
    }
    return decoder.getDecodedBuffer().slice();
  } finally {
    decoder.delete();
  }
}

function decodeJpegLossless(encoded: Uint8Array, bytesPerSample: number): Uint8Array {
  const exported: unknown = require('jpeg-lossless-decoder-js');
  const Decoder = (exported as Record<string, unknown>).Decoder;
  if (typeof Decoder !== 'function') throw new Error('jpeg-lossless-decoder-js has no Decoder');
  const decoder = new (Decoder as LosslessDecoderClass)();
  // A copy that owns its buffer from byte 0 (a Node Buffer's slice() would share the pool).
  const copy = new Uint8Array(encoded);
  const out = decoder.decode(copy.buffer, 0, copy.length, bytesPerSample);
  // The decoder returns samples in the machine's byte order; every supported host is LE.
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Decodes one compressed frame to little-endian samples of BitsAllocated bits.
 *
 * @param encoding - The transfer syntax's encoding (not `native`).
 * @param encoded - The frame's bytes (its fragments concatenated).
 * @param layout - Rows, Columns and bit depth from the header.
 * @returns `rows * columns * bitsAllocated / 8` bytes, row by row.
 * @throws Error (message only; the caller names the file) when the codec fails or the decoded
 *   frame does not match the header.
 */
export async function decodeCompressedFrame(
  encoding: Exclude<PixelEncoding, 'native'>,
  encoded: Uint8Array,
  layout: FrameLayout,
): Promise<Uint8Array> {
  const bytesPerSample = layout.bitsAllocated / 8;
  const pixelCount = layout.rows * layout.columns;
  let decoded: Uint8Array;
  switch (encoding) {
    case 'rle':
      return decodeRleFrame(encoded, pixelCount, bytesPerSample);
    case 'jpeg-lossless':
      decoded = decodeJpegLossless(encoded, bytesPerSample);
      break;
    case 'jpeg8':
      if (layout.bitsStored > 8) {
        throw new Error(`${layout.bitsStored}-bit lossy JPEG needs a 12-bit decoder`);
      }
      decoded = await decodeWithWasm(
        '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs',
        'JPEGDecoder',
        encoded,
        layout,
      );
      break;
    case 'jpeg-ls':
      decoded = await decodeWithWasm(
        '@cornerstonejs/codec-charls/decodewasmjs',
        'JpegLSDecoder',
        encoded,
        layout,
      );
      break;
    case 'j2k':
      decoded = await decodeWithWasm(
        '@cornerstonejs/codec-openjpeg/decodewasmjs',
        'J2KDecoder',
        encoded,
        layout,
      );
      break;
  }
  return fitToContainer(decoded, pixelCount, bytesPerSample);
}

/** Widens 8-bit codec output to a 16-bit container, or checks that the size is right. */
function fitToContainer(decoded: Uint8Array, pixelCount: number, bytes: number): Uint8Array {
  if (decoded.length === pixelCount * bytes) return decoded;
  if (decoded.length === pixelCount && bytes === 2) {
    const widened = new Uint8Array(pixelCount * 2);
    for (let p = 0; p < pixelCount; p++) widened[2 * p] = decoded[p];
    return widened;
  }
  throw new Error(
    `the codec returned ${decoded.length} bytes, expected ${pixelCount * bytes} ` +
      `(${pixelCount} pixels of ${bytes} bytes)`,
  );
}
