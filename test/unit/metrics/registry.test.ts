import { describe, expect, it } from 'vitest';
import { Registry, escapeLabelValue } from '../../../src/metrics/registry.js';
import { parseMetricsAddr } from '../../../src/metrics/listen-address.js';

describe('metrics registry text format', () => {
  it('renders counters and gauges with HELP, TYPE and escaped labels', async () => {
    const r = new Registry();
    const c = r.counter('weft_things_total', 'Things.\nCounted', ['kind']);
    const g = r.gauge('weft_level', 'A level.');
    c.inc({ kind: 'a "quoted"\\ value\n' });
    c.inc({ kind: 'b' }, 2);
    c.inc({ kind: 'b' });
    g.set({}, 1.5);
    const text = await r.render();
    expect(text).toContain('# HELP weft_things_total Things.\\nCounted\n# TYPE weft_things_total counter\n');
    expect(text).toContain('weft_things_total{kind="a \\"quoted\\"\\\\ value\\n"} 1\n');
    expect(text).toContain('weft_things_total{kind="b"} 3\n');
    expect(text).toContain('# TYPE weft_level gauge\nweft_level 1.5\n');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('renders histograms with cumulative buckets, +Inf, sum and count', async () => {
    const r = new Registry();
    const h = r.histogram('weft_op_seconds', 'Op time.', ['op'], [0.01, 0.1, 1]);
    for (const v of [0.005, 0.05, 0.05, 0.5, 5]) h.observe({ op: 'x' }, v);
    const lines = (await r.render()).split('\n').filter((l) => l.startsWith('weft_op_seconds'));
    expect(lines).toEqual([
      'weft_op_seconds_bucket{op="x",le="0.01"} 1',
      'weft_op_seconds_bucket{op="x",le="0.1"} 3',
      'weft_op_seconds_bucket{op="x",le="1"} 4',
      'weft_op_seconds_bucket{op="x",le="+Inf"} 5',
      'weft_op_seconds_sum{op="x"} 5.605',
      'weft_op_seconds_count{op="x"} 5',
    ]);
  });

  it('refuses bad names, missing or unknown labels, negative increments and duplicates', () => {
    const r = new Registry();
    expect(() => r.counter('9bad', 'x')).toThrow(/bad metric name/);
    expect(() => r.histogram('weft_h', 'x', ['le'])).toThrow(/bad label/);
    const c = r.counter('weft_c_total', 'x', ['a']);
    expect(() => c.inc({})).toThrow(/label a missing/);
    expect(() => c.inc({ a: '1', b: '2' })).toThrow(/unknown label b/);
    expect(() => c.inc({ a: '1' }, -1)).toThrow(/only go up/);
    expect(() => r.gauge('weft_c_total', 'x')).toThrow(/twice/);
    expect(() => r.histogram('weft_h2', 'x', [], [1, 0.5])).toThrow(/increasing/);
  });

  it('runs collectors on every scrape and reports the ones that fail', async () => {
    const r = new Registry();
    const g = r.gauge('weft_pool', 'x', ['pool']);
    let n = 0;
    r.onCollect(async () => {
      g.reset();
      g.set({ pool: `p${++n}` }, n);
    });
    r.onCollect(async () => {
      throw new Error('store down');
    });
    expect(await r.render()).toContain('weft_pool{pool="p1"} 1\n');
    const second = await r.render();
    expect(second).toContain('weft_pool{pool="p2"} 2\n');
    expect(second).not.toContain('p1');
    expect(second).toContain('weft_metrics_collect_failures 1\n');
  });

  it('escapes label values the way the exposition format says', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });

  it('accepts explicit IP:PORT metrics addresses only', () => {
    expect(parseMetricsAddr('127.0.0.1:9323')).toEqual({ host: '127.0.0.1', port: 9323 });
    expect(parseMetricsAddr('[::1]:9323')).toEqual({ host: '::1', port: 9323 });
    for (const bad of ['localhost:9323', '0.0.0.0:9323', '[::]:9323', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', ':9323']) {
      expect(() => parseMetricsAddr(bad), bad).toThrow(/invalid metrics-addr/);
    }
  });
});
