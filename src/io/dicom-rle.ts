/**
 * DICOM RLE Lossless (transfer syntax 1.2.840.10008.1.2.5) frame decoder, written from the
 * scheme in DICOM PS3.5 Annex G. No maintained npm package offers it on its own (the decoders
 * live inside whole viewers), and the scheme is a few lines of byte copying.
 */

/** Bytes of the RLE header: the segment count and 15 segment offsets, each a 32-bit LE int. */
const RLE_HEADER_BYTES = 64;

/**
 * Decodes one RLE Lossless frame into little-endian pixel bytes.
 *
 * Per PS3.5 G.2 the frame holds one segment per byte plane, the most significant byte first;
 * each segment is a PackBits-style run list (G.3.1): a header byte n in 0..127 copies the next
 * n + 1 bytes, n in -127..-1 repeats the next byte 1 - n times, and -128 does nothing.
 *
 * @param frame - The encapsulated frame (all fragments of the frame, concatenated).
 * @param pixelCount - Rows times Columns.
 * @param bytesPerSample - BitsAllocated / 8 (1, 2 or 4).
 * @returns `pixelCount * bytesPerSample` bytes, little-endian samples, row by row.
 * @throws Error (message only, the caller adds the file) when the frame is malformed.
 */
export function decodeRleFrame(
  frame: Uint8Array,
  pixelCount: number,
  bytesPerSample: number,
): Uint8Array {
  if (frame.length < RLE_HEADER_BYTES) {
    throw new Error(`RLE frame of ${frame.length} bytes is shorter than its 64-byte header`);
  }
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segmentCount = view.getUint32(0, true);
  if (segmentCount !== bytesPerSample) {
    throw new Error(
      `RLE frame has ${segmentCount} segments, expected ${bytesPerSample} ` +
        `(one per byte of a ${bytesPerSample * 8}-bit grey sample)`,
    );
  }

  const out = new Uint8Array(pixelCount * bytesPerSample);
  for (let s = 0; s < segmentCount; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segmentCount ? view.getUint32(8 + 4 * s, true) : frame.length;
    if (start < RLE_HEADER_BYTES || end > frame.length || end < start) {
      throw new Error(`RLE segment ${s + 1} has offsets ${start}..${end} outside the frame`);
    }
    // Segment 0 is the most significant byte; little-endian output puts it last.
    const byteIndex = bytesPerSample - 1 - s;
    decodeSegment(frame, start, end, out, byteIndex, bytesPerSample, pixelCount, s + 1);
  }
  return out;
}

/** Expands one PackBits segment into every `stride`-th byte of `out`, starting at `first`. */
function decodeSegment(
  frame: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  first: number,
  stride: number,
  pixelCount: number,
  segmentNumber: number,
): void {
  let pos = start;
  let written = 0;
  while (pos < end && written < pixelCount) {
    const header = frame[pos++];
    const n = header > 127 ? header - 256 : header;
    if (n >= 0) {
      const count = n + 1;
      if (pos + count > end || written + count > pixelCount) {
        throw new Error(`RLE segment ${segmentNumber} has a literal run past its end`);
      }
      for (let i = 0; i < count; i++) out[first + stride * written++] = frame[pos++];
    } else if (n !== -128) {
      const count = 1 - n;
      if (pos >= end || written + count > pixelCount) {
        throw new Error(`RLE segment ${segmentNumber} has a repeat run past its end`);
      }
      const value = frame[pos++];
      for (let i = 0; i < count; i++) out[first + stride * written++] = value;
    }
  }
  if (written < pixelCount) {
    throw new Error(
      `RLE segment ${segmentNumber} decodes to ${written} bytes, expected ${pixelCount}`,
    );
  }
}
