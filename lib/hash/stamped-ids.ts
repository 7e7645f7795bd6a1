/**
 * Identity tables that keep their entries on the objects themselves, in
 * private class fields: what a synchronous checkpoint uses instead of a
 * `Map` (docs/INTERNALS.md, "Identity on the objects").
 *
 * A `Map` keyed by objects is fast to read (10-30 ns a hit here) but slow
 * to build: every doubling allocates a new table, and past ~4,096 entries
 * that table is fresh memory from the large-object space, which V8 gives
 * back after the next GC.  On this project's VM a fresh page costs ~15 us
 * to touch, and a 425k-entry `Map` touches 27.8 MiB of them: ~270 ns per
 * entry, every checkpoint, for a table that lives for one call.
 *
 * A private field lives in the object.  The first time objhash meets an
 * object it adds three fields to it (one small property store, ~0.5 us);
 * every later checkpoint reads and overwrites them in place (~20 ns).
 * Private fields are invisible to JS: no key, no symbol, not in
 * `Object.keys`, `JSON`, `util.inspect`, `structuredClone` or
 * `v8.serialize`; they are allowed on frozen objects, proxies (the proxy
 * itself, no trap runs) and every builtin object on Node 20 to 26.  An
 * object that refuses them (a later engine may refuse non-extensible
 * objects) goes to a `Map` instead, so nothing depends on that.
 *
 * What the fields say is only valid for the session that wrote them: each
 * entry holds its session's serial (never the same twice with one Stamp
 * class, see makeStamp), and a table reads an entry only when the serial
 * is its own.  One session stamps at a time in a
 * thread (sessionStart() returns undefined while another is open and
 * alive), and a session has two tables (slots): the hash's and the plain
 * values codec's, both for the same checkpoint.  So nothing is ever
 * cleared: an old entry is simply not its session's.
 */
import { PAGE, PAGE_BITS, PAGE_MASK, PagedArray } from '../util/paged.js';
import { ShardedIds } from './sharded-ids.js';

/** Makes `new Stamp(o)` add the fields to o itself (a constructor that returns another object). */
class Carrier {
  constructor(o: object) {
    return o;
  }
}

/**
 * A class whose instances' fields hold the entries: #session is the
 * serial (a small integer) of the session that wrote #a and #b.  A serial
 * rather than a token object, because writing a young object into every
 * old object a checkpoint meets takes the write barrier's slow path (a
 * remembered-set entry each); a small integer is stored as is
 * (docs/INTERNALS.md, "Identity on the objects", has the measurement).  Serials run 1..MAX_SERIAL, then start
 * over with a new class (makeStamp): its private names are new, so no
 * field written before the wrap can be read after it.
 */
function makeStamp() {
  return class Stamp extends Carrier {
    #session = 0;
    #a: number | undefined = undefined;
    #b: number | undefined = undefined;

    // One function per slot, and a separate one for peek: V8 keeps the
    // inline caches of `#session in o` and `o.#session` per function, and
    // they go megamorphic past 4 hidden classes.  The typed walk meets a
    // few classes in slot 0; the values codec meets every shape of plain
    // object and array in slot 1, and asks slot 0 about each (peek).  With
    // shared functions, a process that checkpoints plain values made every
    // typed checkpoint after it ~35% slower (docs/INTERNALS.md).

    /**
     * The entry of slot 0 of o for session s, else undefined; null if o
     * has no fields (and refuses them, or `carry` is false: the caller
     * keeps its entry elsewhere).  With `carry`, gives o the fields if it
     * has none (it is about to get an entry: the walk adds what it does
     * not find), so that put() after it allocates nothing.
     */
    static find0(o: object, s: number, carry: boolean): number | undefined | null {
      if (!(#session in o)) return carry && Stamp.carry(o) ? undefined : null;
      return o.#session === s ? o.#a : undefined;
    }

    /** find0 for slot 1. */
    static find1(o: object, s: number, carry: boolean): number | undefined | null {
      if (!(#session in o)) return carry && Stamp.carry(o) ? undefined : null;
      return o.#session === s ? o.#b : undefined;
    }

    /** find0 without carry, for queries that add nothing (StampedIds.peek). */
    static peek0(o: object, s: number): number | undefined | null {
      if (!(#session in o)) return null;
      return o.#session === s ? o.#a : undefined;
    }

    /** Sets the slot-0 entry of o, which has the fields (find0() gave them); false if it has none (it refused them). */
    static put0(o: object, s: number, v: number | undefined): boolean {
      if (!(#session in o)) return false;
      if (o.#session !== s) {
        o.#session = s;
        o.#b = undefined;
      }
      o.#a = v;
      return true;
    }

    /** put0 for slot 1. */
    static put1(o: object, s: number, v: number | undefined): boolean {
      if (!(#session in o)) return false;
      if (o.#session !== s) {
        o.#session = s;
        o.#a = undefined;
      }
      o.#b = v;
      return true;
    }

    /** Gives o the fields if it has none; false if it refuses them (a TypeError; anything else is thrown). */
    static carry(o: object): boolean {
      if (#session in o) return true;
      try {
        new Stamp(o);
        return true;
      } catch (e) {
        if (e instanceof TypeError) return false;
        throw e;
      }
    }
  };
}

/** The highest session serial before they start over with a new Stamp class (a small integer: 2^30 - 1). */
export const MAX_SERIAL = 0x3fff_ffff;

/** The Stamp class of the serials now handed out, and the last serial handed out. */
let Stamp = makeStamp();
let serial = 0;

/** @internal Tests: the next session gets serial n + 1 (n = MAX_SERIAL: the next one starts over). */
export function setSerialForTest(n: number): void {
  serial = n;
}

/**
 * The open session of this thread.  One whose owner (the checkpoint) is
 * dropped unclosed is closed when the owner is collected (`dropped`), so
 * it does not block the next for ever.  Not a WeakRef to the session: V8
 * keeps a WeakRef's target alive to the end of the job that made it, so a
 * loop of checkpoints that never yields kept every session (~700 bytes a
 * call, 70 MB after 100k calls) until it did.
 */
let open: StampSession | undefined;
const dropped = new FinalizationRegistry<StampSession>((s) => s.close());

/** The serial of a closed session: no entry is read with it (a new object's #session is 0 and says nothing). */
const CLOSED = -1;

/** The right to stamp objects, for one checkpoint: its token and its two tables. */
export class StampSession {
  /** what this session's entries carry: its serial (CLOSED once it is closed) */
  token: number;
  /** The hash's table (slot 0, with its keys listed for iteration) and the values codec's (slot 1). */
  readonly ids: StampedIds;
  readonly values: StampedIds;

  private constructor(carry: boolean) {
    if (serial === MAX_SERIAL) {
      serial = 0;
      Stamp = makeStamp();
    }
    this.token = ++serial;
    this.ids = new StampedIds(this, 0, true, carry);
    this.values = new StampedIds(this, 1, false, carry);
  }

  get closed(): boolean {
    return this.token === CLOSED;
  }

  /**
   * A new session, or undefined while another one is open in this thread.
   * With `carry` false (an incremental checkpoint), objects that have no
   * fields yet do not get them: their entries go to ShardedIds.  Adding
   * the fields to 850k objects met for the first time, slice after slice,
   * made young property arrays for old objects, and the scavenges of them
   * stalled a slice for up to 155 ms (docs/INTERNALS.md); objects stamped
   * by an earlier checkpoint are read and written in place.
   */
  static start(owner: object, carry = true): StampSession | undefined {
    if (open !== undefined && !open.closed) return undefined;
    const s = new StampSession(carry);
    open = s;
    dropped.register(owner, s, s);
    return s;
  }

  /** Ends the session: its tables are empty from now on (the fields stay on the objects, never read again). */
  close(): void {
    if (this.closed) return;
    this.token = CLOSED;
    this.ids.clear();
    this.values.clear();
    dropped.unregister(this);
    if (open === this) open = undefined;
  }
}

/**
 * The part of `Map<object, number>` that ObjHash and the values codec
 * use, kept on the objects (see above).  As with ShardedIds, set() takes
 * a key that is absent: both ask get() or has() first.
 */
export class StampedIds {
  readonly #session: StampSession;
  readonly #slot: number;
  /** keep the keys in insertion order, for iteration (the hash's table) */
  readonly #listed: boolean;
  #keys = new PagedArray<object>();
  #n = 0;
  /** add the fields to objects that have none (else their entries go to #refused) */
  readonly #carry: boolean;
  /** entries of objects that have no fields (they refused them, or #carry is false) */
  #refused: Map<object, number> | ShardedIds;

  constructor(session: StampSession, slot: number, listed: boolean, carry: boolean) {
    this.#session = session;
    this.#slot = slot;
    this.#listed = listed;
    this.#carry = carry;
    this.#refused = carry ? new Map() : new ShardedIds();
  }

  /** The entry of key; gives key the fields if it has none (see Stamp.find0). */
  get(key: object): number | undefined {
    const s = this.#session.token;
    const v = this.#slot === 0 ? Stamp.find0(key, s, this.#carry) : Stamp.find1(key, s, this.#carry);
    return v !== null ? v : this.#refused.get(key);
  }

  /** The entry of key, giving key nothing: for a query about an object the caller may not add (slot 0 only). */
  peek(key: object): number | undefined {
    if (this.#slot !== 0) return this.get(key);
    const v = Stamp.peek0(key, this.#session.token);
    return v !== null ? v : this.#refused.get(key);
  }

  has(key: object): boolean {
    return this.get(key) !== undefined;
  }

  /**
   * Does now what set() may have to allocate (a page of the key list; the
   * key's fields came with get()), so that set() right after is a few
   * stores: ObjHash calls it before a type's grab, so that nothing between
   * the grab and the entry can fail, not even for lack of stack.
   */
  prepare(): void {
    const n = this.#n;
    // (a page starts, or page 0, which grows)
    if (this.#listed && (n < PAGE || (n & PAGE_MASK) === 0)) {
      const p = this.#keys.pages[n >>> PAGE_BITS];
      if (p === undefined || (n & PAGE_MASK) >= p.length) this.#keys.page(n >>> PAGE_BITS, n & PAGE_MASK);
    }
  }

  set(key: object, value: number): this {
    const s = this.#session;
    if (s.closed) throw new Error('StampedIds: the session is closed');
    // (put0/put1 called here, not through #put: a frame less after a grab)
    const t = s.token;
    if (!(this.#slot === 0 ? Stamp.put0(key, t, value) : Stamp.put1(key, t, value))) this.#refused.set(key, value);
    if (this.#listed) this.#keys.set(this.#n++, key);
    return this;
  }

  delete(key: object): boolean {
    if (this.get(key) === undefined) return false;
    if (!this.#refused.delete(key)) this.#put(key, this.#session.token, undefined);
    return true;
  }

  #put(key: object, s: number, v: number | undefined): boolean {
    return this.#slot === 0 ? Stamp.put0(key, s, v) : Stamp.put1(key, s, v);
  }

  /** Drops every entry it lists (the fields stay on the objects). */
  clear(): void {
    this.#keys = new PagedArray();
    this.#n = 0;
    this.#refused = this.#carry ? new Map() : new ShardedIds();
  }

  /**
   * Entries in insertion order (a listed table's; another yields none).
   * A key deleted and set again comes twice, with its entry of now.
   */
  *[Symbol.iterator](): IterableIterator<[object, number]> {
    for (let i = 0; i < this.#n; i++) {
      const k = this.#keys.get(i)!;
      const v = this.get(k);
      if (v !== undefined) yield [k, v];
    }
  }
}
