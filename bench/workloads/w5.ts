/**
 * W5 - CRC-32C throughput (the image checksum) over one buffer: the
 * native backend (SSE4.2 crc32 instructions when the CPU has them, else
 * its table) against the twin's slicing-by-16 JS.
 */
import { randomFillSync } from 'node:crypto';
import { getBackend } from '../../lib/backend/loader.js';
import { measure, type Group } from '../harness.js';
import type { BenchConfig, Env } from '../run.js';
import { fmtBytes, fmtMs, fmtRatio, type Table } from '../report.js';

export interface W5Row {
  impl: 'native' | 'twin';
  ms: number;
  gbPerS: number;
  vsTwin: number | null;
  samples: number;
}

export interface W5Result {
  id: 'W5';
  bytes: number;
  hardware: boolean | null;
  rows: W5Row[];
}

export async function runW5(cfg: BenchConfig, env: Env): Promise<W5Result> {
  const size = cfg.w5Bytes;
  const buf = new Uint8Array(size);
  // randomFillSync takes at most 2^31-1 bytes per call
  for (let off = 0; off < size; off += 1 << 30) randomFillSync(buf, off, Math.min(1 << 30, size - off));
  const impls: ('native' | 'twin')[] = env.nativeAvailable ? ['native', 'twin'] : ['twin'];
  const fns = new Map<string, (b: Uint8Array, c: number) => number>();
  for (const i of impls) {
    const b = getBackend(i === 'native' ? 'native' : 'js');
    fns.set(i, (x, c) => b.crc32c(x, c));
  }
  // the two agree, and extending works (crc of a||b from crc of a)
  const want = fns.get('twin')!(buf, 0);
  for (const [i, f] of fns) {
    const half = size >> 1;
    if (f(buf, 0) !== want || f(buf.subarray(half), f(buf.subarray(0, half), 0)) !== want)
      throw new Error(`bench: W5: ${i} crc32c disagrees with the twin`);
  }
  let got = 0;
  const groups: Group[] = impls.map((i) => {
    const f = fns.get(i)!;
    return {
      name: i,
      cases: [
        {
          name: i,
          fn: () => {
            got = f(buf, 0);
          },
          after: () => {
            if (got !== want) throw new Error(`bench: W5: ${i} crc32c changed`);
          },
        },
      ],
    };
  });
  env.log(`W5: ${size} bytes, ${cfg.w5Rounds} rounds`);
  const m = await measure(groups, { rounds: cfg.w5Rounds, iterations: cfg.w5Iterations, warmup: true });
  const twinMs = m.get('twin')!.median;
  const rows: W5Row[] = impls.map((i) => {
    const ms = m.get(i)!.median;
    return { impl: i, ms, gbPerS: size / (ms / 1000) / 1e9, vsTwin: i === 'native' ? ms / twinMs : null, samples: m.get(i)!.samples.length };
  });
  return { id: 'W5', bytes: size, hardware: env.crc32cHardware, rows };
}

export function w5Table(r: W5Result): Table {
  return {
    title: `W5 - CRC-32C over ${fmtBytes(r.bytes)}`,
    columns: ['impl', 'ms', 'GB/s', 'vs twin', 'n'],
    rows: r.rows.map((x) => [
      x.impl === 'native' ? `native (${r.hardware ? 'SSE4.2' : 'table'})` : 'twin (slicing-by-16)',
      fmtMs(x.ms),
      x.gbPerS.toFixed(2),
      fmtRatio(x.vsTwin),
      String(x.samples),
    ]),
    notes: ['GB = 10^9 bytes; medians; vs twin = time ÷ the twin\'s (lower is better).'],
  };
}
