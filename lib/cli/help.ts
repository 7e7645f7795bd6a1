/** The objhash command's help texts (kept apart so --help loads no backend). */

export const USAGE = `usage: objhash <command> [options]

Inspect, verify and dump objhash checkpoint images (what CRIU's crit does
for CRIU's images), run the demo or the benchmark.

commands:
  inspect IMAGE          header and type table, records and bytes by type,
                         objects by objtype, sharing, tail status
  verify IMAGE           check the structure and the CRC32C; exit 0 if valid
  dump IMAGE [--json]    every record: offset, type, len, decoded payload
  demo [--keep PATH]     run the process-tree demo (as npm start)
  bench [ARGS...]        run the benchmark (as npm run bench)
  help [COMMAND]         this text, or a command's

options:
  -h, --help             help (also: objhash COMMAND --help)
  --version              the package version and the backend

exit status: 0 ok, 1 invalid image or failed command, 2 usage error.
environment: OBJHASH_IMPL=native|js picks the backend (default: native if it
loads); the image format and the output are the same with both.
On a terminal, images over 64 MiB show a progress line on stderr.
Text from an image or the command line (type names, messages, strings,
file names) is printed with control, bidi and line-separator characters
escaped: \\n, \\x1b, \\u009b, \\u202e (in --json as \\uXXXX).
Format: docs/FORMAT.md.`;

export const HELP: Record<string, string> = {
  inspect: `usage: objhash inspect IMAGE

Walks the image without restoring it and prints:
  - the header: format version, flags, the type table (objtype, name);
  - records by type: count, bytes (header + payload + padding), share;
  - objects by objtype: one per OBJREF record, every type of the table;
  - sharing (see below);
  - the tail: TAIL's offset, object count and CRC32C, and whether they
    hold, or the ERROR record of a failed checkpoint.

Sharing.  The image stores each shared object once: its OBJREF record and
its state come where the checkpoint first met it; every later reference is
an objref (an i32 or varint) inside the referring type's own record, in a
layout only that type's ops know.  No record counts references, so the
references per object cannot be read from the image with certainty (an i32
that happens to equal an objref is not one), and inspect does not guess.
It reports what the image does say: objects defined (each exactly once),
and the state records and bytes per object, which is what every further
reference to an object did not cost.

An invalid image: inspect prints what it read, then one line on stderr
with the offset and the reason (as verify), and exits 1.`,

  verify: `usage: objhash verify IMAGE

Checks the whole image, as restart would before reading any object:
  - the HEADER (magic, version 1 or 2, type table with each type's schema);
  - every record: known type, present in full, within 64 MiB;
    version 1: 8-byte alignment, len (OBJREF 16, TAIL 24), zero padding;
    version 2: varint head and length, at most 5 bytes each;
  - every OBJREF (version 2: implicit or explicit): objtype in the type
    table, objref > 0, defined once, at most 2^20 beyond the objects
    defined before it (maxObjrefGap);
  - the end: TAIL with its magic, object count (= OBJREF records) and
    CRC32C of every byte before it, and nothing after it.
Exit 0 and "IMAGE: valid: ..." on stdout when it holds; otherwise exit 1
and one line on stderr: "IMAGE: invalid: CODE at offset N: reason".  An
image that ends in an ERROR record (a failed checkpoint) is invalid (EIO,
with the checkpoint's message).  Objrefs inside user records are not
checked: their layout belongs to the types (restart checks them).`,

  dump: `usage: objhash dump IMAGE [--json]

Lists every record in order: offset, type name, len, and the payload:
  HEADER          version, flags, the type table
  OBJREF          objref, objtype and its name
  STRING          the text (JSON-quoted; the first 80 characters)
  BUFFER, user    hex: the first 64 bytes, then "…(+N bytes)"
  FIELDS, VALUE   the fields or the value, decoded; of each array, Map,
                  Set, property list or refs field the first 100 items,
                  then {"more": N} (in --json too)
  TAIL            object count, CRC32C, "ok" once checked
  ERROR           the failed checkpoint's message

--json   one JSON object per line: {"offset","type","name","len",...} plus
         "types" (HEADER), "objtype","typeName","objref" (OBJREF), "text"
         (STRING; also "hex" if it is not valid UTF-8), "hex" (BUFFER,
         user records: the WHOLE payload), "count","crc","ok" (TAIL),
         "message" (ERROR).  An invalid image ends with a line
         {"error": CODE, "offset": N, "message": ...}.

dump streams: it reads through a bounded window and writes as it goes, so
any image size works (memory: the largest record), and it stops at once
when the reader goes away (objhash dump IMAGE | head).  It checks what
verify checks: on a corrupt image it prints the records it could read,
then one line on stderr with the offset and the reason, and exits 1.`,

  demo: `usage: objhash demo [--keep PATH]

Checkpoints a simulated process tree (threads sharing a file table and an
mm, files shared between processes, cycles back to the owner task) to a
file, inspects it, restarts it and verifies identity, sharing and cycles.
With --keep, the image stays at PATH (npm start keeps ./proctree.objhash).
Exit 0 when every check passes.`,

  bench: `usage: objhash bench [--quick] [--only W1,W3] [--json PATH] [--svg PATH]

Runs the benchmark (node dist/bench/run.js, the same as npm run bench);
the arguments are passed on to it (--quick: tiny sizes, a smoke test).`,

  help: `usage: objhash help [COMMAND]

Prints the list of commands, or COMMAND's help (as objhash COMMAND --help).`,
};
