/**
 * Whether this process may make functions from strings (`new Function`).
 * It may not under node --disallow-code-generation-from-strings (or a
 * host that turns code generation off the same way).  The generated code
 * of objhash is a speed-up where it has a plain twin (the ASCII decoder,
 * the plain-value object factories) and the whole of a `fields` type's
 * reader and writer, which are refused with a clear error instead.
 */
export const codegen: boolean = (() => {
  try {
    return (new Function('return true') as () => boolean)() === true;
  } catch {
    return false;
  }
})();
