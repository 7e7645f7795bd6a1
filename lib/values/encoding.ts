/**
 * The encoding of plain JS values in an image (format version 2, issue #10).
 * This comment is the specification of the bytes; the constants below are
 * their single source for write.ts, write-tagged.ts, read.ts and
 * describe.ts.
 *
 * # Where plain values live
 *
 * A plain object (object, array, Map, Set, Date, RegExp, wrapper, Error,
 * ArrayBuffer, typed array, DataView) is written INLINE where a tagged
 * value first meets it: an INLINE tag, then the object's BODY, at that
 * spot of the enclosing body.  Inline objects get the next VALUE INDEX
 * (0, 1, ... per image, in the order their INLINE tags appear); a later
 * reference to one is a VREF tag naming its index.  Inline objects are
 * not objects of the objhash (no objref, no OBJREF record, not counted in
 * TAIL); they exist only inside the bodies that hold them, so sharing and
 * cycles among plain values cost one Map entry per object and no framing.
 *
 * A plain value that the objhash itself holds (the image's root, the
 * target of a `ref(ValueT)` field or of checkpointObj(obj, ValueT), or a
 * value met deeper than MAX_INLINE inline levels in one record) is an
 * object of the image: the walker writes its OBJREF (objtype of the
 * type-table entry named `objhash:value`), then one VALUE record (type 7)
 * whose payload is the object's BODY; tagged values refer to it with REF
 * / REF_NEXT (its objref).  An object first written inline and later asked
 * for by objref gets a VALUE record whose body is ALIAS (a VREF to the
 * inline object).  A record's body nests at most MAX_INLINE (64) INLINE
 * levels: the writer moves deeper values to records of their own (so any
 * depth works with bounded recursion), a reader refuses deeper nesting.
 * An image whose root is a primitive holds one VALUE body of kind PRIM.
 *
 * # The codec state (per image)
 *
 * Writer and reader keep, for the whole image, in the order the bodies
 * appear in the image (ValueCodecState, state.ts):
 *
 * - the STRING TABLE: strings defined by a STR_SHORT, STR_NEW8 or
 *   STR_NEW16 tag get the next index (0, 1, ...); STR_REF tags refer to
 *   them.  Property keys and string values share it.  The writer defines
 *   strings of at most 64 UTF-16 units, up to 2^20 entries; a reader
 *   refuses a definition past 2^20 entries.
 * - the SHAPE TABLE: a shape is a list of property keys in order; a NEW
 *   property block defines the next shape index.  The writer defines at
 *   most 2^16 shapes of at most 64 keys; a reader refuses more shapes.
 * - LAST, the highest objref any REF / REF_NEXT tag has named so far
 *   (initially 0): REF_NEXT means objref LAST + 1, and after every
 *   reference LAST = max(LAST, objref).
 * - the VALUE INDEX count: every INLINE tag takes the next index, before
 *   its body is read (a reader reserves the slot at the tag and fills it
 *   when the body has made the object); VREF i names an index already
 *   taken (a VREF to an object whose body is still being read, before it
 *   exists, is EINVAL).
 *
 * A body that makes the walker write another body while it is being
 * written (a view: refNow(buffer)) does so before it touches the state, so
 * the state sees bodies in image order on both sides.  Tagged values in
 * other records (schema 'value' fields) share the state: every one must be
 * read (readTagged, or describeTagged in a dump), never skipped.
 *
 * # Tagged values (one tag byte, then what the tag says)
 *
 * | tag       | value                                                      |
 * |-----------|------------------------------------------------------------|
 * | 00-5f     | the integer tag - 16 (-16..79)                             |
 * | 60        | the empty string                                           |
 * | 61-7f     | STR_SHORT: a new well-formed string; its UTF-8, tag - 0x60 = 1..31 bytes, follows; defined in the string table |
 * | 80-bf     | STR_REF_SMALL: string table entry tag - 0x80 (0..63)        |
 * | c0        | undefined                                                  |
 * | c1        | null                                                       |
 * | c2 / c3   | false / true                                               |
 * | c4        | HOLE: a missing array element (array elements only)        |
 * | c5        | -0                                                         |
 * | c6        | NaN                                                        |
 * | c7        | UINT: uv n, the integer n (80..2^53-1)                      |
 * | c8        | NINT: uv m, the integer -(m + 1) (-2^53+1..-17)             |
 * | c9        | F32: 4 bytes, a binary32 LE (a double that is exactly one, the infinities included) |
 * | ca        | F64: 8 bytes, a binary64 LE                                 |
 * | cb-d0     | DEC1-DEC6: sv m, the double m / 10^k, k = tag - 0xca (1..6): written only when that division gives the value back exactly |
 * | d1 / d2   | BIGINT_POS / BIGINT_NEG: uv n, then n bytes of the magnitude, little-endian, the last one non-zero (0n: BIGINT_POS, n = 0; n <= 2^27) |
 * | d3        | STR_NEW8: uv byte length, UTF-8 (well-formed); defined in the string table |
 * | d4        | STR_LIT8: as STR_NEW8, not defined                          |
 * | d5        | STR_NEW16: uv n, then n UTF-16 code units LE (a string with lone surrogates); defined |
 * | d6        | STR_LIT16: as STR_NEW16, not defined                        |
 * | d7        | STR_REF: uv i, string table entry 64 + i                    |
 * | d8        | REF: uv objref (1..2^31-1), an object                        |
 * | d9        | REF_NEXT: the object with objref LAST + 1                   |
 * | da-f8     | STR_SHORT_LIT: as STR_SHORT (tag - 0xd9 = 1..31 bytes), not defined |
 * | f9        | INLINE: a BODY follows (not PRIM, not ALIAS); the object takes the next value index |
 * | fa        | VREF: uv i, the inline object with value index i            |
 * | fb-ff     | reserved (EINVAL)                                          |
 *
 * Numbers take the first form that fits: a safe integer as 00-5f, UINT or
 * NINT; -0, NaN; DEC1..DEC6 (when m fits 20 bits); F32; DEC; F64.
 * Strings: '' as 60; a string in the table as STR_REF_SMALL / STR_REF;
 * else STR_SHORT (UTF-8 of 1..31 bytes), STR_NEW8, or STR_NEW16 when it
 * has lone surrogates, each in its defining or literal form.  Which new
 * strings a writer defines is its policy (this one: keys of at most 64
 * units always; string values of at most 64 units while, every 4096 of
 * them, table hits by values are at least 1/8 of those defined); a
 * reader follows the tags.  A property key or a regexp source is a
 * tagged value that must be a string.
 *
 * # Bodies (one kind byte, then what the kind says)
 *
 * | kind  | body                                                           |
 * |-------|----------------------------------------------------------------|
 * | 00    | PRIM: one tagged value, a primitive (the root of an image that is one) |
 * | 01    | OBJECT (prototype Object.prototype): a property block            |
 * | 02    | NULL_OBJECT (prototype null): a property block                  |
 * | 03    | ARRAY: uv length, length tagged values (HOLE for a hole)        |
 * | 04    | ARRAY_PROPS: as ARRAY, then a property block (the array's non-index properties) |
 * | 05    | SPARSE: uv length, uv count, count x (uv gap, value), then a property block; gap = index - previous index - 1 (the first: index), indices ascending and < length |
 * | 06    | MAP: uv size, size x (key, value) in insertion order           |
 * | 07    | SET: uv size, size values in insertion order                    |
 * | 08    | DATE: a tagged number, the time value (NaN: an invalid date)    |
 * | 09    | REGEXP: a tagged string (the source), u8 flags: d 1, g 2, i 4, m 8, s 16, u 32, v 64, y 128 (lastIndex is 0 again, as in structuredClone) |
 * | 0a/0b | Boolean(false) / Boolean(true) wrapper, nothing more            |
 * | 0c    | Number wrapper: a tagged number                                 |
 * | 0d    | String wrapper: a tagged string                                 |
 * | 0e    | BigInt wrapper: a tagged bigint                                 |
 * | 0f    | ERROR: u8 b: bits 0-2 the prototype (0 Error, 1 EvalError, 2 RangeError, 3 ReferenceError, 4 SyntaxError, 5 TypeError, 6 URIError), bit 3 a message follows (tagged string), bit 4 a stack follows (tagged string), bit 5 a cause follows (tagged value); bits 6-7 zero |
 * | 10    | ARRAYBUFFER: uv byteLength, the bytes                          |
 * | 11    | RESIZABLE ARRAYBUFFER: uv byteLength, uv maxByteLength, the bytes |
 * | 12    | DATAVIEW: its buffer (REF/REF_NEXT, INLINE or VREF), uv byteOffset, uv byteLength |
 * | 13    | DATAVIEW, length-tracking (of a resizable buffer): its buffer, uv byteOffset |
 * | 14    | ALIAS: a VREF tag; this record's object is that inline object (VALUE records only) |
 * | 20-2b | typed array of type kind - 0x20 (0 Int8, 1 Uint8, 2 Uint8Clamped, 3 Int16, 4 Uint16, 5 Int32, 6 Uint32, 7 Float32, 8 Float64, 9 BigInt64, 10 BigUint64, 11 Float16): its buffer (REF/REF_NEXT, INLINE or VREF), uv byteOffset, uv length (elements) |
 * | 30-3b | the same, length-tracking: its buffer, uv byteOffset            |
 * | 40-5f | SMALL_ARRAY: an ARRAY of length kind - 0x40 (0..31): the values  |
 * | 60-ff | SHAPED_OBJECT: an OBJECT of shape kind - 0x60 (0..159): the values |
 * | other | reserved (EINVAL)                                              |
 *
 * A PROPERTY BLOCK is uv p, then
 * - p = 0, NEW shape: uv n, n keys (tagged strings), defining the next
 *   shape; then n values;
 * - p = 1, DICT: uv n, then n x (key, value) (objects over 64 keys, or
 *   once the shape table is full);
 * - p >= 2: shape p - 2, then its values.
 * Properties are the own enumerable string-keyed ones, in their order
 * (integer keys first, as JS orders them); a value is a tagged value.  An
 * array's property block never names an index or `length`.
 *
 * A buffer's bytes are its memory as is (typed array elements in the
 * host's byte order: little-endian on every platform Node supports but
 * s390x and ppc64be).  A view's buffer is whole before the view is made:
 * inline in the view's body, a VREF to an inline buffer, or a REF to a
 * buffer whose record the walker wrote before the view's (its refNow,
 * also for a buffer already queued); a reader checks the view's offset,
 * alignment and length against it.  Views sharing one buffer name the
 * same buffer.
 *
 * A reader defines an own property named `__proto__` (assigning it would
 * set the prototype); the walker's later fix-up then assigns the own
 * property.  Property blocks of arrays are refused if they name an index
 * or `length`.
 *
 * # What is written (structuredClone's rules, and where this differs)
 *
 * - Objects: own enumerable string-keyed properties, read through their
 *   getters (one that throws is refused with its path); symbol keys and
 *   non-enumerable properties are not written.  The prototype must be
 *   Object.prototype or null, and null is kept (structuredClone makes it
 *   Object.prototype); any other prototype is a class instance, written
 *   only by a registered type.  Proxies are refused.  (An `arguments`
 *   object passes as a plain object; structuredClone refuses it.)
 * - Arrays: length, elements and holes; non-index properties as a
 *   property block.  The writer uses SPARSE for an array over 1024
 *   elements that is mostly holes.  Array subclasses are class instances.
 * - Map, Set (insertion order), Date, RegExp (source and flags;
 *   lastIndex 0), Boolean/Number/String/BigInt wrappers: their value only,
 *   as structuredClone (their own properties are not written).  Symbol
 *   wrappers are refused.
 * - Errors whose prototype is a standard error prototype (AggregateError
 *   too): as V8 serializes them, the prototype from `name` (one of the
 *   seven, else Error: an AggregateError comes back an Error without
 *   `errors`), an own data `message` (as a string), `stack` when it is a
 *   string (restored as an own property, undefined otherwise), an own
 *   data `cause` (any value); nothing else.
 * - ArrayBuffer (fixed or resizable, with maxByteLength), every typed
 *   array, DataView; fixed or length-tracking (JS cannot ask which: when a
 *   view of a resizable buffer ends where a tracking one would, the writer
 *   resizes the buffer for a moment and back, contents kept).  Refused: a
 *   SharedArrayBuffer (structuredClone would share its memory, an image
 *   cannot), a detached buffer, a view out of its buffer's bounds.
 * - Functions, symbols, WeakMap, WeakSet, WeakRef, Promise, generators,
 *   iterators, module namespaces: refused with their path.
 */

/** Kind bytes (the first byte of a VALUE body). */
export const enum K {
  PRIM = 0x00,
  OBJECT = 0x01,
  NULL_OBJECT = 0x02,
  ARRAY = 0x03,
  ARRAY_PROPS = 0x04,
  SPARSE = 0x05,
  MAP = 0x06,
  SET = 0x07,
  DATE = 0x08,
  REGEXP = 0x09,
  FALSE_OBJ = 0x0a,
  TRUE_OBJ = 0x0b,
  NUMBER_OBJ = 0x0c,
  STRING_OBJ = 0x0d,
  BIGINT_OBJ = 0x0e,
  ERROR = 0x0f,
  ARRAYBUFFER = 0x10,
  RESIZABLE = 0x11,
  DATAVIEW = 0x12,
  DATAVIEW_TRACKING = 0x13,
  ALIAS = 0x14,
  TYPED = 0x20,
  TYPED_TRACKING = 0x30,
  SMALL_ARRAY = 0x40,
  SHAPED = 0x60,
}

/** Longest array written as one SMALL_ARRAY kind byte. */
export const SMALL_ARRAY_MAX = 0x1f;
/** Shapes 0..SHAPED_MAX are written in the kind byte of an OBJECT. */
export const SHAPED_MAX = 0xff - K.SHAPED;

/** Tag bytes of tagged values. */
export const enum T {
  /** 0x00..0x5f: the integer tag - INT_BIAS. */
  INT_BIAS = 16,
  INT_TOP = 0x5f,
  STR_EMPTY = 0x60,
  /** 0x61..0x7f: a new string of tag - 0x60 UTF-8 bytes. */
  STR_SHORT = 0x60,
  STR_SHORT_MAX = 0x1f,
  /** 0x80..0xbf: string table entry tag - 0x80. */
  STR_REF_SMALL = 0x80,
  STR_REF_SMALL_COUNT = 0x40,
  UNDEFINED = 0xc0,
  NULL = 0xc1,
  FALSE = 0xc2,
  TRUE = 0xc3,
  HOLE = 0xc4,
  NEG_ZERO = 0xc5,
  NAN = 0xc6,
  UINT = 0xc7,
  NINT = 0xc8,
  F32 = 0xc9,
  F64 = 0xca,
  /** 0xcb..0xd0: DEC1..DEC6 (tag - F64 decimal digits). */
  DEC = 0xca,
  DEC_MAX = 6,
  BIGINT_POS = 0xd1,
  BIGINT_NEG = 0xd2,
  STR_NEW8 = 0xd3,
  STR_LIT8 = 0xd4,
  STR_NEW16 = 0xd5,
  STR_LIT16 = 0xd6,
  STR_REF = 0xd7,
  REF = 0xd8,
  REF_NEXT = 0xd9,
  /** 0xda..0xf8: a literal string of tag - 0xd9 UTF-8 bytes. */
  STR_SHORT_LIT = 0xd9,
  INLINE = 0xf9,
  VREF = 0xfa,
}

/** INLINE levels one record's body may nest (writer and reader). */
export const MAX_INLINE = 64;

/** Smallest and largest integer written in the tag byte. */
export const INT_SMALL_MIN = -T.INT_BIAS;
export const INT_SMALL_MAX = T.INT_TOP - T.INT_BIAS;

/** Property block heads. */
export const P_NEW = 0;
export const P_DICT = 1;
export const P_SHAPE = 2;

/** Error body bits. */
export const E_PROTO = 0x07;
export const E_MESSAGE = 0x08;
export const E_STACK = 0x10;
export const E_CAUSE = 0x20;
/** The error prototypes, by their index in an ERROR body (structuredClone's list). */
export const ERROR_NAMES = ['Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError', 'URIError'] as const;

/** RegExp flags, by bit (1 << index). */
export const REGEXP_FLAGS = 'dgimsuvy';

/** Limits shared by writer and reader. */
export const MAX_STRINGS = 1 << 20;
export const MAX_SHAPES = 1 << 16;
/** The writer's policy (a reader accepts any): strings of at most this many UTF-16 units are defined in the table. */
export const MAX_TABLE_STRING = 64;
/** The writer's policy: objects with more keys are written as DICT. */
export const MAX_SHAPE_KEYS = 64;
/** Longest bigint magnitude in bytes (V8's limit is 2^30 bits). */
export { MAX_BIGINT_BYTES } from '../image/bigint.js';
/** Largest objref (the image's objrefs are s32). */
export const MAX_OBJREF = 0x7fffffff;
/** Largest array length. */
export const MAX_ARRAY_LENGTH = 0xffffffff;

/** Typed array constructors by type index (Float16Array: undefined where this Node has none). */
export interface TypedInfo {
  readonly name: string;
  readonly ctor: (new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => ArrayBufferView) | undefined;
  readonly size: number;
}
const g = globalThis as unknown as Record<string, unknown>;
function ta(name: string, size: number): TypedInfo {
  const c = g[name];
  return { name, ctor: typeof c === 'function' ? (c as TypedInfo['ctor']) : undefined, size };
}
export const TYPED: readonly TypedInfo[] = [
  ta('Int8Array', 1),
  ta('Uint8Array', 1),
  ta('Uint8ClampedArray', 1),
  ta('Int16Array', 2),
  ta('Uint16Array', 2),
  ta('Int32Array', 4),
  ta('Uint32Array', 4),
  ta('Float32Array', 4),
  ta('Float64Array', 8),
  ta('BigInt64Array', 8),
  ta('BigUint64Array', 8),
  ta('Float16Array', 2),
];

/** 10^k for the DEC tags. */
export const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000] as const;
