/**
 * The rules an image's objects must follow that can be checked without
 * the types' code: the one validator that both `verify`/inspectImage and
 * restart run, so that they accept and refuse the same images for every
 * fault visible in the bytes (docs/FORMAT.md, "What verify checks").
 *
 * - the header's type table names every objtype an OBJREF uses;
 * - objrefs are > 0, defined once, and at most maxObjrefGap beyond the
 *   objects defined before them (images from checkpoint() number their
 *   objects 1, 2, 3... in order; the bound keeps a hostile image from
 *   choosing objrefs that all fall into one bucket of the hash);
 * - at most maxObjects objects;
 * - an image holds at least one object (its root), and TAIL's count is
 *   the number of objects defined.
 *
 * What only restart can know: whether a type's restore reads its records
 * exactly (leftover bytes, a payload's own fields), whether every objref a
 * record mentions resolves, and the root's type.
 */
import { ObjHashError } from '../errors.js';
import type { TypeEntry } from './format.js';

/** Default limit on how far an objref may run ahead of the objects defined. */
export const DEFAULT_MAX_OBJREF_GAP = 1 << 20;
/** Default limit on the objects in one image. */
export const DEFAULT_MAX_OBJECTS = 0x7ffffffe;

export interface ValidateOptions {
  /** How far an objref may lie beyond the objects defined before it (EINVAL past it). */
  maxObjrefGap?: number | undefined;
  /** Most objects in one image (E2BIG past it). */
  maxObjects?: number | undefined;
}

/** Validates a positive-integer option (undefined: the default); EINVAL naming it otherwise. */
export function positiveInt(v: unknown, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new ObjHashError('EINVAL', `options.${name} must be a positive integer (got ${String(v)})`);
  return v;
}

/**
 * The objrefs defined so far: a bitmap while they are dense (as the
 * checkpoint context numbers them, 1, 2, 3...), so a walk over millions of
 * objects costs a bit each instead of a Set entry; outliers far above the
 * count go to a Set, so an image cannot make the bitmap big.
 */
export class ObjrefSet {
  /** (starts small: a small restart allocates little; it doubles as objrefs come) */
  private bits = new Uint8Array(16);
  private readonly sparse = new Set<number>();
  size = 0;
  /** The lowest objref not in the set: a version 2 image's implicit objref. */
  low = 1;

  has(objref: number): boolean {
    if (objref < this.bits.length * 8) return (this.bits[objref >>> 3]! & (1 << (objref & 7))) !== 0;
    return this.sparse.has(objref);
  }

  /** Adds objref (> 0, not present). */
  add(objref: number): void {
    if (objref >= this.bits.length * 8 && objref < 64 * (this.size + 1024)) {
      let n = this.bits.length;
      while (objref >= n * 8) n *= 2;
      const b = new Uint8Array(n);
      b.set(this.bits);
      // outliers that the bitmap now covers move into it
      for (const r of this.sparse) {
        if (r < n * 8) {
          b[r >>> 3]! |= 1 << (r & 7);
          this.sparse.delete(r);
        }
      }
      this.bits = b;
    }
    if (objref < this.bits.length * 8) this.bits[objref >>> 3]! |= 1 << (objref & 7);
    else this.sparse.add(objref);
    this.size++;
    if (objref === this.low) while (this.has(this.low)) this.low++;
  }
}

export class ObjrefValidator {
  readonly maxObjrefGap: number;
  readonly maxObjects: number;
  /** objtype -> its entry in the header's type table. */
  readonly #names = new Map<number, string>();
  /** objtype -> its slot in #counts (one Map lookup per OBJREF does both jobs). */
  readonly #slot = new Map<number, number>();
  /** objects defined, by slot */
  readonly #counts: number[] = [];
  readonly #defined = new ObjrefSet();

  constructor(types: readonly TypeEntry[], opts: ValidateOptions = {}) {
    this.maxObjrefGap = positiveInt(opts.maxObjrefGap, 'maxObjrefGap', DEFAULT_MAX_OBJREF_GAP);
    this.maxObjects = positiveInt(opts.maxObjects, 'maxObjects', DEFAULT_MAX_OBJECTS);
    for (const t of types) {
      this.#names.set(t.objtype, t.name);
      this.#slot.set(t.objtype, this.#counts.length);
      this.#counts.push(0);
    }
  }

  /** Objects defined so far. */
  get count(): number {
    return this.#defined.size;
  }

  /** The objref an implicit OBJREF (format version 2) defines next. */
  get next(): number {
    return this.#defined.low;
  }

  /** Whether an OBJREF has defined this objref. */
  has(objref: number): boolean {
    return objref > 0 && this.#defined.has(objref);
  }

  /** The type-table name of objtype, if the table has it. */
  typeName(objtype: number): string | undefined {
    return this.#names.get(objtype);
  }

  /** Objects defined per objtype (the objtypes that have some), in objtype order. */
  perType(): { objtype: number; name: string; count: number }[] {
    return [...this.#slot.entries()]
      .filter(([, i]) => this.#counts[i]! > 0)
      .sort((x, y) => x[0] - y[0])
      .map(([objtype, i]) => ({ objtype, name: this.#names.get(objtype)!, count: this.#counts[i]! }));
  }

  /**
   * define - checks the OBJREF record at `offset` and records its object.
   * Throws ObjHashError (with the offset) if it breaks a rule.  Runs once
   * per object: nothing is allocated unless it throws.
   */
  define(objtype: number, objref: number, offset: number): void {
    const slot = this.#slot.get(objtype);
    if (slot === undefined) bad(offset, `objtype ${objtype} is not in the header's type table`);
    if (objref <= 0) bad(offset, `objref ${objref} <= 0`);
    const n = this.#defined.size;
    if (objref - n > this.maxObjrefGap)
      bad(offset, `objref ${objref} is more than ${this.maxObjrefGap} (options.maxObjrefGap) beyond the ${n} objects defined before it`);
    if (this.#defined.has(objref)) bad(offset, `objref ${objref} defined twice`);
    if (n >= this.maxObjects) bad(offset, `more than ${this.maxObjects} objects (options.maxObjects)`, 'E2BIG');
    this.#defined.add(objref);
    this.#counts[slot]!++;
  }

  /** At TAIL (offset): an image must hold at least one object, its root. */
  end(offset: number): void {
    if (this.#defined.size === 0)
      throw new ObjHashError('EINVAL', `TAIL at offset ${offset}: the image holds no object (no root object)`, offset);
  }
}

/** The error of an OBJREF record that breaks a rule. */
function bad(offset: number, what: string, code: 'EINVAL' | 'E2BIG' = 'EINVAL'): never {
  throw new ObjHashError(code, `OBJREF at offset ${offset}: ${what}`, offset);
}
