/**
 * The walker's and the facade's tables that grow without stalling
 * (lib/util/paged.ts, lib/hash/sharded-ids.ts): the same answers as the
 * Map and the array they stand for, across page and shard boundaries.
 * They are backend-independent JS; what uses them runs on both backends
 * in streams.test.ts (an incremental checkpoint past one shard).
 */
import { describe, expect, it } from 'vitest';
import { FIRST_PAGE, PAGE, PagedArray, PagedInt32 } from '../lib/util/paged.js';
import { SHARD, ShardedIds } from '../lib/hash/sharded-ids.js';

describe('PagedArray and PagedInt32', () => {
  it('read back what was set, across pages, with gaps; unset slots are undefined (0)', () => {
    const a = new PagedArray<string>();
    const b = new PagedInt32();
    const at = [0, 1, PAGE - 1, PAGE, PAGE + 1, 5 * PAGE + 7, 40 * PAGE];
    for (const i of at) {
      a.set(i, `v${i}`);
      b.set(i, i + 1);
    }
    for (const i of at) {
      expect(a.get(i)).toBe(`v${i}`);
      expect(b.get(i)).toBe(i + 1);
    }
    for (const i of [2, PAGE + 2, 3 * PAGE, 39 * PAGE + 5, 41 * PAGE, 1 << 30]) {
      expect(a.get(i)).toBeUndefined();
      expect(b.get(i)).toBe(0);
    }
    expect(a.pages.length).toBe(41);
    expect(a.pages[3]).toBeUndefined(); // no page where nothing was set
    a.set(PAGE, undefined as never);
    expect(a.get(PAGE)).toBeUndefined();
  });

  it('page 0 starts small and grows to a whole page, keeping what it holds (holes stay unset)', () => {
    const a = new PagedArray<number>();
    const b = new PagedInt32();
    a.set(3, 30);
    b.set(3, 30);
    expect(a.pages[0]!.length).toBe(FIRST_PAGE);
    expect(b.pages[0]!.length).toBe(FIRST_PAGE);
    // past the small page: read as unset, no page grown by a read
    expect(a.get(FIRST_PAGE + 5)).toBeUndefined();
    expect(b.get(FIRST_PAGE + 5)).toBe(0);
    expect(b.get(PAGE - 1)).toBe(0);
    expect(a.pages[0]!.length).toBe(FIRST_PAGE);
    // a slot far past it: grown at once to hold it, then to the whole page
    for (const i of [FIRST_PAGE, 5 * FIRST_PAGE + 1, PAGE - 1]) {
      a.set(i, i);
      b.set(i, i);
      expect(a.pages[0]!.length).toBeGreaterThan(i);
      expect(a.pages[0]!.length).toBeLessThanOrEqual(PAGE);
      expect(a.get(3)).toBe(30);
      expect(b.get(3)).toBe(30);
      expect(a.get(i)).toBe(i);
      expect(b.get(i)).toBe(i);
    }
    expect(a.pages[0]!.length).toBe(PAGE);
    expect(b.pages[0]!.length).toBe(PAGE);
    expect(1 in a.pages[0]!).toBe(false);
    // page(k, j): made or grown for slot j, as a caller about to set it needs
    const c = new PagedArray<number>();
    expect(c.page(0, 100).length).toBeGreaterThan(100);
    expect(c.page(2).length).toBe(PAGE);
  });
});

describe('ShardedIds', () => {
  it('answers as a Map does past two full shards: get, has, delete, insertion order', () => {
    const n = 2 * SHARD + 1000;
    const objs = Array.from({ length: n }, (_, i) => ({ i }));
    const ids = new ShardedIds();
    for (let i = 0; i < n; i++) ids.set(objs[i]!, i + 1);
    expect(ids.size).toBe(n);
    for (const i of [0, 1, SHARD - 1, SHARD, SHARD + 1, 2 * SHARD, n - 1]) {
      expect(ids.get(objs[i]!)).toBe(i + 1);
      expect(ids.has(objs[i]!)).toBe(true);
    }
    expect(ids.get({})).toBeUndefined();
    expect(ids.has({})).toBe(false);
    // delete from an old shard, from the current one, and a key that is absent
    expect(ids.delete(objs[5]!)).toBe(true);
    expect(ids.delete(objs[n - 1]!)).toBe(true);
    expect(ids.delete(objs[5]!)).toBe(false);
    expect(ids.get(objs[5]!)).toBeUndefined();
    expect(ids.get(objs[n - 1]!)).toBeUndefined();
    const order: number[] = [];
    for (const [o, v] of ids) {
      expect(v).toBe((o as { i: number }).i + 1);
      order.push(v);
    }
    expect(order.length).toBe(n - 2);
    for (let k = 1; k < order.length; k++) expect(order[k]).toBeGreaterThan(order[k - 1]!);
  });
});
