import { describe, expect, it } from 'vitest';
import { CountingRunner } from '../../../src/metrics/counting-runner.js';
import { collectRuntime, createWeftMetrics } from '../../../src/metrics/weft-metrics.js';
import type { CommandRunner } from '../../../src/sys/exec.js';

describe('runtime metrics (issue 8)', () => {
  it('follows the reconciler and overlay totals by difference and lists peers per overlay network', async () => {
    const m = createWeftMetrics();
    let repairs = 0;
    let overlay = { repairs: 0, networks: {} as Record<string, { vxlan: string; peers: number }> };
    collectRuntime(m, { reconcilerRepairs: () => repairs, overlay: () => overlay });
    expect(await m.registry.render()).toContain('weft_reconciler_repairs_total 0\n');
    repairs = 3;
    overlay = { repairs: 2, networks: { n1: { vxlan: 'wfv1', peers: 4 }, n2: { vxlan: 'wfv2', peers: 0 } } };
    let text = await m.registry.render();
    expect(text).toContain('weft_reconciler_repairs_total 3\n');
    expect(text).toContain('weft_overlay_repairs_total 2\n');
    expect(text).toContain('weft_overlay_peers_programmed{network="n1",vxlan="wfv1"} 4\n');
    expect(text).toContain('weft_overlay_peers_programmed{network="n2",vxlan="wfv2"} 0\n');
    // A second scrape with no change adds nothing; a network that leaves is no longer listed.
    repairs = 5;
    overlay = { repairs: 2, networks: { n1: { vxlan: 'wfv1', peers: 5 } } };
    text = await m.registry.render();
    expect(text).toContain('weft_reconciler_repairs_total 5\n');
    expect(text).toContain('weft_overlay_repairs_total 2\n');
    expect(text).not.toContain('network="n2"');
  });

  it('counts every process weftd starts, by program', async () => {
    const m = createWeftMetrics();
    const seen: string[][] = [];
    const fake: CommandRunner = { run: async (argv) => (seen.push(argv), { stdout: '', stderr: '', code: 0 }) };
    const r = new CountingRunner(fake, m.processSpawns);
    await r.run(['ip', '-n', 'x', 'link']);
    await r.run(['/usr/sbin/nft', '-f', '-']);
    await r.run(['ip', 'addr']);
    expect(seen).toHaveLength(3);
    const text = await m.registry.render();
    expect(text).toContain('weft_process_spawns_total{program="ip"} 2\n');
    expect(text).toContain('weft_process_spawns_total{program="nft"} 1\n');
  });
});
