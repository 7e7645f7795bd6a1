/**
 * ValueCodecState: what the value codec keeps for a whole image (the
 * string table, the shape table, the highest objref named so far), one per
 * checkpoint, restart or dump run.  encoding.ts specifies the tables.
 */
import { DUMP_ITEMS } from '../util/dump-list.js';

/**
 * Checkpoint side: a node of the shape trie.  The path from the root spells
 * a key list; `id` is its shape index once defined.  Most nodes have one
 * child, kept inline (k1/c1); a Map holds the others.
 */
export class ShapeNode {
  k1 = '';
  c1: ShapeNode | null = null;
  more: Map<string, ShapeNode> | null = null;
  id = -1;
  /** The key list, once defined. */
  keys: string[] | null = null;
  constructor(
    readonly parent: ShapeNode | null,
    readonly key: string,
    readonly depth: number,
  ) {}

  child(k: string): ShapeNode | null {
    if (this.c1 !== null && this.k1 === k) return this.c1;
    if (this.more !== null) return this.more.get(k) ?? null;
    return null;
  }

  add(k: string): ShapeNode {
    const n = new ShapeNode(this, k, this.depth + 1);
    if (this.c1 === null) {
      this.k1 = k;
      this.c1 = n;
    } else {
      if (this.more === null) this.more = new Map();
      this.more.set(k, n);
    }
    return n;
  }
}

/** Restart side: a defined shape. */
export interface Shape {
  readonly keys: readonly string[];
  /** One of the keys is '__proto__' (defined, not assigned). */
  readonly proto: boolean;
  /** No key is an array index or 'length' (it may be an array's property block). */
  readonly arrayOk: boolean;
  /** Plain objects of this shape made so far, and their factory once it pays (read.ts newShaped). */
  uses: number;
  make: (() => Record<string, unknown>) | undefined;
}

/**
 * The per-image state of the value codec: create one per checkpoint (pass
 * it to every writeValue / writeTagged call of the image), one per restart
 * (readValue / readTagged) and one per dump (describeValue).  Bodies must
 * be written and read in image order.
 */
/** What the codec uses of its identity table: a Map, or a checkpoint's table on the objects (lib/hash/stamped-ids.ts). */
export interface IdTable {
  get(key: object): number | undefined;
  has(key: object): boolean;
  /** key must be absent */
  set(key: object, value: number): unknown;
}

export class ValueCodecState {
  // ---- checkpoint
  /** String -> its index in the string table. */
  readonly strIndex = new Map<string, number>();
  /** Root of the shape trie. */
  readonly shapeRoot = new ShapeNode(null, '', 0);
  /** Shapes defined so far (checkpoint). */
  shapeCount = 0;
  /**
   * The writer's policy for string VALUES (keys are always defined): they
   * are defined in the table while it pays.  Every TABLE_CHECK value
   * definitions, if table hits by values are under 1/8 of them (unique
   * names, ids, paths), later new values are written as literals: a Map
   * insertion per unique string is the dearest step of writing one.
   */
  defineValues = true;
  strDefs = 0;
  strHits = 0;
  strCheck = TABLE_CHECK;
  // ---- restart and dump
  /** The string table. */
  readonly strings: string[] = [];
  /** The shape table. */
  readonly shapes: Shape[] = [];
  /**
   * Identity of the plain objects met so far: >= 0 the value index of an
   * object written inline, < 0 minus the objref of one the walker holds
   * (its own VALUE record).
   */
  ids: IdTable = new Map<object, number>();
  /** Value indexes taken so far (checkpoint). */
  nextIndex = 0;
  // ---- restart
  /** Inline objects by value index (a reserved slot holds PENDING until its body made it). */
  readonly objects: unknown[] = [];
  /** Value indexes whose bodies are being read, innermost last. */
  readonly pend: number[] = [];
  /** The `created` of an inline body: fills the innermost reserved slot. */
  readonly inlineCreated = (obj: unknown): void => {
    this.objects[this.pend.pop()!] = obj;
  };
  // ---- dump
  /** Items shown of one array, Map, Set or property list (DUMP_ITEMS; a test may show all). */
  dumpItems = DUMP_ITEMS;
  // ---- both
  /** Shape factories this restart compiled (read.ts newShaped). */
  factoriesMade = 0;
  /** INLINE levels open in the current record. */
  depth = 0;
  /** Objects written inline in the current record, and how many it may hold (checkpoint). */
  inlined = 0;
  maxInlined = Infinity;
  /** The highest objref a REF / REF_NEXT tag named so far. */
  last = 0;
  /** The objref of the REF tag read last (restart). */
  ref = 0;

  /** The policy's periodic check (see defineValues). */
  checkTable(): void {
    this.defineValues = this.strHits * 8 >= this.strDefs;
    this.strCheck += TABLE_CHECK;
  }
}

/** The slot of an inline object whose body is being read. */
export const PENDING: unknown = Object.freeze({ mark: 'pending' });

/** Value-string definitions between two checks of the table policy. */
const TABLE_CHECK = 4096;
