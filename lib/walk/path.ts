/**
 * Paths to values in error messages: root.a[3].f, root["not an id"].
 */
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
