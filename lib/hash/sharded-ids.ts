/**
 * ShardedIds - an identity table (object -> number: ObjHash's entry, its
 * objref and type id) that never stalls for long: a chain of Maps of at
 * most SHARD entries each.
 *
 * A Map grows by rehashing every entry into a table twice the size, in one
 * step: measured on this project's machine (docs/INTERNALS.md), 44 ms when
 * it passes 262,144 entries and 92 ms at 524,288.  An incremental
 * checkpoint (options.incremental of the stream calls) promises the event
 * loop a short slice, so it keeps here the identities of the objects that
 * carry no stamps (stamped-ids.ts; all of them when it cannot stamp): the
 * longest rehash is that of one shard (about 22 ms at 131,072), at the
 * price of one more Map probe per full shard for an object not seen yet.
 * The synchronous calls, when they use a Map, keep a single one.
 *
 * Only what ObjHash uses of a Map is here, and ObjHash sets a key only
 * after a miss: set() takes a key that is in no shard.
 */
export const SHARD = 1 << 17;

export class ShardedIds {
  /** the shard that takes new keys */
  #cur = new Map<object, number>();
  /** full shards, oldest first */
  #full: Map<object, number>[] = [];

  get size(): number {
    let n = this.#cur.size;
    for (const m of this.#full) n += m.size;
    return n;
  }

  get(key: object): number | undefined {
    const v = this.#cur.get(key);
    if (v !== undefined) return v;
    const full = this.#full;
    for (let i = full.length - 1; i >= 0; i--) {
      const w = full[i]!.get(key);
      if (w !== undefined) return w;
    }
    return undefined;
  }

  has(key: object): boolean {
    return this.get(key) !== undefined;
  }

  /** Adds key, which must be absent (ObjHash asks first). */
  set(key: object, value: number): this {
    let cur = this.#cur;
    if (cur.size >= SHARD) {
      this.#full.push(cur);
      this.#cur = cur = new Map();
    }
    cur.set(key, value);
    return this;
  }

  delete(key: object): boolean {
    if (this.#cur.delete(key)) return true;
    for (const m of this.#full) if (m.delete(key)) return true;
    return false;
  }

  /** Entries in insertion order (the oldest shard first). */
  *[Symbol.iterator](): IterableIterator<[object, number]> {
    for (const m of this.#full) yield* m;
    yield* this.#cur;
  }
}
