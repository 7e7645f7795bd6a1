/**
 * A real graph with parent pointers, declared with a schema in a few lines:
 * the TypeScript compiler's syntax tree of a source file, as a tree of
 * nodes that point at their parent and their children (a cycle on every
 * edge).  No hand-written bytes, no reference() call, any depth.
 *
 *   node dist/examples/ast.js [file.ts|file.js]   (default: this package's lib/context/restart.ts)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { checkpoint, defineObjType, opt, ref, refs, restart, type ImplName, type ObjType } from '../lib/index.js';

export interface AstNode {
  kind: number;
  flags: number;
  pos: number;
  end: number;
  text: string | undefined;
  parent: AstNode | null;
  children: AstNode[];
}

/** The whole schema: seven fields. */
export const AstNodeT: ObjType<AstNode> = defineObjType<AstNode>({
  name: 'ast-node',
  fields: {
    kind: 'uv',
    flags: 'u32',
    pos: 'uv',
    end: 'uv',
    text: opt('str'),
    parent: ref(() => AstNodeT),
    children: refs(() => AstNodeT),
  },
});

/** Our tree of `source`'s syntax, built without recursion (syntax trees can be deep). */
export function parse(fileName: string, source: string): { root: AstNode; count: number } {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false);
  const mk = (n: ts.Node, parent: AstNode | null): AstNode => ({
    kind: n.kind,
    flags: n.flags >>> 0,
    pos: Math.max(0, n.pos),
    end: Math.max(0, n.end),
    text: ts.isIdentifier(n) || ts.isStringLiteral(n) || ts.isNumericLiteral(n) ? n.text : undefined,
    parent,
    children: [],
  });
  const root = mk(sf, null);
  let count = 1;
  const stack: [ts.Node, AstNode][] = [[sf, root]];
  while (stack.length > 0) {
    const [n, mine] = stack.pop()!;
    ts.forEachChild(n, (c) => {
      const child = mk(c, mine);
      mine.children.push(child);
      count++;
      stack.push([c, child]);
    });
  }
  return { root, count };
}

/** Checkpoints the tree and restarts it; the counts, bytes and time. */
export function roundTrip(root: AstNode, impl?: ImplName): { image: Uint8Array; back: AstNode; ms: number } {
  const t0 = performance.now();
  const image = checkpoint(root, AstNodeT, { impl });
  const back = restart(image, AstNodeT, { impl });
  return { image, back, ms: performance.now() - t0 };
}

/** Whether a and b are the same tree, parents included (iterative). */
export function sameTree(a: AstNode, b: AstNode): boolean {
  const stack: [AstNode, AstNode][] = [[a, b]];
  while (stack.length > 0) {
    const [x, y] = stack.pop()!;
    if (x.kind !== y.kind || x.flags !== y.flags || x.pos !== y.pos || x.end !== y.end || x.text !== y.text) return false;
    if (x.children.length !== y.children.length) return false;
    for (let i = 0; i < x.children.length; i++) {
      if (y.children[i]!.parent !== y) return false;
      stack.push([x.children[i]!, y.children[i]!]);
    }
  }
  return true;
}

function main(): void {
  const file = process.argv[2] ?? join(__dirname, '..', '..', 'lib', 'context', 'restart.ts');
  const { root, count } = parse(file, readFileSync(file, 'utf8'));
  const { image, back, ms } = roundTrip(root);
  console.log(`${file}: ${count} syntax nodes with parent pointers`);
  console.log(`objhash image: ${image.length} bytes; checkpoint + restart ${ms.toFixed(1)} ms; same tree: ${sameTree(root, back)}`);
}

if (require.main === module) main();
