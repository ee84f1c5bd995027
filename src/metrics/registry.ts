// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text
// exposition format 0.0.4. Written here rather than taken from prom-client because weft needs a
// handful of metric kinds and no default process collectors, and every dependency is a supply risk.
// Format: https://prometheus.io/docs/instrumenting/exposition_formats/

export type Labels = Record<string, string>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function assertName(name: string): void {
  if (!NAME.test(name)) throw new Error(`bad metric name ${JSON.stringify(name)}`);
}

/** Label values escape backslash, double quote and newline; HELP text escapes backslash and newline. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Go's and Prometheus' spelling of special floats. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function renderLabels(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? '')}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

abstract class Metric<S> {
  protected readonly series = new Map<string, { values: string[]; state: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    assertName(name);
    for (const l of labelNames) {
      if (!LABEL.test(l) || l.startsWith('__') || l === 'le') throw new Error(`bad label name ${JSON.stringify(l)} on ${name}`);
    }
  }

  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected abstract fresh(): S;
  protected abstract renderSeries(values: string[], state: S): string[];

  protected stateFor(labels: Labels): S {
    const values = this.labelNames.map((n) => {
      const v = labels[n];
      if (v === undefined) throw new Error(`metric ${this.name}: label ${n} missing`);
      return v;
    });
    for (const k of Object.keys(labels)) if (!this.labelNames.includes(k)) throw new Error(`metric ${this.name}: unknown label ${k}`);
    const key = JSON.stringify(values);
    let s = this.series.get(key);
    if (!s) {
      s = { values, state: this.fresh() };
      this.series.set(key, s);
    }
    return s.state;
  }

  /** Drops every series (scrape-time gauges are rebuilt from scratch). */
  reset(): void {
    this.series.clear();
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const { values, state } of this.series.values()) lines.push(...this.renderSeries(values, state));
    return lines.join('\n');
  }
}

export class Counter extends Metric<{ v: number }> {
  readonly type = 'counter' as const;
  protected fresh() {
    return { v: 0 };
  }
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name} can only go up (got ${by})`);
    this.stateFor(labels).v += by;
  }
  get(labels: Labels = {}): number {
    return this.stateFor(labels).v;
  }
  protected renderSeries(values: string[], s: { v: number }): string[] {
    return [`${this.name}${renderLabels(this.labelNames, values)} ${formatValue(s.v)}`];
  }
}

export class Gauge extends Metric<{ v: number }> {
  readonly type = 'gauge' as const;
  protected fresh() {
    return { v: 0 };
  }
  set(labels: Labels, v: number): void {
    this.stateFor(labels).v = v;
  }
  get(labels: Labels = {}): number {
    return this.stateFor(labels).v;
  }
  protected renderSeries(values: string[], s: { v: number }): string[] {
    return [`${this.name}${renderLabels(this.labelNames, values)} ${formatValue(s.v)}`];
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

/** Seconds, from 0.5 ms to 10 s: attach targets are in milliseconds, Docker operations in tenths. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Histogram extends Metric<HistogramState> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[] = LATENCY_BUCKETS) {
    super(name, help, labelNames);
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new Error(`histogram ${name}: buckets must be finite and increasing`);
    }
    this.buckets = buckets;
  }
  protected fresh(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }
  observe(labels: Labels, v: number): void {
    const s = this.stateFor(labels);
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }
  snapshot(labels: Labels): { count: number; sum: number } {
    const s = this.stateFor(labels);
    return { count: s.count, sum: s.sum };
  }
  protected renderSeries(values: string[], s: HistogramState): string[] {
    // Buckets are cumulative already (observe counts every bucket the value fits in).
    const out = this.buckets.map((b, i) => `${this.name}_bucket${renderLabels(this.labelNames, values, ['le', formatValue(b)])} ${s.counts[i]}`);
    out.push(`${this.name}_bucket${renderLabels(this.labelNames, values, ['le', '+Inf'])} ${s.count}`);
    out.push(`${this.name}_sum${renderLabels(this.labelNames, values)} ${formatValue(s.sum)}`);
    out.push(`${this.name}_count${renderLabels(this.labelNames, values)} ${s.count}`);
    return out;
  }
}

type AnyMetric = Counter | Gauge | Histogram;

export class Registry {
  private readonly metrics = new Map<string, AnyMetric>();
  private readonly collectors: Array<() => Promise<void>> = [];

  private add<M extends AnyMetric>(m: M): M {
    if (this.metrics.has(m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.set(m.name, m);
    return m;
  }
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }
  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets?: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }

  /** Runs before every scrape: for values read from elsewhere (pools, endpoints) rather than counted. */
  onCollect(fn: () => Promise<void>): void {
    this.collectors.push(fn);
  }

  /** The text exposition; collectors that fail leave their metrics as they were and count in `failures`. */
  async render(): Promise<string> {
    const results = await Promise.allSettled(this.collectors.map((fn) => fn()));
    const failures = results.filter((r) => r.status === 'rejected').length;
    const body = [...this.metrics.values()].map((m) => m.render()).join('\n');
    const scrape = `# HELP weft_metrics_collect_failures Collectors that failed during this scrape.\n# TYPE weft_metrics_collect_failures gauge\nweft_metrics_collect_failures ${failures}`;
    return `${body}\n${scrape}\n`;
  }
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
