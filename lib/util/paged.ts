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

/** Slots of any JS value (undefined until set). */
export class PagedArray<T> {
  pages: ((T | undefined)[] | undefined)[] = [];

  get(i: number): T | undefined {
    const p = this.pages[i >>> PAGE_BITS];
    return p === undefined ? undefined : p[i & PAGE_MASK];
  }

  set(i: number, v: T): void {
    const p = this.pages[i >>> PAGE_BITS] ?? this.page(i >>> PAGE_BITS);
    p[i & PAGE_MASK] = v;
  }

  /** Page k, made (with every page before it) if absent. */
  page(k: number): (T | undefined)[] {
    const pages = this.pages;
    while (pages.length < k) pages.push(undefined);
    let p = pages[k];
    // holes read as undefined; filling them would cost as much again as
    // the allocation (measured: 4.7 against 1.5 us a page), once per page
    // of every table of every restart
    if (p === undefined) pages[k] = p = new Array<T | undefined>(PAGE);
    return p;
  }
}

/** Slots of int32 (0 until set). */
export class PagedInt32 {
  pages: (Int32Array | undefined)[] = [];

  get(i: number): number {
    const p = this.pages[i >>> PAGE_BITS];
    return p === undefined ? 0 : p[i & PAGE_MASK]!;
  }

  set(i: number, v: number): void {
    const p = this.pages[i >>> PAGE_BITS] ?? this.page(i >>> PAGE_BITS);
    p[i & PAGE_MASK] = v;
  }

  page(k: number): Int32Array {
    const pages = this.pages;
    while (pages.length < k) pages.push(undefined);
    let p = pages[k];
    if (p === undefined) pages[k] = p = new Int32Array(PAGE);
    return p;
  }
}
