// Order statistics for the bench: nearest-rank percentiles on copies (inputs stay in run order).

export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

export const median = (v) => percentile(v, 50);
export const p99 = (v) => percentile(v, 99);

/** {median, p99, min, max, n} in the unit of the input. */
export function summary(values) {
  return { n: values.length, median: median(values), p99: p99(values), min: Math.min(...values), max: Math.max(...values) };
}

/** Ratios of paired runs (A/B per round, interleaved): median and spread (min..max, p10..p90). */
export function pairedRatios(a, b) {
  const r = a.map((x, i) => x / b[i]).filter((x) => Number.isFinite(x));
  return { median: median(r), p10: percentile(r, 10), p90: percentile(r, 90), min: Math.min(...r), max: Math.max(...r), n: r.length };
}

/** Medians of consecutive buckets of `size` samples: [{x: endpoints so far, y: median}]. */
export function bucketMedians(values, size) {
  const out = [];
  for (let i = 0; i < values.length; i += size) {
    const chunk = values.slice(i, i + size);
    out.push({ x: i + chunk.length, y: median(chunk) });
  }
  return out;
}

export const ms = (ns) => Number(ns) / 1e6;
