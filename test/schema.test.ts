/**
 * Declarative types through the public API, on both backends: fields
 * round-trip, parent pointers and cycles need no reference(), classes keep
 * their prototype, hand-written and schema types mix, a 1,000,000-deep
 * ref chain checkpoints and restarts, the schema travels in the image
 * (mismatches listed field by field, evolution by defaults), and the
 * objhash command dumps schema records field by field.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpoint, defineObjType, inspectImage, list, opt, ref, refs, restart, type ObjType } from '../lib/index.js';
import { IMPLS, expectCode } from './helpers.js';

interface Node {
  kind: number;
  flags: number;
  text?: string | null;
  parent: Node | null;
  children: Node[];
  tags: string[];
  meta: unknown;
}
const NodeT: ObjType<Node> = defineObjType<Node>({
  name: 'node',
  fields: {
    kind: 'uv',
    flags: 'u32',
    text: opt('str'),
    parent: ref(() => NodeT),
    children: refs(() => NodeT),
    tags: list('vstr'),
    meta: 'value',
  },
});

function tree(depth: number, fan: number, parent: Node | null = null): Node {
  const n: Node = { kind: depth, flags: 0xfffffff0 + depth, text: depth % 2 ? `n${depth}` : null, parent, children: [], tags: ['a', 'b'], meta: { depth } };
  if (depth > 0) for (let i = 0; i < fan; i++) n.children.push(tree(depth - 1, fan, n));
  return n;
}

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
  norm(): number {
    return Math.hypot(this.x, this.y);
  }
}
const PointT = defineObjType<Point>({ name: 'point', fields: { x: 'f64', y: 'f64' }, create: Point });

const dir = mkdtempSync(join(tmpdir(), 'objhash-schema-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(IMPLS)('schema types (%s)', (impl) => {
  const o = { impl, types: [NodeT, PointT] };

  it('round-trip every field, with parent pointers (cycles) and no reference() call', () => {
    const root = tree(4, 3);
    const back = restart(checkpoint(root, NodeT, o), NodeT, o);
    const check = (a: Node, b: Node): void => {
      expect(b.kind).toBe(a.kind);
      expect(b.flags).toBe(a.flags);
      expect(b.text).toBe(a.text);
      expect(b.tags).toEqual(a.tags);
      expect(b.meta).toEqual(a.meta);
      expect(b.children.length).toBe(a.children.length);
      b.children.forEach((c, i) => {
        expect(c.parent).toBe(b);
        check(a.children[i]!, c);
      });
    };
    check(root, back);
    expect(back.parent).toBe(null);
  });

  it('class types restore with their prototype; plain values may hold their instances', () => {
    const p = restart(checkpoint(new Point(3, 4), PointT, o), PointT, o);
    expect(p).toBeInstanceOf(Point);
    expect(p.norm()).toBe(5);
    const shared = new Point(1, 1);
    const v = restart(checkpoint({ a: shared, b: [shared, new Point(2, 2)] }, o), o) as { a: Point; b: Point[] };
    expect(v.a).toBeInstanceOf(Point);
    expect(v.b[0]).toBe(v.a);
    expect(v.b[1]!.norm()).toBeCloseTo(Math.SQRT2 * 2);
  });

  it('class types: the constructor is not run, every field is the object\'s own, a setter on the prototype runs once per field read', () => {
    let constructed = 0;
    class Rec {
      a = 0;
      b = '';
      c: Rec | null = null;
      d = 0;
      e = false;
      f = 0;
      g = 0;
      constructor() {
        constructed++;
      }
      sum(): number {
        return this.a + this.d + this.f + this.g;
      }
    }
    const RecT: ObjType<Rec> = defineObjType<Rec>({
      name: 'rec',
      fields: { a: 'uv', b: 'vstr', c: ref(() => RecT), d: 'uv', e: 'bool', f: 'uv', g: 'uv' },
      create: Rec,
    });
    const r1 = Object.assign(new Rec(), { a: 1, b: 'one', d: 2, e: true, f: 3, g: 4 });
    const r2 = Object.assign(new Rec(), { a: 5, b: 'two', c: r1, d: 6, f: 7, g: 8 });
    r1.c = r2;
    constructed = 0;
    const back = restart(checkpoint(r1, RecT, { impl, types: [RecT] }), RecT, { impl, types: [RecT] });
    expect(constructed).toBe(0);
    expect(back).toBeInstanceOf(Rec);
    expect(Object.getPrototypeOf(back)).toBe(Rec.prototype);
    expect(Object.keys(back)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(back.sum()).toBe(10);
    expect(back.c!.c).toBe(back);
    expect(back.c!.b).toBe('two');

    // a field the prototype defines (here a setter): only the reader's assignment runs it
    const seen: unknown[] = [];
    class Guarded {
      stored = 0;
      set v(x: number) {
        seen.push(x);
        this.stored = x;
      }
      get v(): number {
        return this.stored;
      }
    }
    // (only v is a field: `stored` follows from it, so the type declared is Pick<Guarded, 'v'>)
    const GuardedT = defineObjType<Pick<Guarded, 'v'>>({ name: 'guarded', fields: { v: 'uv' }, create: Guarded });
    const g = new Guarded();
    g.v = 42;
    seen.length = 0;
    const gb = restart(checkpoint(g, GuardedT, { impl, types: [GuardedT] }), GuardedT, { impl, types: [GuardedT] });
    expect(gb).toBeInstanceOf(Guarded);
    expect(gb.v).toBe(42);
    expect(seen).toEqual([42]);
  });

  it('hand-written types can refer to schema types and back', () => {
    interface Holder {
      node: Node;
      note: string;
    }
    const HolderT: ObjType<Holder> = defineObjType<Holder>({
      name: 'holder',
      checkpoint(ctx, h) {
        ctx.begin(150).vref(h.node, NodeT).vstr(h.note).end();
      },
      restore(ctx) {
        ctx.readRecord(150);
        return { node: ctx.requireVref(NodeT), note: ctx.vstr() };
      },
    });
    const root = tree(2, 2);
    const types = [HolderT, NodeT, PointT];
    const back = restart(checkpoint({ node: root, note: 'hi' }, HolderT, { impl, types }), HolderT, { impl, types });
    expect(back.note).toBe('hi');
    expect(back.node.children[1]!.parent).toBe(back.node);
  });

  it('a 1,000,000-deep ref chain checkpoints and restarts (no recursion)', () => {
    let head: Node | null = null;
    for (let i = 0; i < 1_000_000; i++) {
      const n: Node = { kind: i, flags: 0, text: undefined, parent: head, children: [], tags: [], meta: null };
      head = n;
    }
    const img = checkpoint(head!, NodeT, o);
    let back: Node | null = restart(img, NodeT, o);
    let n = 0;
    while (back) {
      n++;
      back = back.parent;
    }
    expect(n).toBe(1_000_000);
  });

  it('an object referred to before its record is made once, by the reference, and filled by the record', () => {
    let made = 0;
    interface Item {
      id: number;
      next: Item | null;
      kids: Item[];
    }
    const ItemT: ObjType<Item> = defineObjType<Item>({
      name: 'item',
      fields: { id: 'uv', next: ref(() => ItemT), kids: refs(() => ItemT) },
      create: () => (made++, { id: -1, next: null, kids: [] }),
    });
    const items: Item[] = Array.from({ length: 50 }, (_, id) => ({ id, next: null, kids: [] }));
    items.forEach((it, i) => {
      it.next = items[(i * 7 + 3) % 50]!;
      it.kids = [items[(i + 1) % 50]!, items[(i * 3) % 50]!];
    });
    const back = restart(checkpoint(items[0]!, ItemT, { impl, types: [ItemT] }), ItemT, { impl, types: [ItemT] });
    expect(made).toBe(50);
    const seen = new Map<number, Item>();
    const walk = [back];
    while (walk.length) {
      const x = walk.pop()!;
      if (seen.has(x.id)) {
        expect(seen.get(x.id)).toBe(x);
        continue;
      }
      seen.set(x.id, x);
      expect(x.next!.id).toBe((x.id * 7 + 3) % 50);
      expect(x.kids.map((k) => k.id)).toEqual([(x.id + 1) % 50, (x.id * 3) % 50]);
      walk.push(x.next!, ...x.kids);
    }
    expect(seen.size).toBe(50);
  });

  it('a reference to an objref of another type, or to one no record defines, is refused', () => {
    interface A {
      n: number;
    }
    interface B {
      m: number;
    }
    interface Holder {
      x: A;
      y: B;
    }
    const AT = defineObjType<A>({ name: 'a', fields: { n: 'uv' } });
    const BT = defineObjType<B>({ name: 'b', fields: { m: 'uv' } });
    const HT = defineObjType<Holder>({ name: 'holder', fields: { x: ref(AT), y: ref(BT) } });
    const oo = { impl, types: [HT, AT, BT] };
    const img = checkpoint({ x: { n: 1 }, y: { m: 2 } }, HT, oo);
    // the holder's FIELDS record (H 0x0d, length 2): objrefs 2 (x) and 3 (y)
    let at = -1;
    for (let i = 0; i + 3 < img.length && at < 0; i++) if (img[i] === 0x0d && img[i + 1] === 2 && img[i + 2] === 2 && img[i + 3] === 3) at = i;
    expect(at).toBeGreaterThan(0);
    expect(restart(img, HT, oo)).toEqual({ x: { n: 1 }, y: { m: 2 } });
    const swapped = img.slice();
    swapped[at + 2] = 3;
    swapped[at + 3] = 2;
    expectCode(() => restart(swapped, HT, oo), 'ENOMSG', /objref 2, referred to as a b by the record at offset \d+, is a a/);
    const missing = img.slice();
    missing[at + 2] = 9;
    const e = expectCode(() => restart(missing, HT, oo), 'EINVAL', /objref 9 is referred to by the record at offset \d+ but no object has it/);
    expect(e.offset).toBe(at);
  });

  it('a value of the wrong kind is EINVAL naming type and field', () => {
    expectCode(() => checkpoint({ x: 'no', y: 1 } as never, PointT, o), 'EINVAL', /point\.x/);
    const bad = { ...tree(0, 0), flags: 2 ** 32 };
    expectCode(() => checkpoint(bad, NodeT, o), 'EINVAL', /node\.flags/);
  });

  describe('the schema travels in the image', () => {
    const V1 = defineObjType<{ a: number; b: string }>({ name: 'rec', fields: { a: 'uv', b: 'vstr' } });
    const img = checkpoint({ a: 7, b: 'x' }, V1, { impl, types: [V1] });

    it('restart compares it with the given type: a mismatch lists every differing field', () => {
      const Other = defineObjType<{ a: number; b: number }>({ name: 'rec', fields: { a: 'u16', b: 'uv', c: 'u8' } as never });
      const e = expectCode(() => restart(img, Other, { impl, types: [Other] }), 'EINVAL');
      expect(e.message).toMatch(/'a'/);
      expect(e.message).toMatch(/'b'/);
      expect(e.message).toMatch(/'c'/);
    });

    it('a field added with a default or as opt() reads the old image', () => {
      const V2 = defineObjType<{ a: number; b: string; c: number; d?: string }>({
        name: 'rec',
        fields: { a: 'uv', b: 'vstr', c: { kind: 'uv', default: 42 }, d: opt('str') },
      });
      const r = restart(img, V2, { impl, types: [V2] });
      expect(r).toEqual({ a: 7, b: 'x', c: 42, d: undefined });
    });

    it('an older type refuses an image written by a newer one (a field it does not know), naming the field', () => {
      const Older = defineObjType<{ a: number }>({ name: 'rec', fields: { a: 'uv' } });
      expectCode(() => restart(img, Older, { impl, types: [Older] }), 'EINVAL', /field 'b' \(vstr\) is in the image but not in this type/);
    });

    it('a type with fields and one with hand-written ops of the same name do not mix', () => {
      const Hand = defineObjType<{ a: number }>({ name: 'rec', restore: (ctx) => (ctx.readRecord(101), { a: ctx.uv() }) });
      expectCode(() => restart(img, Hand, { impl, types: [Hand] }), 'EINVAL', /with fields, but the type given has hand-written ops/);
    });
  });

  it('objhash dump shows schema records field by field, and verify accepts them', () => {
    const path = join(dir, `schema-${impl}.img`);
    writeFileSync(path, checkpoint(tree(1, 2), NodeT, o));
    expect(inspectImage(path, { impl }).valid).toBe(true);
    const bin = join(__dirname, '..', 'bin', 'objhash.js');
    const d = spawnSync(process.execPath, [bin, 'dump', path], { encoding: 'utf8', env: { ...process.env, OBJHASH_IMPL: impl } });
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/FIELDS/);
    expect(d.stdout).toMatch(/kind[=:] ?1/);
    expect(d.stdout).toMatch(/flags[=:] ?4294967281/);
    expect(d.stdout).toMatch(/tags[=:] ?\[?"?a/);
  });

  it('an object reached through a ref(T) field and inside a value field is one object; met inline first, it is refused by path', () => {
    interface Leaf {
      n: number;
    }
    interface Root {
      leaf: Leaf | null;
      bag: unknown;
    }
    const LeafT = defineObjType<Leaf>({ name: 'leaf', fields: { n: 'uv' } });
    const RootT = defineObjType<Root>({ name: 'root', fields: { leaf: ref(LeafT), bag: 'value' } });
    const ts = { impl, types: [RootT, LeafT] };
    const leaf = { n: 1 };
    const root: Root = { leaf, bag: { leaf, me: null as unknown } };
    (root.bag as { me: unknown }).me = root;
    const back = restart(checkpoint(root, RootT, ts), RootT, ts);
    const bag = back.bag as { leaf: Leaf; me: Root };
    expect(bag.leaf).toBe(back.leaf);
    expect(bag.me).toBe(back);
    expect(back.leaf!.n).toBe(1);
    // the value first: the plain copy would be a second object, so it is refused
    const Root2T = defineObjType<Root>({ name: 'root2', fields: { bag: 'value', leaf: ref(LeafT) } });
    expectCode(() => checkpoint({ bag: { leaf }, leaf }, Root2T, { impl, types: [Root2T, LeafT] }), 'EINVAL', /root\.leaf: this object was written before inside a plain value .* cannot also be a leaf/);
  });

  it('a ref(T) or refs(T) field holding no object (a number, a string, a bigint, a function) is EINVAL naming the field', () => {
    interface Holder {
      one: unknown;
      many: unknown[];
    }
    const LeafT = defineObjType<{ v?: number }>({ name: 'leaf', fields: { v: opt('u8') } });
    const HolderT = defineObjType<Holder>({ name: 'holder', fields: { one: ref(LeafT as ObjType<any>), many: refs(LeafT as ObjType<any>) } });
    const ts = { impl, types: [HolderT, LeafT] };
    for (const bad of [5, 'abc', 5n, true, () => 1]) {
      expectCode(() => checkpoint({ one: bad, many: [] }, HolderT, ts), 'EINVAL', /holder\.one: expected an object of type 'leaf' or null/);
      expectCode(() => checkpoint({ one: null, many: [{}, bad] }, HolderT, ts), 'EINVAL', /holder\.many\[1\]: expected an object of type 'leaf' or null/);
    }
  });

  it("'str' and 'vstr' refuse a lone surrogate (UTF-8 has none) instead of changing it; a 'value' field keeps it", () => {
    const T = defineObjType<{ s: string; v: string; x: unknown }>({ name: 'strs', fields: { s: 'str', v: 'vstr', x: 'value' } });
    const ts = { impl, types: [T] };
    expectCode(() => checkpoint({ s: 'a\ud800', v: 'ok', x: 0 }, T, ts), 'EINVAL', /strs\.s: str: expected a string without lone surrogates/);
    expectCode(() => checkpoint({ s: 'ok', v: '\u00e9\udc00', x: 0 }, T, ts), 'EINVAL', /strs\.v: vstr: expected a string without lone surrogates/);
    const back = restart(checkpoint({ s: '\u00e9\ud83d\ude00', v: 'ok', x: 'a\ud800' }, T, ts), T, ts);
    expect(back).toEqual({ s: '\u00e9\ud83d\ude00', v: 'ok', x: 'a\ud800' });
  });

  it('a default is what the field reads: 5 for a u64 field comes back as 5n from an image without the field', () => {
    const Old = defineObjType<{ a: number }>({ name: 'ev', fields: { a: 'uv' } });
    const img = checkpoint({ a: 1 }, Old, { impl, types: [Old] });
    const New = defineObjType<{ a: number; b: bigint; c: bigint }>({ name: 'ev', fields: { a: 'uv', b: { kind: 'u64', default: 5 as unknown as bigint }, c: { kind: 'i64', default: -2n } } });
    const back = restart(img, New, { impl, types: [New] });
    expect(back.b).toBe(5n);
    expect(back.c).toBe(-2n);
  });

  it('an instance of a registered class is a root of checkpoint(value, { types }) as anywhere else', () => {
    const ts = { impl, types: [PointT] };
    const p = new Point(3, 4);
    const back = restart(checkpoint(p, ts), ts) as Point;
    expect(back).toBeInstanceOf(Point);
    expect([back.x, back.y]).toEqual([3, 4]);
  });
});
