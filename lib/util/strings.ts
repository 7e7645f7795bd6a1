const isWF = (String.prototype as unknown as { isWellFormed?: (this: string) => boolean }).isWellFormed;

/** Whether s has no lone surrogate, so that UTF-8 holds it (String.prototype.isWellFormed where the engine has it). */
export function wellFormed(s: string): boolean {
  if (isWF !== undefined) return isWF.call(s);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff || i + 1 === s.length) return false;
    const d = s.charCodeAt(i + 1);
    if (d < 0xdc00 || d > 0xdfff) return false;
    i++;
  }
  return true;
}
