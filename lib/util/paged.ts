/**
 * Arrays indexed by objref (or by queue position) that grow a page at a
 * time instead of by copying.
 *
 * A JS array that grows past a few hundred thousand elements copies all
 * of them into a new, larger store at once, and a large store is fresh
 * memory: measured on this project's VM (docs/INTERNALS.md, "Pauses"),
 * the step at 579,629 elements takes ~20 ms, and a walker keeps several
 * such arrays that all step at the same count.  Pages of PAGE slots are
 * ordinary small objects: no step ever copies more than one page table,
 * which stops an incremental checkpoint's slice or a sliced restart's
 * from stalling, and the whole walk touches each slot's memory once
 * instead of about three times.
 */
export const PAGE_BITS = 12;
export const PAGE = 1 << PAGE_BITS;
export const PAGE_MASK = PAGE - 1;
/**
 * Slots page 0 starts with.  It grows (doubling, copied) to PAGE as
 * higher slots are set, so that a small checkpoint or restart, whose
 * tables never pass a few dozen slots, allocates a few hundred bytes per
 * table instead of a whole page of each (32 KiB for PagedArray), which
 * was most of its fixed cost (docs/INTERNALS.md, "Small calls").
 */
export const FIRST_PAGE = 32;

/** Length of page k made or grown to hold slot j. */
function pageLength(k: number, j: number, have: number): number {
  if (k !== 0) return PAGE;
  let n = Math.max(FIRST_PAGE, have * 2);
  while (n <= j) n *= 2;
  return Math.min(n, PAGE);
}

/** Slots of any JS value (undefined until set). */
export class PagedArray<T> {
  pages: ((T | undefined)[] | undefined)[] = [];

  get(i: number): T | undefined {
    const p = this.pages[i >>> PAGE_BITS];
    // (past the end of a short page 0: undefined, as a hole)
    return p === undefined ? undefined : p[i & PAGE_MASK];
  }

  set(i: number, v: T): void {
    const k = i >>> PAGE_BITS;
    const j = i & PAGE_MASK;
    let p = this.pages[k];
    if (p === undefined || j >= p.length) p = this.page(k, j);
    p[j] = v;
  }

  /** Page k, made (with every page before it) or grown if it cannot hold slot j (default: its last). */
  page(k: number, j: number = PAGE_MASK): (T | undefined)[] {
    const pages = this.pages;
    while (pages.length < k) pages.push(undefined);
    let p = pages[k];
    // holes read as undefined; filling them would cost as much again as
    // the allocation (measured: 4.7 against 1.5 us a page), once per page
    // of every table of every restart
    if (p === undefined) pages[k] = p = new Array<T | undefined>(pageLength(k, j, 0));
    else if (j >= p.length) {
      const q = new Array<T | undefined>(pageLength(k, j, p.length));
      for (let x = 0; x < p.length; x++) if (x in p) q[x] = p[x];
      pages[k] = p = q;
    }
    return p;
  }
}

/** Slots of int32 (0 until set). */
export class PagedInt32 {
  pages: (Int32Array | undefined)[] = [];

  get(i: number): number {
    const p = this.pages[i >>> PAGE_BITS];
    if (p === undefined) return 0;
    const j = i & PAGE_MASK;
    return j < p.length ? p[j]! : 0;
  }

  set(i: number, v: number): void {
    const k = i >>> PAGE_BITS;
    const j = i & PAGE_MASK;
    let p = this.pages[k];
    if (p === undefined || j >= p.length) p = this.page(k, j);
    p[j] = v;
  }

  /** Page k, made (with every page before it) or grown if it cannot hold slot j (default: its last). */
  page(k: number, j: number = PAGE_MASK): Int32Array {
    const pages = this.pages;
    while (pages.length < k) pages.push(undefined);
    let p = pages[k];
    if (p === undefined) pages[k] = p = new Int32Array(pageLength(k, j, 0));
    else if (j >= p.length) {
      const q = new Int32Array(pageLength(k, j, p.length));
      q.set(p);
      pages[k] = p = q;
    }
    return p;
  }
}
