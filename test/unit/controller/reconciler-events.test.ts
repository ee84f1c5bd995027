// The reconciler's side of link events: a pass only for links the records still need (weft's own
// disconnects delete links too), always after lost events, never stacked, never after stop().

import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { DriverRegistry } from '../../../src/controller/driver-registry.js';
import type { Records } from '../../../src/controller/records.js';
import { Reconciler } from '../../../src/controller/reconciler.js';
import type { NetworkDriver } from '../../../src/driver-api/driver.js';
import type { EndpointRecord, NetworkRecord } from '../../../src/model/network.js';
import { LOST_EVENTS } from '../../../src/sys/netlink/link-monitor.js';

const net = { id: 'a'.repeat(64), name: 'n', driver: 'bridge' } as NetworkRecord;
const ep = { id: 'b'.repeat(64), networkId: net.id, origin: 'weft', createdAt: '' } as EndpointRecord;

function setup() {
  let passes = 0;
  let release: () => void = () => undefined;
  let slow = false;
  const driver = {
    name: 'bridge',
    expectedLinks: (_n: NetworkRecord, eps: EndpointRecord[]) => [{ name: 'wf-aaaa', what: 'bridge' }, ...eps.map((e) => ({ name: `wfh${e.id.slice(0, 12)}`, what: 'veth', endpointId: e.id }))],
    repair: async () => {
      passes++;
      if (slow) await new Promise<void>((r) => (release = r));
      return 0;
    },
  } as unknown as NetworkDriver;
  const records = { networks: async () => [net], endpoints: async () => [ep] } as unknown as Records;
  const drivers = { get: () => driver, all: () => [driver] } as unknown as DriverRegistry;
  const r = new Reconciler(records, drivers, { listLinks: async () => [], deleteLink: async () => undefined }, pino({ level: 'silent' }));
  return { r, passes: () => passes, slow: (v: boolean) => (slow = v), release: () => release() };
}

const settle = () => new Promise((res) => setTimeout(res, 20));

describe('Reconciler.linksDeleted', () => {
  it('runs a pass for a deleted link a record needs, none for links no record needs', async () => {
    const t = setup();
    await t.r.linksDeleted(['wfh000000000000', 'wf-gone']);
    await settle();
    expect(t.passes()).toBe(0);
    await t.r.linksDeleted([`wfh${'b'.repeat(12)}`]);
    await settle();
    expect(t.passes()).toBe(1);
    await t.r.linksDeleted([LOST_EVENTS]);
    await settle();
    expect(t.passes()).toBe(2);
  });

  it('runs once more after a running pass, however many events came meanwhile, and not after stop()', async () => {
    const t = setup();
    t.slow(true);
    await t.r.linksDeleted(['wf-aaaa']);
    await settle();
    expect(t.passes()).toBe(1);
    for (let i = 0; i < 5; i++) await t.r.linksDeleted(['wf-aaaa']);
    t.slow(false);
    t.release();
    await settle();
    expect(t.passes()).toBe(2);
    t.r.stop();
    await t.r.linksDeleted(['wf-aaaa']);
    await settle();
    expect(t.passes()).toBe(2);
  });
});

describe('Reconciler periodic pass: orphan addresses', () => {
  it('every pass runs the orphan address release and counts what it released; a failure of it does not stop the pass', async () => {
    const driver = { name: 'bridge', repair: async () => 0 } as unknown as NetworkDriver;
    const records = { networks: async () => [net], endpoints: async () => [] } as unknown as Records;
    const drivers = { get: () => driver, all: () => [driver] } as unknown as DriverRegistry;
    let calls = 0;
    let fail = false;
    const release = async () => {
      calls++;
      if (fail) throw new Error('store down');
      return 2;
    };
    const r = new Reconciler(records, drivers, { listLinks: async () => [], deleteLink: async () => undefined }, pino({ level: 'silent' }), undefined, undefined, undefined, release);
    expect(await r.repairOnce()).toBe(2);
    expect(r.repairs).toBe(2);
    fail = true;
    expect(await r.repairOnce()).toBe(0);
    expect(calls).toBe(2);
  });
});
