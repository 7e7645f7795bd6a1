/**
 * How a dump shows a long list (an array, a Map, a Set, a property list,
 * a `refs` field): the first DUMP_ITEMS items, as util.inspect's
 * maxArrayLength does, then { more: n }.  The rest are still read, as
 * restart reads them, so the reader's state stays in step; only their
 * descriptions are dropped, so a record of millions of items is not a
 * line of hundreds of megabytes.
 */
export const DUMP_ITEMS = 100;

/** Adds x, the i-th item, to a dump's list if it is one of the first `max`. */
export function listItem(list: unknown[], i: number, x: unknown, max: number): void {
  if (i < max) list.push(x);
}

/** A dump's list of n items, with { more } for those not shown. */
export function listEnd(list: unknown[], n: number, max: number): unknown[] {
  if (n > max) list.push({ more: n - max });
  return list;
}
