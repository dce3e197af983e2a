/**
 * Reads PyTorch checkpoints (`.pt`, `.pth`) written by `torch.save` without Python: the zip format
 * of PyTorch 1.6 and later (`<name>/data.pkl` plus one `<name>/data/<key>` entry per storage) and
 * the legacy format of earlier releases (magic number, protocol version, system info, the pickled
 * object, the sorted storage keys, then each storage as an int64 count and raw bytes).
 *
 * Nothing in the file is executed: the pickle reader builds only ordered dicts and tensors, and
 * reports any other Python class by name.
 */

import { readFile } from 'node:fs/promises';

import { unzipSync } from 'fflate';

import { InputFileError, UnsupportedError } from '../util/errors.js';
import { PickleFormatError, PyGlobal, PyObject, unpickle } from './torch-pickle.js';
import {
  DTYPE_BYTES,
  STORAGE_DTYPES,
  decodeStorage,
  gatherStrided,
  type TorchData,
  type TorchDType,
  type TorchTensor,
} from './torch-tensor.js';

export type { TorchData, TorchDType, TorchTensor } from './torch-tensor.js';

/** `torch.serialization.MAGIC_NUMBER`, first value of a legacy checkpoint. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
/** `torch.serialization.PROTOCOL_VERSION` of legacy checkpoints. */
const LEGACY_PROTOCOL = 1001;
/** Keys under which training scripts commonly nest the state dict, tried in this order. */
const NESTED_KEYS = ['state_dict', 'model_state_dict', 'model'];
/** Prefix that `nn.DataParallel` adds to every key. */
const DATA_PARALLEL_PREFIX = 'module.';

/** One storage of the file; `data` is filled when its bytes are read. */
interface StorageRef {
  key: string;
  dtype: TorchDType;
  numel: number;
  data?: TorchData;
  /** Legacy storage views: the storage this one is a slice of, and where it starts. */
  base?: { storage: StorageRef; offset: number };
}

/** A tensor as pickled: a view of a storage, read once every storage is available. */
class PendingTensor {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly strides: number[],
  ) {}
}

/**
 * Reads the state dict of a PyTorch checkpoint.
 *
 * The state dict is the top-level dict when all its values are tensors, else the first of its
 * `state_dict`, `model_state_dict` or `model` entries that is one (checked two levels deep). A
 * `module.` prefix on every key (`nn.DataParallel`) is removed.
 *
 * @param path - A `.pt`/`.pth` file written by `torch.save` (zip or legacy format).
 * @returns Tensors by key, in the file's order; each contiguous, row-major, with its own data.
 *   float16 and bfloat16 values are widened to Float32Array, int64 (`num_batches_tracked`) is a
 *   BigInt64Array.
 * @throws InputFileError when the file is missing, truncated or corrupt, holds no state dict (a
 *   whole pickled model, a TorchScript archive), or names Python classes inside the state dict.
 * @throws UnsupportedError for big-endian checkpoints and the tar format of PyTorch before 0.4.
 */
export async function readTorchCheckpoint(path: string): Promise<Map<string, TorchTensor>> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new InputFileError(path, `cannot read the checkpoint (${code}). Check the path.`, {
      cause: error,
    });
  }

  const { root, unknownGlobals } = parseCheckpoint(path, bytes);
  const found = findStateDict(root);
  if (!found) throw noStateDict(path, root, unknownGlobals);

  const stripPrefix = [...found.keys()].every((key) => key.startsWith(DATA_PARALLEL_PREFIX));
  const tensors = new Map<string, TorchTensor>();
  for (const [key, pending] of found) {
    const name = stripPrefix ? key.slice(DATA_PARALLEL_PREFIX.length) : key;
    tensors.set(name, materialise(path, name, pending));
  }
  return tensors;
}

/** Names of the Python classes that the pickle mentioned but the reader does not build. */
interface ParsedCheckpoint {
  root: unknown;
  unknownGlobals: Set<string>;
}

function parseCheckpoint(path: string, bytes: Uint8Array): ParsedCheckpoint {
  const isZip = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3;
  const isPickle = bytes.length >= 2 && bytes[0] === 0x80 && bytes[1]! <= 5;
  const isTar = bytes.length > 262 && Buffer.from(bytes.subarray(257, 262)).toString() === 'ustar';
  if (isTar) {
    throw new UnsupportedError(
      `readTorchCheckpoint("${path}"): tar-format checkpoint of PyTorch before 0.4 is not ` +
        'supported; load it in Python and save it again with torch.save(state_dict, path).',
    );
  }
  if (!isZip && !isPickle) {
    throw new InputFileError(
      path,
      'not a PyTorch checkpoint (neither a zip archive nor a pickle). ' +
        'Pass the .pt/.pth file written by torch.save, or download it again if it is corrupt.',
    );
  }
  try {
    return isZip ? parseZip(path, bytes) : parseLegacy(path, bytes);
  } catch (error) {
    if (error instanceof PickleFormatError) {
      throw new InputFileError(
        path,
        `corrupt or truncated PyTorch checkpoint: ${error.message}. Download or save it again.`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** Builds the pickle hooks shared by both formats; `storageFor` resolves a storage id. */
function makeHooks(
  path: string,
  storageFor: (pid: unknown[]) => StorageRef,
): { unknownGlobals: Set<string>; hooks: Parameters<typeof unpickle>[2] } {
  const unknownGlobals = new Set<string>();
  const callGlobal = (cls: PyGlobal, args: unknown[]): unknown => {
    switch (cls.qualifiedName) {
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2':
        return rebuildTensor(path, args);
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        return args[0];
      case 'torch._tensor._rebuild_from_type_v2': {
        // (func, new_type, args, state): the tensor is func(*args); its subclass is irrelevant.
        const [func, , innerArgs] = args;
        if (func instanceof PyGlobal && Array.isArray(innerArgs))
          return callGlobal(func, innerArgs);
        return undefined;
      }
      case 'torch.Size':
        return Array.isArray(args[0]) ? [...(args[0] as unknown[])] : undefined;
      default:
        unknownGlobals.add(cls.qualifiedName);
        return undefined;
    }
  };
  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid) || pid[0] !== 'storage') {
      throw new InputFileError(path, 'the pickle refers to an unknown kind of persistent object.');
    }
    return storageFor(pid);
  };
  return { unknownGlobals, hooks: { callGlobal, persistentLoad } };
}

/** Element type of a pickled storage class such as `torch.FloatStorage`. */
function storageDType(path: string, cls: unknown): TorchDType {
  const dtype =
    cls instanceof PyGlobal && cls.module === 'torch' ? STORAGE_DTYPES[cls.name] : undefined;
  if (!dtype) {
    const name = cls instanceof PyGlobal ? cls.qualifiedName : String(cls);
    throw new UnsupportedError(
      `readTorchCheckpoint("${path}"): storage type ${name} is not supported ` +
        `(supported: ${Object.keys(STORAGE_DTYPES).join(', ')}); convert the tensors in Python.`,
    );
  }
  return dtype;
}

function rebuildTensor(path: string, args: unknown[]): PendingTensor {
  const [storage, offset, shape, strides] = args;
  const isInts = (v: unknown): v is number[] =>
    Array.isArray(v) && v.every((x) => Number.isInteger(x) && (x as number) >= 0);
  if (!(storage instanceof Object && 'numel' in storage) || typeof offset !== 'number') {
    throw new InputFileError(path, 'a tensor in the pickle has no storage. The file is corrupt.');
  }
  if (!isInts(shape) || !isInts(strides) || shape.length !== strides.length) {
    throw new InputFileError(path, 'a tensor in the pickle has malformed sizes or strides.');
  }
  return new PendingTensor(storage as StorageRef, offset, shape, strides);
}

function parseZip(path: string, bytes: Uint8Array): ParsedCheckpoint {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (error) {
    throw new InputFileError(
      path,
      `corrupt or truncated zip archive (${(error as Error).message}). ` +
        'Download the checkpoint again or save it again with torch.save.',
      { cause: error },
    );
  }
  const pickleName = Object.keys(entries).find((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (!pickleName) {
    throw new InputFileError(
      path,
      'zip archive without <name>/data.pkl, so not a torch.save checkpoint. ' +
        'Pass the .pt/.pth file written by torch.save.',
    );
  }
  const prefix = pickleName.slice(0, -'data.pkl'.length);
  const byteOrder = entries[`${prefix}byteorder`];
  if (byteOrder && Buffer.from(byteOrder).toString() !== 'little') {
    throw new UnsupportedError(
      `readTorchCheckpoint("${path}"): big-endian checkpoint; ` +
        'load and save it again in PyTorch on a little-endian machine.',
    );
  }

  const storages = new Map<string, StorageRef>();
  const { hooks, unknownGlobals } = makeHooks(path, (pid) => {
    const [, cls, key, , numel] = pid;
    const name = String(key);
    const existing = storages.get(name);
    if (existing) return existing;
    const dtype = storageDType(path, cls);
    const raw = entries[`${prefix}data/${name}`];
    const count = Number(numel);
    if (!raw || raw.length < count * DTYPE_BYTES[dtype]) {
      throw new InputFileError(
        path,
        `storage ${prefix}data/${name} is missing or shorter than ${count} ${dtype} values. ` +
          'The archive is incomplete; download or save it again.',
      );
    }
    const storage: StorageRef = { key: name, dtype, numel: count };
    storage.data = decodeStorage(raw.subarray(0, count * DTYPE_BYTES[dtype]), dtype);
    storages.set(name, storage);
    return storage;
  });
  const { value } = unpickle(entries[pickleName]!, 0, hooks);
  return { root: value, unknownGlobals };
}

function parseLegacy(path: string, bytes: Uint8Array): ParsedCheckpoint {
  const notLegacy = (what: string): InputFileError =>
    new InputFileError(
      path,
      `a pickle but not a torch.save checkpoint (${what}). ` +
        'Pass the .pt/.pth file written by torch.save.',
    );
  const magic = unpickle(bytes, 0);
  if (magic.value !== LEGACY_MAGIC) {
    throw notLegacy('no PyTorch magic number');
  }
  const protocol = unpickle(bytes, magic.end);
  if (protocol.value !== LEGACY_PROTOCOL) throw notLegacy(`protocol ${String(protocol.value)}`);
  const sysInfo = unpickle(bytes, protocol.end);
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    throw new UnsupportedError(
      `readTorchCheckpoint("${path}"): big-endian checkpoint; ` +
        'load and save it again in PyTorch on a little-endian machine.',
    );
  }

  const storages = new Map<string, StorageRef>();
  const { hooks, unknownGlobals } = makeHooks(path, (pid) => {
    const [, cls, rootKey, , numel, viewMetadata] = pid;
    const key = String(rootKey);
    let root = storages.get(key);
    if (!root) {
      root = { key, dtype: storageDType(path, cls), numel: Number(numel) };
      storages.set(key, root);
    }
    if (!Array.isArray(viewMetadata)) return root;
    // Storage views of PyTorch before 0.4: (view_key, offset, size) within the root storage.
    const [viewKey, viewOffset, viewSize] = viewMetadata as [unknown, number, number];
    const view: StorageRef = {
      key: String(viewKey),
      dtype: root.dtype,
      numel: viewSize,
      base: { storage: root, offset: viewOffset },
    };
    return view;
  });
  const main = unpickle(bytes, sysInfo.end, hooks);
  const keysPickle = unpickle(bytes, main.end);
  if (!Array.isArray(keysPickle.value)) throw notLegacy('no storage key list');

  // Then each storage in key order: an int64 element count and the raw little-endian values.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keysPickle.end;
  for (const rawKey of keysPickle.value as unknown[]) {
    const key = String(rawKey);
    const storage = storages.get(key);
    if (!storage) throw notLegacy(`storage ${key} listed but never used`);
    const size = DTYPE_BYTES[storage.dtype];
    if (pos + 8 > bytes.length) throw truncatedStorage(path, key);
    const count = Number(view.getBigInt64(pos, true));
    if (count !== storage.numel || pos + 8 + count * size > bytes.length) {
      throw truncatedStorage(path, key);
    }
    storage.data = decodeStorage(bytes.subarray(pos + 8, pos + 8 + count * size), storage.dtype);
    pos += 8 + count * size;
  }
  return { root: main.value, unknownGlobals };
}

function truncatedStorage(path: string, key: string): InputFileError {
  return new InputFileError(
    path,
    `storage ${key} is truncated or inconsistent with its header. ` +
      'The file is incomplete; download or save it again.',
  );
}

/** The state dict in `root`, or undefined; see {@link readTorchCheckpoint} for the rules. */
function findStateDict(root: unknown, depth = 0): Map<string, PendingTensor> | undefined {
  if (!(root instanceof Map) || root.size === 0) return undefined;
  const isStateDict = [...root].every(
    ([key, value]) => typeof key === 'string' && value instanceof PendingTensor,
  );
  if (isStateDict) return root as Map<string, PendingTensor>;
  if (depth >= 2) return undefined;
  for (const key of NESTED_KEYS) {
    const found = findStateDict(root.get(key), depth + 1);
    if (found) return found;
  }
  return undefined;
}

function noStateDict(path: string, root: unknown, unknownGlobals: Set<string>): InputFileError {
  const names = [...unknownGlobals].join(', ');
  if (root instanceof PyObject) {
    return new InputFileError(
      path,
      `holds a pickled Python object of class ${root.cls.qualifiedName}, not a state dict ` +
        `(classes named: ${names}); this reader runs no Python code. ` +
        'In Python, save torch.save(model.state_dict(), path) and pass that file.',
    );
  }
  const keys = root instanceof Map ? [...root.keys()].slice(0, 8).map(String).join(', ') : '';
  const why =
    root instanceof Map
      ? `its top-level keys (${keys}) are neither all tensors nor ` +
        `a ${NESTED_KEYS.join('/')} entry holding only tensors`
      : `it holds a ${Array.isArray(root) ? 'list' : typeof root}`;
  const classes =
    unknownGlobals.size > 0 ? `; it names Python classes this reader does not build: ${names}` : '';
  return new InputFileError(
    path,
    `no state dict found: ${why}${classes}. ` +
      'In Python, save torch.save(model.state_dict(), path) and pass that file.',
  );
}

function materialise(path: string, key: string, pending: PendingTensor): TorchTensor {
  let { storage, offset } = pending;
  if (storage.base) {
    offset += storage.base.offset;
    storage = storage.base.storage;
  }
  const { shape, strides } = pending;
  const count = shape.reduce((a, b) => a * b, 1);
  const last = offset + shape.reduce((sum, size, axis) => sum + (size - 1) * strides[axis]!, 0);
  if (!storage.data) throw truncatedStorage(path, storage.key);
  if (count > 0 && (offset < 0 || last >= storage.data.length)) {
    throw new InputFileError(
      path,
      `tensor ${key} [${shape.join(', ')}] reaches element ${last} of storage ${storage.key}, ` +
        `which has ${storage.data.length}. The file is corrupt; save it again.`,
    );
  }
  return {
    shape: [...shape],
    dtype: storage.dtype,
    data: gatherStrided(storage.data, offset, shape, strides),
  };
}
