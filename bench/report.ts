/**
 * Output of the benchmark: text tables for the terminal, Markdown tables,
 * the targets table, the JSON results and a dependency-free SVG bar chart
 * of the main ratios (written by hand as SVG text).
 */

export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
  notes?: string[];
}

export interface Target {
  workload: string;
  /** What is compared, e.g. "T=10k: native ckpt+restart vs v8". */
  name: string;
  /** The issue's wording of the bound, e.g. "≤ 0.6× v8". */
  goal: string;
  /** The measured value (null: not run). */
  measured: number | null;
  cmp: '<=' | '>=';
  limit: number;
  unit: string;
  /** null: not applicable or not run. */
  met: boolean | null;
  /** Why it is n/a, or what it was measured on. */
  note?: string;
}

// ---------------------------------------------------------------- formats

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1) return ms.toFixed(3);
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}

export function fmtNs(ns: number | null | undefined): string {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return '';
  if (ns < 10) return ns.toFixed(2);
  if (ns < 100) return ns.toFixed(1);
  return Math.round(ns).toLocaleString('en-US');
}

export function fmtRatio(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '';
  if (x < 0.1) return `${x.toFixed(3)}×`;
  if (x < 100) return `${x.toFixed(2)}×`;
  return `${x.toFixed(0)}×`;
}

export function fmtBytes(b: number | null | undefined): string {
  if (b === null || b === undefined || !Number.isFinite(b)) return '';
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(1)} KiB`;
  if (b < 1024 * 1024 * 1024) return `${(b / 1024 / 1024).toFixed(2)} MiB`;
  return `${(b / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

export function fmtBytesPer(b: number | null | undefined): string {
  if (b === null || b === undefined || !Number.isFinite(b)) return '';
  return `${b.toFixed(1)} B`;
}

export function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

/** 10000 -> "10k", 1000000 -> "1M". */
export function fmtCount(n: number): string {
  if (n >= 1e6 && n % 1e6 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 1e3 === 0) return `${n / 1e3}k`;
  return String(n);
}

/** x with 2 decimals, or 4 when it is within 1% of 1 (and not 1), so 1.0024 does not print as 1.00. */
function fineFixed(x: number): string {
  return x.toFixed(x !== 1 && Math.abs(x - 1) < 0.01 ? 4 : 2);
}

export function fmtTargetValue(t: Target): string {
  if (t.measured === null) return '';
  if (t.unit === '×') return t.measured !== 1 && Math.abs(t.measured - 1) < 0.01 ? `${fineFixed(t.measured)}×` : fmtRatio(t.measured);
  if (t.unit === 'B') return `${t.measured.toFixed(1)} B`;
  return `${t.measured.toFixed(2)} ${t.unit}`;
}

/** "met", "MISSED by 1.35×", "n/a". */
export function fmtMet(t: Target): string {
  if (t.met === null || t.measured === null) return 'n/a';
  const by = t.cmp === '<=' ? t.measured / t.limit : t.limit / t.measured;
  return t.met ? `met (${fineFixed(1 / by)}× margin)` : `MISSED by ${fineFixed(by)}×`;
}

export function target(
  workload: string,
  name: string,
  goal: string,
  measured: number | null | undefined,
  cmp: '<=' | '>=',
  limit: number,
  unit: string,
  note?: string,
): Target {
  const m = measured === undefined || measured === null || !Number.isFinite(measured) ? null : measured;
  const met = m === null ? null : cmp === '<=' ? m <= limit : m >= limit;
  return { workload, name, goal, measured: m, cmp, limit, unit, met, note };
}

export function targetsTable(targets: Target[], quick: boolean, notes: string[] = []): Table {
  return {
    title: quick ? 'Targets (quick run: small sizes, indicative only)' : 'Targets (numbers from this run)',
    columns: ['workload', 'target', 'goal', 'measured', 'met?'],
    rows: targets.map((t) => [t.workload, t.name, t.goal, fmtTargetValue(t), fmtMet(t) + (t.note ? ` (${t.note})` : '')]),
    notes,
  };
}

// ----------------------------------------------------------------- text

const NUMERIC = /^[-+]?[\d,.]+(\s?(×|B|KiB|MiB|GiB|ms|ns))?(\s\(.*\))?$/;

export function renderText(t: Table): string {
  const widths = t.columns.map((c, i) => Math.max(c.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (NUMERIC.test(c) || c === '' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [t.title, line(t.columns), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of t.rows) out.push(line(r));
  for (const n of t.notes ?? []) out.push(`  ${n}`);
  return out.join('\n');
}

export function renderMarkdown(t: Table): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const align = t.columns.map((_, i) => (t.rows.every((r) => NUMERIC.test(r[i] ?? '') || (r[i] ?? '') === '') ? '---:' : ':---'));
  const out = [`### ${t.title}`, '', `| ${t.columns.map(esc).join(' | ')} |`, `| ${align.join(' | ')} |`];
  for (const r of t.rows) out.push(`| ${r.map(esc).join(' | ')} |`);
  if (t.notes?.length) {
    out.push('');
    for (const n of t.notes) out.push(`${n}`);
  }
  return out.join('\n');
}

// ------------------------------------------------------------------ SVG

export interface ChartBar {
  name: string;
  value: number;
  color: string;
}

export interface ChartRow {
  section: string;
  label: string;
  bars: ChartBar[];
  /** Upper bound for the first bar, drawn as a tick. */
  target?: { value: number; met: boolean; text: string };
}

function escXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A horizontal bar chart, log scale: each bar is a cost relative to the
 * anchor of its row (1 = as fast as the anchor; lower is better).
 */
export function renderSvg(title: string, subtitle: string[], rows: ChartRow[], legend: ChartBar[]): string {
  const W = 1000;
  const left = 200;
  const right = W - 150;
  const barH = 13;
  const gap = 12;
  const top = 52 + subtitle.length * 16 + 24;
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of rows) {
    for (const b of r.bars) {
      if (b.value > 0 && Number.isFinite(b.value)) {
        lo = Math.min(lo, b.value);
        hi = Math.max(hi, b.value);
      }
    }
    if (r.target) {
      lo = Math.min(lo, r.target.value);
      hi = Math.max(hi, r.target.value);
    }
  }
  if (!Number.isFinite(lo)) {
    lo = 0.1;
    hi = 10;
  }
  // whole decades, with room so that no bar or target sits on the edge
  const dLo = Math.floor(Math.log10(Math.min(lo, 1)) - 0.1);
  const dHi = Math.ceil(Math.log10(Math.max(hi, 1)) + 0.1);
  const x = (v: number) => left + ((Math.log10(Math.max(v, 10 ** dLo)) - dLo) / (dHi - dLo)) * (right - left);
  let y = top;
  const body: string[] = [];
  let section = '';
  for (const r of rows) {
    if (r.section !== section) {
      section = r.section;
      y += 8;
      body.push(`<text x="12" y="${y + 10}" class="sec">${escXml(section)}</text>`);
      y += 18;
    }
    const h = r.bars.length * barH;
    body.push(`<text x="${left - 8}" y="${y + h / 2 + 4}" class="lab" text-anchor="end">${escXml(r.label)}</text>`);
    r.bars.forEach((b, i) => {
      const by = y + i * barH;
      const x1 = x(b.value);
      const x0 = x(10 ** dLo);
      body.push(
        `<rect x="${x0.toFixed(1)}" y="${by + 1}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${barH - 2}" fill="${b.color}"><title>${escXml(`${b.name}: ${fmtRatio(b.value)}`)}</title></rect>`,
      );
      body.push(`<text x="${(x1 + 4).toFixed(1)}" y="${by + barH - 3}" class="val">${escXml(`${fmtRatio(b.value)} ${b.name}`)}</text>`);
    });
    if (r.target) {
      const tx = x(r.target.value);
      const col = r.target.met ? '#2ca02c' : '#d62728';
      body.push(`<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${y - 2}" y2="${y + barH + 1}" stroke="${col}" stroke-width="3"/>`);
      body.push(`<text x="${right + 8}" y="${y + barH - 3}" class="tgt" fill="${col}">${escXml(r.target.text)}</text>`);
    }
    y += h + gap;
  }
  const axisY = y + 4;
  const axis: string[] = [];
  for (let d = dLo; d <= dHi; d++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** d;
      if (d === dHi && m > 1) break;
      const xx = x(v);
      axis.push(`<line x1="${xx.toFixed(1)}" x2="${xx.toFixed(1)}" y1="${top}" y2="${axisY}" class="${m === 1 ? 'grid' : 'grid2'}"/>`);
      if (m === 1 || dHi - dLo <= 3)
        axis.push(`<text x="${xx.toFixed(1)}" y="${axisY + 14}" class="tick" text-anchor="middle">${v >= 1 ? v : Number(v.toPrecision(1))}×</text>`);
    }
  }
  const one = x(1);
  axis.push(`<line x1="${one.toFixed(1)}" x2="${one.toFixed(1)}" y1="${top - 6}" y2="${axisY}" class="one"/>`);
  axis.push(`<text x="${one.toFixed(1)}" y="${top - 10}" class="tick" text-anchor="middle">anchor = 1×</text>`);
  const H = axisY + 48;
  const leg = legend
    .map((b, i) => `<rect x="${left + i * 140}" y="${H - 22}" width="12" height="12" fill="${b.color}"/><text x="${left + i * 140 + 16}" y="${H - 12}" class="lab">${escXml(b.name)}</text>`)
    .join('');
  const sub = subtitle.map((s, i) => `<text x="12" y="${44 + i * 16}" class="sub">${escXml(s)}</text>`).join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>',
    '.ttl{font-size:17px;font-weight:bold;fill:#222}.sub{font-size:12px;fill:#555}.sec{font-size:13px;font-weight:bold;fill:#222}',
    '.lab{font-size:12px;fill:#222}.val{font-size:10.5px;fill:#333}.tgt{font-size:11px;font-weight:bold}.tick{font-size:11px;fill:#555}',
    '.grid{stroke:#bbb;stroke-width:1}.grid2{stroke:#e4e4e4;stroke-width:1}.one{stroke:#222;stroke-width:1.5;stroke-dasharray:4 3}',
    '</style>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="12" y="24" class="ttl">${escXml(title)}</text>`,
    sub,
    axis.join(''),
    body.join(''),
    leg,
    '</svg>',
    '',
  ].join('\n');
}
