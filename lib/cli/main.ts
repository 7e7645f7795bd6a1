/**
 * The objhash command (bin/objhash.js): inspect, verify and dump checkpoint
 * images (what CRIU's crit does for its images), plus the demo and the
 * benchmark.  No CLI framework: argv is parsed by hand.
 *
 * Exit codes: 0 ok, 1 invalid image or failed command, 2 usage error.
 * Output goes through FdSinks (io.ts), written synchronously.  The
 * commands are loaded lazily, so --help works without loading a backend
 * (and a bad OBJHASH_IMPL is one error line, not a stack trace).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ObjHashError } from '../errors.js';
import { CommandError, EXIT_FAIL, EXIT_OK, EXIT_USAGE, UsageError, type Io } from './common.js';
import { escapeText } from './escape.js';
import { HELP, USAGE } from './help.js';
import { FdSink, OutputClosed } from './io.js';

/** The package root (this file is dist/lib/cli/main.js). */
const ROOT = join(__dirname, '..', '..', '..');
const DIST = join(__dirname, '..', '..');

type Command = (args: string[], io: Io) => number;

const COMMANDS: Record<string, Command> = {
  inspect: (args, io) => (require('./inspect.js') as typeof import('./inspect.js')).inspect(args, io),
  verify: (args, io) => (require('./inspect.js') as typeof import('./inspect.js')).verify(args, io),
  dump: (args, io) => (require('./dump.js') as typeof import('./dump.js')).dump(args, io),
  demo,
  bench,
  help: (args, io) => {
    if (args.length > 1) throw new UsageError('objhash help: expected at most one COMMAND (objhash --help)');
    const c = args[0] === '--help' || args[0] === '-h' ? 'help' : args[0];
    if (c !== undefined && !(c in HELP)) throw new UsageError(`objhash help: unknown command '${c}' (objhash --help)`);
    io.out.write((c === undefined ? USAGE : HELP[c]!) + '\n');
    return EXIT_OK;
  },
};

function demo(args: string[], io: Io): number {
  let keep: string | undefined;
  if (args[0] === '--keep' && args.length === 2) keep = args[1];
  else if (args.length > 0) throw new UsageError(`objhash demo: unexpected argument '${args[0]}' (objhash demo --help)`);
  const file = join(DIST, 'examples', 'demo.js');
  if (!existsSync(file)) throw new CommandError(`objhash demo: ${file} is missing: run \`npm run build\``);
  io.out.flush();
  // the demo prints with console.log: `objhash demo | head` is not an error
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT_OK);
    throw e;
  });
  return (require(file) as { main(keep?: string): number }).main(keep);
}

function bench(args: string[], io: Io): number {
  const file = join(DIST, 'bench', 'run.js');
  if (!existsSync(file)) {
    // the package ships no benchmark (it needs msgpackr and tinybench, devDependencies)
    if (!existsSync(join(ROOT, 'bench')))
      throw new CommandError('objhash bench: the benchmark is not part of the installed package; run `npm run bench` in a clone of the repository');
    throw new CommandError(`objhash bench: ${relative(process.cwd(), file) || file} is missing: run \`npm run build\` (the benchmark is built from bench/)`);
  }
  io.out.flush();
  const r = spawnSync(process.execPath, [file, ...args], { stdio: 'inherit', cwd: ROOT });
  if (r.error) throw new CommandError(`objhash bench: cannot run ${file}: ${r.error.message}`);
  if (r.signal) throw new CommandError(`objhash bench: the benchmark was killed by ${r.signal}`);
  return r.status ?? EXIT_FAIL;
}

function version(io: Io): number {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const { impl } = require('../backend/loader.js') as typeof import('../backend/loader.js');
  io.out.write(`objhash ${pkg.version} (${impl} backend, Node ${process.version})\n`);
  return EXIT_OK;
}

function run(argv: string[], io: Io): number {
  const [cmd, ...args] = argv;
  if (cmd === undefined)
    throw new UsageError(`objhash: missing command: one of ${Object.keys(COMMANDS).join(', ')} (objhash --help)`);
  if (cmd === '--help' || cmd === '-h') return COMMANDS.help!([], io);
  if (cmd === '--version' || cmd === '-V') return version(io);
  if (cmd.startsWith('-')) throw new UsageError(`objhash: unknown option '${cmd}' (objhash --help)`);
  const f = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!f) throw new UsageError(`objhash: unknown command '${cmd}' (objhash --help)`);
  // COMMAND --help (bench's own arguments after `--` are passed on untouched)
  const dd = args.indexOf('--');
  const opts = dd < 0 ? args : args.slice(0, dd);
  if (cmd !== 'help' && (opts.includes('--help') || opts.includes('-h'))) return COMMANDS.help!([cmd], io);
  return f(args, io);
}

/**
 * Runs the command line `argv` (without node and the script); returns the
 * exit code.  Errors are one line on io.err, escaped (they may quote a
 * path, an argument or an image's text).
 */
export function main(argv: string[], io: Io = { out: new FdSink(1), err: new FdSink(2) }): number {
  let code: number;
  let line: string | undefined;
  let stack: string | undefined;
  try {
    code = run(argv, io);
  } catch (e) {
    if (e instanceof OutputClosed) return EXIT_OK; // `objhash dump IMAGE | head`: the reader has what it wanted
    if (e instanceof UsageError) {
      code = EXIT_USAGE;
      line = e.message;
    } else if (e instanceof CommandError) {
      code = EXIT_FAIL;
      line = e.message;
    } else if (e instanceof ObjHashError) {
      code = EXIT_FAIL;
      line = `objhash${argv[0] && !argv[0].startsWith('-') ? ' ' + argv[0] : ''}: ${e.message.replace(/^objhash: /, '').replace(/\s*\n\s*/g, ' ')}`;
    } else {
      code = EXIT_FAIL;
      const err = e as Error;
      line = `objhash: internal error: ${String(err?.message ?? e).replace(/\s*\n\s*/g, ' ')}`;
      if (process.env.OBJHASH_DEBUG) stack = String(err?.stack);
    }
    line = escapeText(line);
    // (the stack, with OBJHASH_DEBUG, spans lines: each escaped)
    if (stack !== undefined) line += '\n' + stack.split('\n').map(escapeText).join('\n');
  }
  try {
    io.out.flush();
  } catch (e) {
    if (!(e instanceof OutputClosed)) throw e;
  }
  try {
    if (line !== undefined) io.err.write(line + '\n');
    io.err.flush();
  } catch (e) {
    if (!(e instanceof OutputClosed)) throw e;
  }
  return code;
}
