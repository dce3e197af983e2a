/**
 * PyTorch tensor data as typed arrays: the element types of PyTorch storages and the copy of a
 * (possibly strided, offset) tensor view out of its storage bytes. Pure functions, no
 * TensorFlow.js.
 */

/** Element types of PyTorch storages that the checkpoint reader understands. */
export type TorchDType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

/**
 * Typed array holding a tensor's values: Float32Array for float32, float16 and bfloat16 (both
 * widened exactly), Float64Array for float64, BigInt64Array for int64, Int32Array, Int16Array,
 * Int8Array, and Uint8Array for uint8 and bool (0 or 1).
 */
export type TorchData =
  Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** One tensor of a checkpoint, contiguous in row-major (C) order. */
export interface TorchTensor {
  /** Sizes in PyTorch order, e.g. `[Cout, Cin, kD, kH, kW]` for a Conv3d weight; `[]` a scalar. */
  shape: number[];
  /** Element type of the stored values (`data` may be wider, see {@link TorchData}). */
  dtype: TorchDType;
  /** `shape.reduce(*)` values, last axis fastest. */
  data: TorchData;
}

/** Storage class names of `torch.save` (`torch.FloatStorage`...) and their element types. */
export const STORAGE_DTYPES: Record<string, TorchDType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** Bytes per element of each storage type. */
export const DTYPE_BYTES: Record<TorchDType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** IEEE 754 half precision bits to a number (exact). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * Decodes little-endian storage bytes into a typed array of the reader's element type.
 *
 * @param bytes - `numel * DTYPE_BYTES[dtype]` bytes, little-endian, any alignment.
 * @param dtype - Element type of the storage.
 * @returns A new typed array of `bytes.length / DTYPE_BYTES[dtype]` values.
 */
export function decodeStorage(bytes: Uint8Array, dtype: TorchDType): TorchData {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Math.floor(bytes.length / DTYPE_BYTES[dtype]);
  switch (dtype) {
    case 'float32':
      return new Float32Array(alignedCopy(bytes, n * 4));
    case 'float64':
      return new Float64Array(alignedCopy(bytes, n * 8));
    case 'int64':
      return new BigInt64Array(alignedCopy(bytes, n * 8));
    case 'int32':
      return new Int32Array(alignedCopy(bytes, n * 4));
    case 'int16':
      return new Int16Array(alignedCopy(bytes, n * 2));
    case 'int8':
      return new Int8Array(alignedCopy(bytes, n));
    case 'uint8':
    case 'bool':
      return new Uint8Array(alignedCopy(bytes, n));
    case 'float16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    }
    case 'bfloat16': {
      const out = new Float32Array(n);
      const widened = new DataView(out.buffer);
      for (let i = 0; i < n; i++) widened.setUint32(4 * i, view.getUint16(2 * i, true) << 16, true);
      return out;
    }
  }
}

// Typed arrays need aligned offsets and the machine's byte order; Node runs little-endian only.
function alignedCopy(bytes: Uint8Array, length: number): ArrayBuffer {
  const out = new Uint8Array(length);
  out.set(bytes.subarray(0, length));
  return out.buffer;
}

/**
 * Copies a tensor view (`torch.as_strided(storage, size, stride, offset)`) into a contiguous
 * row-major array.
 *
 * @param storage - All values of the storage, in elements.
 * @param offset - Storage offset of the view's first element, in elements.
 * @param shape - View sizes.
 * @param strides - View strides, in elements (0 for broadcast axes).
 * @returns A new array of the same type with `shape.reduce(*)` values.
 */
export function gatherStrided(
  storage: TorchData,
  offset: number,
  shape: number[],
  strides: number[],
): TorchData {
  const count = shape.reduce((a, b) => a * b, 1);
  let contiguous = true;
  for (let axis = shape.length - 1, expected = 1; axis >= 0; axis--) {
    if (shape[axis]! !== 1 && strides[axis] !== expected) contiguous = false;
    expected *= shape[axis]!;
  }
  if (contiguous) return storage.slice(offset, offset + count);

  const out = new (storage.constructor as new (n: number) => TorchData)(count);
  const index = new Array<number>(shape.length).fill(0);
  let source = offset;
  for (let i = 0; i < count; i++) {
    out[i] = storage[source]!;
    // Odometer over the axes, last fastest, moving the source by each axis's stride.
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      index[axis]!++;
      source += strides[axis]!;
      if (index[axis]! < shape[axis]!) break;
      source -= strides[axis]! * shape[axis]!;
      index[axis] = 0;
    }
  }
  return out;
}
