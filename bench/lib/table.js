/** Plain-text tables and number formats for the benchmark report. */

/**
 * Renders `rows` (arrays of strings) under `headers` with aligned columns. `align` holds 'l' or
 * 'r' per column (default: first column left, the rest right).
 */
export function renderTable(headers, rows, align = headers.map((_, i) => (i === 0 ? 'l' : 'r'))) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells) =>
    cells
      .map((c, i) => (align[i] === 'l' ? String(c ?? '').padEnd(widths[i]) : String(c ?? '').padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Shown for a value that could not be measured (no peer, no reference). */
export const NONE = '—';

/** Three significant digits, without exponent for the usual ranges. */
export function sig(x) {
  if (x === undefined || !Number.isFinite(x)) return NONE;
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

/** Seconds as milliseconds. */
export const ms = (seconds) => (seconds === undefined ? NONE : sig(seconds * 1e3));

/** A speed ratio: `4.2×`. */
export const times = (ratio) => (ratio === undefined || !Number.isFinite(ratio) ? NONE : `${sig(ratio)}×`);

/** A fraction as a percentage: `23%`. */
export const percent = (fraction) => (fraction === undefined || !Number.isFinite(fraction) ? NONE : `${sig(fraction * 100)}%`);

/** A count with thousands grouped: `1 677 722`. */
export const count = (n) => (n === undefined ? NONE : n.toLocaleString('en-US').replace(/,/g, ' '));

/** Bytes in MB (10⁶). */
export const megabytes = (bytes) => `${sig(bytes / 1e6)} MB`;

/** Bytes in MiB (2²⁰), as cache sizes are quoted. */
export const mebibytes = (bytes) => `${sig(bytes / 2 ** 20)} MiB`;
