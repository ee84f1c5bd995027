// MeteredController's bookkeeping: one observation per call with the network's driver, errors by
// code, store errors counted apart. The inner controller is a stand-in: the wrapper is what is
// tested here (test/integration/metrics.test.ts runs it around the real controller).

import { describe, expect, it } from 'vitest';
import type { Controller } from '../../../src/controller/controller.js';
import { MeteredController } from '../../../src/metrics/metered-controller.js';
import { createWeftMetrics } from '../../../src/metrics/weft-metrics.js';
import { ErrorCodes, WeftError } from '../../../src/model/errors.js';
import type { NetworkRecord } from '../../../src/model/network.js';

const net: NetworkRecord = {
  id: 'n'.repeat(64), name: 'web', driver: 'bridge', origin: 'weft', options: {}, internal: false, enableIPv6: false, ipv4: [], ipv6: [], createdAt: '2026-01-01T00:00:00Z',
};

function inner(overrides: Partial<Controller>): Controller {
  const refuse = () => {
    throw new Error('not used');
  };
  return new Proxy(overrides as Controller, { get: (t, k) => (t as unknown as Record<string | symbol, unknown>)[k] ?? refuse });
}

describe('MeteredController', () => {
  it('observes each call by operation, driver and outcome, looking the driver up once', async () => {
    let lookups = 0;
    const m = createWeftMetrics();
    const c = new MeteredController(
      inner({
        getNetwork: async () => {
          lookups++;
          return net;
        },
        connect: async () => ({ id: 'e', networkId: net.id, origin: 'weft', createdAt: '' }),
        disconnect: async () => {
          throw new WeftError(ErrorCodes.STORE_UNAVAILABLE, 'store down');
        },
      }),
      m,
    );
    await c.connect('web', { netns: 'x' });
    await c.connect('web', { netns: 'y' });
    await expect(c.disconnect('web', 'x')).rejects.toThrow('store down');
    expect(lookups).toBe(1);
    expect(m.operationSeconds.snapshot({ operation: 'connect', driver: 'bridge', outcome: 'ok' }).count).toBe(2);
    expect(m.operationSeconds.snapshot({ operation: 'disconnect', driver: 'bridge', outcome: 'error' }).count).toBe(1);
    expect(m.operationErrors.get({ operation: 'disconnect', driver: 'bridge', code: ErrorCodes.STORE_UNAVAILABLE })).toBe(1);
    expect(m.storeErrors.get({ code: ErrorCodes.STORE_UNAVAILABLE })).toBe(1);
  });

  it('labels an unknown network "unknown" and a non-weft error "internal"', async () => {
    const m = createWeftMetrics();
    const c = new MeteredController(
      inner({
        getNetwork: async () => {
          throw new WeftError(ErrorCodes.NETWORK_NOT_FOUND, 'no such network');
        },
        join: async () => {
          throw new Error('boom');
        },
      }),
      m,
    );
    await expect(c.join('gone', 'e', { path: '/run/netns/x' })).rejects.toThrow('boom');
    expect(m.operationErrors.get({ operation: 'join', driver: 'unknown', code: 'internal' })).toBe(1);
    expect(m.storeErrors.get({ code: ErrorCodes.STORE_UNAVAILABLE })).toBe(0);
  });
});
