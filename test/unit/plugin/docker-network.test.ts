// The checks NetworkDriver handlers make before acting on a Docker request (found by the fuzz
// test, test/integration/fuzz.test.ts): exact network ids on the right socket, and endpoint
// addresses Docker's IPAM could have handed out.

import { describe, expect, it } from 'vitest';
import { ErrorCodes, isWeftError } from '../../../src/model/errors.js';
import type { EndpointRecord, NetworkRecord } from '../../../src/model/network.js';
import { checkEndpointAddress } from '../../../src/plugin/handlers/docker-network.js';
import { networkDriverHandlers as h } from '../../../src/plugin/handlers/network-driver.js';
import { ENDPOINT_ID, NETWORK_ID, fixture, makeCtx } from './recording-fakes.js';

const NET: NetworkRecord = {
  id: NETWORK_ID,
  name: 'docker-4b9d1e0f6c2a',
  driver: 'bridge',
  origin: 'docker',
  options: {},
  internal: false,
  enableIPv6: true,
  ipv4: [{ subnet: '10.50.0.0/16', gateway: '10.50.0.1', auxAddresses: { router: '10.50.0.2' } }],
  ipv6: [{ subnet: 'fd00:50::/64', gateway: 'fd00:50::1', auxAddresses: {} }],
  createdAt: '2024-01-01T00:00:00.000Z',
};
const held: EndpointRecord[] = [
  // A weft endpoint (a cluster network serves both front doors); Docker's own holders are judged by the controller.
  { id: 'ee'.repeat(32), networkId: NETWORK_ID, origin: 'weft', addressV4: '10.50.0.7/16', addressV6: 'fd00:50::7/64', createdAt: NET.createdAt },
];

function codeOf(f: () => void): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return isWeftError(e) ? e.code : `not a WeftError: ${String(e)}`;
  }
}

describe('checkEndpointAddress', () => {
  it.each(['10.50.0.8/16', '10.50.255.254/16', 'fd00:50::8/64', 'fd00:50::ffff/64'])('accepts %s', (a) => {
    expect(codeOf(() => checkEndpointAddress(NET, held, a))).toBeUndefined();
  });

  it.each([
    ['10.51.0.1/16', ErrorCodes.ADDRESS_OUT_OF_POOL, 'outside every subnet'],
    ['10.50.0.8/24', ErrorCodes.ADDRESS_OUT_OF_POOL, "another prefix length than the subnet's"],
    ['10.50.0.0/16', ErrorCodes.ADDRESS_OUT_OF_POOL, 'the network address'],
    ['10.50.255.255/16', ErrorCodes.ADDRESS_OUT_OF_POOL, 'the broadcast address'],
    ['10.50.0.1/16', ErrorCodes.ADDRESS_IN_USE, 'the gateway'],
    ['10.50.0.2/16', ErrorCodes.ADDRESS_IN_USE, 'an aux address'],
    ['10.50.0.7/16', ErrorCodes.ADDRESS_IN_USE, "another endpoint's"],
    ['fd00:50:0:0::7/64', ErrorCodes.ADDRESS_IN_USE, "another endpoint's, spelled differently"],
    ['fd00:51::7/64', ErrorCodes.ADDRESS_OUT_OF_POOL, 'outside the IPv6 subnet'],
  ])('refuses %s (%s: %s)', (a, code, _why) => {
    expect(codeOf(() => checkEndpointAddress(NET, held, a))).toBe(code);
  });

  it('refuses an IPv6 address on a network without an IPv6 subnet', () => {
    expect(codeOf(() => checkEndpointAddress({ ...NET, ipv6: [] }, [], 'fd00:50::8/64'))).toBe(ErrorCodes.ADDRESS_OUT_OF_POOL);
  });
});

describe('NetworkDriver handlers act only on the exact Docker network of their socket', () => {
  it('CreateEndpoint refuses an address outside the network before the controller is called', async () => {
    const env = makeCtx();
    const body = { ...fixture('NetworkDriver.CreateEndpoint'), Interface: { Address: '10.99.0.5/16', AddressIPv6: '', MacAddress: '' } };
    await expect(h['NetworkDriver.CreateEndpoint']!(body, env.ctx)).rejects.toMatchObject({ code: ErrorCodes.ADDRESS_OUT_OF_POOL });
    expect(env.controller.calls).toEqual([]);
  });

  it('CreateEndpoint refuses a -p on [::1] before the controller is called', async () => {
    const env = makeCtx();
    const body = { ...fixture('NetworkDriver.CreateEndpoint'), Options: { 'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostIP: '::1', HostPort: 8080 }] } };
    await expect(h['NetworkDriver.CreateEndpoint']!(body, env.ctx)).rejects.toMatchObject({ code: ErrorCodes.NOT_SUPPORTED });
    expect(env.controller.calls).toEqual([]);
  });

  it.each([
    ['a network of another driver', { driver: 'none' as const }],
    ['a network made through weft', { origin: 'weft' as const }],
  ])('DeleteNetwork leaves %s alone and answers {}', async (_what, diff) => {
    const env = makeCtx();
    env.controller.network = { ...env.controller.network, ...diff };
    expect(await h['NetworkDriver.DeleteNetwork']!({ NetworkID: NETWORK_ID }, env.ctx)).toEqual({});
    expect(env.controller.calls).toEqual([]);
  });

  it('DeleteNetwork by an id prefix (which the controller would resolve) deletes nothing', async () => {
    const env = makeCtx();
    // The controller resolves the prefix to the whole network, as it does for the CLI.
    const real = env.controller.getNetwork.bind(env.controller);
    env.controller.getNetwork = async () => real(NETWORK_ID);
    expect(await h['NetworkDriver.DeleteNetwork']!({ NetworkID: NETWORK_ID.slice(0, 12) }, env.ctx)).toEqual({});
    expect(env.controller.calls).toEqual([]);
  });

  it('CreateEndpoint on an unknown network is NETWORK_NOT_FOUND', async () => {
    const env = makeCtx();
    env.controller.network = { ...env.controller.network, driver: 'macvlan' };
    const body = { NetworkID: NETWORK_ID, EndpointID: ENDPOINT_ID, Interface: null };
    await expect(h['NetworkDriver.CreateEndpoint']!(body, env.ctx)).rejects.toMatchObject({ code: ErrorCodes.NETWORK_NOT_FOUND });
  });
});

describe('NetworkDriver.Join checks the SandboxKey before the controller sees it', () => {
  it.each([
    ['/tmp', ErrorCodes.NETNS_NOT_FOUND],
    ['/run/netns/../../etc/passwd', ErrorCodes.BAD_REQUEST],
    ['/run/netns/a\nb', ErrorCodes.BAD_REQUEST],
    ['run/netns/x', ErrorCodes.BAD_REQUEST],
  ])('refuses %j (%s)', async (key, code) => {
    const env = makeCtx();
    await expect(h['NetworkDriver.Join']!({ NetworkID: NETWORK_ID, EndpointID: ENDPOINT_ID, SandboxKey: key }, env.ctx)).rejects.toMatchObject({ code });
    expect(env.controller.calls).toEqual([]);
  });

  it.each(['/etc/hostname', '/nonexistent/weft-test'])("takes %s: Docker 20.10 joins before the container's namespace exists", async (key) => {
    const env = makeCtx();
    await h['NetworkDriver.Join']!({ NetworkID: NETWORK_ID, EndpointID: ENDPOINT_ID, SandboxKey: key }, env.ctx);
    expect(env.controller.ops()).toEqual(['join']);
  });
});
