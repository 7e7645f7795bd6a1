/**
 * The examples run in the suite: the real-graph example (a TypeScript
 * syntax tree with parent pointers, declared with a schema) on both
 * backends, a deep tree included.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectImage } from '../lib/index.js';
import { parse, roundTrip, sameTree } from '../examples/ast.js';
import { IMPLS } from './helpers.js';

describe.each(IMPLS)('examples/ast.ts (%s)', (impl) => {
  it('a source file of this package round-trips with every parent pointer', () => {
    const file = join(__dirname, '..', 'lib', 'context', 'restart.ts');
    const { root, count } = parse(file, readFileSync(file, 'utf8'));
    expect(count).toBeGreaterThan(1000);
    const { image, back } = roundTrip(root, impl);
    expect(sameTree(root, back)).toBe(true);
    expect(back.children[0]!.parent).toBe(back);
    expect(inspectImage(image, { impl }).objects[0]!.count).toBe(count);
  });

  it('a syntax tree 50,000 levels deep (a long sum nests to the left) needs no depth limit', () => {
    const depth = 50_000;
    const { root, count } = parse('deep.ts', `x = a${' + a'.repeat(depth)};`);
    expect(count).toBeGreaterThan(depth);
    const { back } = roundTrip(root, impl);
    expect(sameTree(root, back)).toBe(true);
  });
});
