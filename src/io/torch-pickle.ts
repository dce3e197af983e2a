/**
 * A small, closed pickle reader for PyTorch checkpoints (pickle protocols 0 to 5, as written by
 * `torch.save`). It never executes anything: a `GLOBAL` only names a Python callable; the reader
 * builds the plain-data builtins itself (dict, OrderedDict, set, bytes) and the caller decides
 * what any other known name builds (`callGlobal`). Names the caller does not know become
 * {@link PyObject} placeholders that record the class and its arguments, so that a checkpoint can
 * carry harmless extras (an `argparse.Namespace` of training options) beside its state dict.
 *
 * Python values map to JavaScript as: `None` -> `null`, `bool` -> boolean, `int` -> number (or
 * bigint past 2^53), `float` -> number, `str` -> string, `bytes` -> Uint8Array, `list` and
 * `tuple` -> array, `dict` -> Map, `set` -> Set.
 */

/** A Python callable named by a pickle `GLOBAL` or `STACK_GLOBAL`; never executed here. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}

  /** `module.name`, as Python prints it. */
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of a class this reader does not build: its name and arguments, kept as data. */
export class PyObject {
  /** Whatever `BUILD` set on the instance (usually a dict of attributes). */
  state: unknown = undefined;

  constructor(
    readonly cls: PyGlobal,
    readonly args: unknown[],
  ) {}
}

/** Hooks through which the caller gives meaning to names and persistent ids. */
export interface UnpickleHooks {
  /**
   * Builds the value of `cls(*args)` for a known callable, or returns `undefined` to keep the call
   * as a {@link PyObject} placeholder. Throws to reject the call.
   */
  callGlobal?: (cls: PyGlobal, args: unknown[]) => unknown;
  /** Resolves a persistent id (`BINPERSID`), which PyTorch uses for tensor storages. */
  persistentLoad?: (pid: unknown) => unknown;
}

/** The result of reading one pickle: its value and the offset just past its `STOP`. */
export interface UnpickleResult {
  value: unknown;
  /** Byte offset in the input right after the pickle's `STOP` opcode. */
  end: number;
}

/** A pickle is malformed, truncated or uses an opcode this reader does not support. */
export class PickleFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
    this.name = 'PickleFormatError';
  }
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Little-endian two's-complement integer of `bytes` as a number, or bigint past 2^53. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(bytes.length * 8);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

/** Decimal text of protocol 0 `INT`/`LONG` to a number or bigint; `01`/`00` are Python 2 bools. */
function parseIntText(text: string): number | bigint | boolean {
  if (text === '01') return true;
  if (text === '00') return false;
  const digits = text.endsWith('L') ? text.slice(0, -1) : text;
  const value = BigInt(digits);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

/**
 * Reads one pickle from `bytes` starting at `offset`.
 *
 * @param bytes - The whole buffer (a pickle may be followed by other data, as in legacy
 *   PyTorch files).
 * @param offset - Byte offset where the pickle starts.
 * @param hooks - How to build known globals and resolve persistent ids.
 * @returns The unpickled value and the offset right after its `STOP`.
 * @throws PickleFormatError for truncated input, unknown opcodes or a malformed stack; errors
 *   thrown by the hooks pass through unchanged.
 */
export function unpickle(bytes: Uint8Array, offset = 0, hooks: UnpickleHooks = {}): UnpickleResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = offset;

  const fail = (message: string): never => {
    throw new PickleFormatError(message, pos);
  };
  const need = (n: number): void => {
    if (pos + n > bytes.length) fail(`pickle truncated: ${n} more bytes needed, file ends`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('pickle length field too large');
    return Number(v);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('pickle truncated: end of line expected');
    const text = Buffer.from(bytes.subarray(pos, end)).toString('latin1');
    pos = end + 1;
    return text;
  };
  const utf8 = (n: number): string => {
    const raw = take(n);
    try {
      return textDecoder.decode(raw);
    } catch {
      return fail('invalid UTF-8 in a pickled string');
    }
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) {
      fail('pickle stack underflow');
    }
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('pickle stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const mark = marks.pop();
    if (mark === undefined) return fail('pickle MARK expected');
    return stack.splice(mark);
  };
  const memoGet = (index: number): unknown => {
    if (!memo.has(index)) fail(`pickle memo entry ${index} missing`);
    return memo.get(index);
  };
  const call = (callable: unknown, args: unknown[]): unknown => {
    if (!(callable instanceof PyGlobal)) return fail('pickle calls something that is not a class');
    const built = buildBuiltin(callable, args) ?? hooks.callGlobal?.(callable, args);
    return built === undefined ? new PyObject(callable, args) : built;
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (items.length % 2 !== 0) fail('pickle SETITEMS with an odd number of items');
    if (target instanceof Map) {
      for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
    } else if (target instanceof PyObject) {
      // Dict subclasses we do not build keep their items in `state` as a Map.
      const map = target.state instanceof Map ? target.state : new Map<unknown, unknown>();
      for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
      target.state = map;
    } else {
      fail('pickle SETITEMS on a value that is not a dict');
    }
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    if (Array.isArray(target)) target.push(...items);
    else if (target instanceof Set) for (const item of items) target.add(item);
    else if (!(target instanceof PyObject)) fail('pickle APPENDS on a value that is not a list');
  };

  for (;;) {
    const opcodeAt = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5');
        break;
      case 0x95: // FRAME: frames only group opcodes; the length is not needed
        u64();
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (marks.length > 0 && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(view.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(take(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(decodeLong(take(u32())));
        break;
      case 0x49: // INT
      case 0x4c: // LONG
        stack.push(parseIntText(line()));
        break;
      case 0x47: // BINFLOAT (big-endian float64)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x46: // FLOAT
        stack.push(Number.parseFloat(line()));
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(u64()));
        break;
      case 0x56: // UNICODE
        stack.push(decodeRawUnicodeEscape(line()));
        break;
      case 0x54: // BINSTRING (Python 2 str, read as Latin-1)
        stack.push(Buffer.from(take(u32())).toString('latin1'));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(Buffer.from(take(u8())).toString('latin1'));
        break;
      case 0x42: // BINBYTES
        stack.push(Uint8Array.from(take(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(Uint8Array.from(take(u8())));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(Uint8Array.from(take(u64())));
        break;
      case 0x29: // EMPTY_TUPLE
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map<unknown, unknown>());
        break;
      case 0x8f: // EMPTY_SET
        stack.push(new Set<unknown>());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x74: // TUPLE
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;
      case 0x64: {
        // DICT
        const map = new Map<unknown, unknown>();
        setItems(map, popMark());
        stack.push(map);
        break;
      }
      case 0x61: {
        // APPEND
        const item = pop();
        appendItems(top(), [item]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(new PyGlobal(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') {
          fail('pickle STACK_GLOBAL without module and name strings');
        }
        stack.push(new PyGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        if (!Array.isArray(args)) fail('pickle REDUCE without an argument tuple');
        stack.push(call(pop(), args as unknown[]));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        if (!Array.isArray(args)) fail('pickle NEWOBJ without an argument tuple');
        stack.push(call(pop(), args as unknown[]));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX (keyword arguments are kept as a trailing Map)
        const kwargs = pop();
        const args = pop();
        if (!Array.isArray(args)) fail('pickle NEWOBJ_EX without an argument tuple');
        stack.push(call(pop(), [...(args as unknown[]), kwargs]));
        break;
      }
      case 0x62: {
        // BUILD: only placeholders keep their state; a dict's attributes are not needed
        const state = pop();
        const target = top();
        if (target instanceof PyObject) target.state = state;
        break;
      }
      case 0x50: // PERSID
        stack.push(resolvePersistent(hooks, line(), fail));
        break;
      case 0x51: // BINPERSID
        stack.push(resolvePersistent(hooks, pop(), fail));
        break;
      case 0x70: // PUT
        memo.set(Number.parseInt(line(), 10), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
        stack.push(memoGet(Number.parseInt(line(), 10)));
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      default:
        pos = opcodeAt;
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

/**
 * Builds the Python builtins that pickles of plain data use, or returns undefined: dicts and
 * ordered dicts (as Map), sets (as Set), and bytes, which protocols 0 to 2 write as
 * `_codecs.encode(text, 'latin1')`.
 */
function buildBuiltin(cls: PyGlobal, args: unknown[]): unknown {
  const [first] = args;
  const items = Array.isArray(first) ? (first as unknown[]) : [];
  switch (cls.qualifiedName) {
    case 'collections.OrderedDict':
    case 'builtins.dict':
    case '__builtin__.dict':
      return new Map(items.filter((pair): pair is [unknown, unknown] => Array.isArray(pair)));
    case 'builtins.set':
    case '__builtin__.set':
    case 'builtins.frozenset':
    case '__builtin__.frozenset':
      return new Set(items);
    case '_codecs.encode':
      return typeof first === 'string' && (args[1] === 'latin1' || args[1] === 'latin-1')
        ? new Uint8Array(Buffer.from(first, 'latin1'))
        : undefined;
    default:
      return undefined;
  }
}

/** Decodes Python raw-unicode-escape text: Latin-1 with `\u` + 4 and `\U` + 8 hex digits. */
function decodeRawUnicodeEscape(text: string): string {
  return text.replace(
    /\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g,
    (_: string, short?: string, long?: string) =>
      String.fromCodePoint(Number.parseInt(short ?? long ?? '0', 16)),
  );
}

function resolvePersistent(
  hooks: UnpickleHooks,
  pid: unknown,
  fail: (m: string) => never,
): unknown {
  if (!hooks.persistentLoad) return fail('pickle has a persistent id but no loader was given');
  return hooks.persistentLoad(pid);
}
