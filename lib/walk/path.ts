/**
 * Paths to values in error messages: root.a[3].f, root["not an id"].
 */
import type { KindDesc } from '../schema/spec.js';
import type { PathStep } from './refs.js';

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * A step that a hand-written checkpoint took and that cannot be named: the
 * object it asked for is not found in its holder's own properties (it
 * came from elsewhere: a Map lookup, a computed value).  Shown as
 * `<type.checkpoint>`: root.job<job.checkpoint>.v.
 */
export class Via {
  constructor(readonly typeName: string) {}
}

/** "root" followed by each step: .name, [index] or ["key"] (a Via: <type.checkpoint>). */
export function formatPath(steps: readonly (PathStep | Via)[]): string {
  let s = 'root';
  for (const st of steps) {
    if (st instanceof Via) s += `<${st.typeName}.checkpoint>`;
    else if (typeof st === 'number') s += `[${st}]`;
    else if (IDENT.test(st)) s += `.${st}`;
    else s += `[${JSON.stringify(st.length > 40 ? st.slice(0, 40) + '…' : st)}]`;
  }
  return s;
}

/** The name of an object's class, for messages ("Point", or "an object"). */
export function className(v: object): string {
  const c = (v as { constructor?: { name?: unknown } }).constructor;
  return typeof c?.name === 'string' && c.name !== '' ? c.name : 'an anonymous class';
}

/**
 * Where a field's writer first meets `target` in the field's value `v` of
 * kind k: the list indices (items in order, nested lists depth first; []
 * when k holds no list), undefined when it is not there.  Only for error
 * messages: a step from a schema writer names the field, not the item.
 */
export function itemIndices(k: KindDesc, v: unknown, target: unknown): number[] | undefined {
  const out: number[] = [];
  return findItem(k, v, target, out) ? out : undefined;
}

function findItem(k: KindDesc, v: unknown, target: unknown, out: number[]): boolean {
  switch (k.k) {
    case 'opt':
      return v !== undefined && v !== null && findItem(k.of, v, target, out);
    case 'ref':
    case 'value':
      return v === target;
    case 'refs':
    case 'list': {
      if (!Array.isArray(v)) return false;
      // (the items of refs(T) are refs)
      const of = k.k === 'list' ? k.of : undefined;
      for (let i = 0; i < v.length; i++) {
        out.push(i);
        if (of === undefined ? v[i] === target : findItem(of, v[i], target, out)) return true;
        out.pop();
      }
      return false;
    }
    default:
      return false;
  }
}

/** How many values findPath looks at, at most, and how deep. */
const FIND_VALUES = 100_000;
const FIND_DEPTH = 4;

/**
 * The steps (outermost first) from `holder` to `target` through own
 * enumerable data properties, array items and Map/Set entries (their
 * steps as the value codec names them, "<value 3>"), breadth first, at
 * most FIND_DEPTH steps and FIND_VALUES values; undefined when not found.
 * No getter runs.  Only for error messages: where a hand-written
 * checkpoint most likely found an object it asked for.
 */
export function findPath(holder: unknown, target: unknown): PathStep[] | undefined {
  if (typeof holder !== 'object' || holder === null) return undefined;
  // breadth first; each entry: the value, its step, the index of its holder's entry
  const vals: unknown[] = [holder];
  const stepOf: PathStep[] = [''];
  const up: number[] = [-1];
  const depth: number[] = [0];
  const seen = new Set<unknown>([holder]);
  const add = (v: unknown, step: PathStep, from: number): boolean => {
    if (typeof v !== 'object' || v === null || seen.has(v) || vals.length >= FIND_VALUES) return false;
    seen.add(v);
    vals.push(v);
    stepOf.push(step);
    up.push(from);
    depth.push(depth[from]! + 1);
    return v === target;
  };
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i] as object;
    if (depth[i]! >= FIND_DEPTH) continue;
    let hit = false;
    if (v instanceof Map) {
      let n = 0;
      for (const [k, x] of v) {
        if (add(k, `<key ${n}>`, i) || add(x, `<value ${n}>`, i)) {
          hit = true;
          break;
        }
        n++;
      }
    } else if (v instanceof Set) {
      let n = 0;
      for (const x of v) {
        if (add(x, `<value ${n++}>`, i)) {
          hit = true;
          break;
        }
      }
    } else if (!ArrayBuffer.isView(v)) {
      for (const k of Object.keys(v)) {
        const d = Object.getOwnPropertyDescriptor(v, k);
        if (d === undefined || !('value' in d)) continue;
        if (add(d.value, Array.isArray(v) && /^(0|[1-9][0-9]*)$/.test(k) ? Number(k) : k, i)) {
          hit = true;
          break;
        }
      }
    }
    if (hit) {
      const out: PathStep[] = [];
      for (let j = vals.length - 1; j > 0; j = up[j]!) out.push(stepOf[j]!);
      return out.reverse();
    }
  }
  return undefined;
}
