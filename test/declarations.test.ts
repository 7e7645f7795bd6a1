/**
 * The published types: the .d.ts files tsc emits for lib/ show no internal
 * member (no `_`-prefixed name, nothing marked @internal, no seam), so a
 * consumer cannot reach the contexts' private access to the hash.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const out = mkdtempSync(join(tmpdir(), 'objhash-dts-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function declarations(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.d.ts'))
    .map((f) => join(dir, f));
}

describe('published declarations', () => {
  it('have no internal member', () => {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--emitDeclarationOnly', '--outDir', out], {
      cwd: join(__dirname, '..'),
      stdio: 'pipe',
    });
    const files = declarations(join(out, 'lib'));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      expect(text, f).not.toMatch(/^\s*(readonly\s+)?_\w+\??[(:]/m);
      expect(text, f).not.toMatch(/@internal/);
      expect(text, f).not.toMatch(/\bseam\b/);
      expect(text, f).not.toMatch(/^\s*(readonly\s+)?(hash|writer|reader): /m); // the contexts keep theirs private
    }
  });
});
