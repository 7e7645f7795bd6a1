/**
 * Escaping of the text the objhash command prints.  An image is untrusted
 * input: a type name, an ERROR record's message or a STRING can hold
 * newlines, terminal escapes (ESC [ 2 J clears the screen; U+009B is the
 * one-character CSI), carriage returns, BEL, or bidi controls that reorder
 * what a terminal shows; so can a file name.  Everything the command
 * prints that it did not write itself (type names, messages, STRING text,
 * paths, error messages that quote them) goes through escapeText() or,
 * in --json output, jsonText(), so that no such character reaches the
 * terminal raw:
 *
 *   C0 controls U+0000-001F     \n \r \t, the others \x1b-style
 *   DEL U+007F                  \x7f
 *   C1 controls U+0080-009F     \u009b-style
 *   bidi controls U+061C, U+200E-200F, U+202A-202E, U+2066-2069,
 *   line/paragraph separators U+2028-2029            \u202e-style
 *
 * In JSON, JSON.stringify already escapes C0 (and quotes and backslashes);
 * jsonText also escapes the rest as \uXXXX, which JSON parses back to the
 * same string.  A backslash is left as it is in text mode (paths stay
 * readable), so there "\n" can also be a backslash and an n; JSON (and
 * dump's JSON-quoted STRING text) is unambiguous.
 */

/** The characters escaped beyond C0 (which JSON.stringify escapes itself). */
const BEYOND_C0 = '\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';
const UNSAFE_TEXT = new RegExp(`[\\x00-\\x1f${BEYOND_C0}]`, 'g');
const UNSAFE_JSON = new RegExp(`[${BEYOND_C0}]`, 'g');

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function hex(c: string, digits: number): string {
  return c.charCodeAt(0).toString(16).padStart(digits, '0');
}

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  if (code < 0x20 || code === 0x7f) return NAMED[c] ?? `\\x${hex(c, 2)}`;
  return `\\u${hex(c, 4)}`;
}

/** `s` with its control, bidi and line-separator characters escaped (text output). */
export function escapeText(s: string): string {
  return s.replace(UNSAFE_TEXT, escapeChar);
}

/** JSON.stringify(v), with DEL, C1, bidi and line-separator characters escaped as \uXXXX too (--json output). */
export function jsonText(v: unknown): string {
  return JSON.stringify(v).replace(UNSAFE_JSON, (c) => `\\u${hex(c, 4)}`);
}
