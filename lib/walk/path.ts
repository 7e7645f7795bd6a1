/**
 * Paths to values in error messages: root.a[3].f, root["not an id"].
 */
import type { KindDesc } from '../schema/spec.js';
import type { PathStep } from './refs.js';

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** "root" followed by each step: .name, [index] or ["key"]. */
export function formatPath(steps: readonly PathStep[]): string {
  let s = 'root';
  for (const st of steps) {
    if (typeof st === 'number') s += `[${st}]`;
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
