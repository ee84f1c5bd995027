// Issues 4 and 7: a CreateNetwork the driver must refuse is refused before the controller writes
// anything: no network record, no pool taken and given back (the store's revision does not even
// move), and no command run. Real controller, store, IPAM, bridge and macvlan drivers and the real
// nftables firewall (its checks are pure); only the kernel edges are recorded (kernel-fakes.ts).

import { beforeEach, describe, expect, it } from 'vitest';
import { BridgeDriver } from '../../../drivers/bridge/bridge-driver.js';
import { MacvlanDriver } from '../../../drivers/macvlan/macvlan-driver.js';
import { CnmController } from '../../../src/controller/cnm-controller.js';
import type { CreateNetworkRequest } from '../../../src/controller/controller.js';
import { DriverRegistry } from '../../../src/controller/driver-registry.js';
import { IpamService } from '../../../src/ipam/ipam-service.js';
import { ErrorCodes } from '../../../src/model/errors.js';
import type { LocalStore } from '../../../src/store/local-store.js';
import type { NetnsOps } from '../../../src/sys/netns.js';
import { NftFirewall } from '../../../src/sys/nftables/nft-firewall.js';
import { dump, rejection } from '../ipam/fixture.js';
import { silentLogger as log, unitScopePerTest } from '../../helpers/unit-container.js';
import { FakeLinks, RecordingRunner } from './kernel-fakes.js';

const id = (c: string) => c.repeat(64);

const scope = unitScopePerTest();
let store: LocalStore;
let links: FakeLinks;
let runner: RecordingRunner;
let controller: CnmController;

beforeEach(async () => {
  ({ store } = await scope.store('weft-precheck-'));
  links = new FakeLinks([
    FakeLinks.link('lo', { mac: '00:00:00:00:00:00', operstate: 'UNKNOWN' }),
    FakeLinks.link('eth1'),
    FakeLinks.link('eth2', { up: false, operstate: 'DOWN' }),
    FakeLinks.link('br0', { kind: 'bridge' }),
    FakeLinks.link('eth3', { master: 'br0' }),
    FakeLinks.link('tun0', { kind: 'tun', mac: undefined }),
  ]);
  runner = new RecordingRunner();
  const ipam = new IpamService(store, async () => [], { logger: log });
  const sysctl = { get: async () => '1', set: async (name: string, value: string) => void runner.commands.push(['sysctl', `${name}=${value}`]) };
  const bridge = new BridgeDriver({ store, links, firewall: new NftFirewall(runner, log), sysctl, logger: log });
  const macvlan = new MacvlanDriver({ store, links, stacked: links, ipam, logger: log });
  const netns = {} as NetnsOps; // CreateNetwork never looks at a sandbox
  controller = new CnmController(store, ipam, new DriverRegistry([bridge, macvlan]), netns, log, runner);
});

const docker = (c: string, subnet: string, gateway?: string): CreateNetworkRequest => ({
  id: id(c),
  driver: 'bridge',
  origin: 'docker',
  options: {},
  internal: false,
  enableIPv6: false,
  ipv4: [{ subnet, auxAddresses: {}, ...(gateway ? { gateway } : {}) }],
  ipv6: [],
});

const weft = (name: string, driver: 'bridge' | 'macvlan', options: Record<string, string>, subnet?: string): CreateNetworkRequest => ({
  name,
  driver,
  origin: 'weft',
  options,
  internal: false,
  enableIPv6: false,
  ipv4: subnet ? [{ subnet, auxAddresses: {} }] : [],
  ipv6: [],
});

/** Expects `req` refused with `code` (and `message`), the store (revision included), the links and
 *  the commands run exactly as they were before it. */
async function expectRefusedUntouched(req: CreateNetworkRequest, code: string, message: RegExp): Promise<void> {
  const before = await dump(store);
  const changes = links.changes.length;
  const commands = runner.commands.length;
  const e = await rejection(controller.createNetwork(req));
  expect(e.code).toBe(code);
  expect(e.message).toMatch(message);
  expect(await dump(store)).toEqual(before);
  expect(links.changes.slice(changes)).toEqual([]);
  expect(runner.commands.slice(commands)).toEqual([]);
}

describe('a bridge network whose subnet overlaps another bridge network', () => {
  it('is refused through Docker before the network is recorded or the kernel touched', async () => {
    await controller.createNetwork(docker('a', '10.50.0.0/16', '10.50.0.1'));
    // A running container keeps Docker from taking the first network for a forgotten one.
    await controller.createEndpoint({ networkId: id('a'), endpointId: id('e'), origin: 'docker', addressV4: '10.50.0.2/16' });
    for (const subnet of ['10.50.0.0/16', '10.50.3.0/24', '10.0.0.0/8', '0.0.0.0/0']) {
      await expectRefusedUntouched(docker('b', subnet), ErrorCodes.POOL_OVERLAP, /overlaps network "docker-aaaaaaaaaaaa" \(10\.50\.0\.0\/16\)/);
    }
    expect((await controller.listNetworks()).map((n) => n.id)).toEqual([id('a')]);
  });

  it("is refused through weft's API before a pool is taken, also when the other network's subnet is not weft's pool", async () => {
    // Docker's built-in IPAM gave this one its subnet: weft's IPAM has no pool for it.
    await controller.createNetwork(docker('a', '10.51.0.0/16', '10.51.0.1'));
    await expectRefusedUntouched(weft('overlap', 'bridge', {}, '10.51.7.0/24'), ErrorCodes.POOL_OVERLAP, /overlaps network "docker-aaaaaaaaaaaa" \(10\.51\.0\.0\/16\)/);
    // The same subnet elsewhere is fine (positive control).
    await controller.createNetwork(weft('fine', 'bridge', {}, '10.52.0.0/24'));
  });

  it('is refused when its bridge name is a link that is no bridge, before anything is written', async () => {
    await expectRefusedUntouched(weft('onveth', 'bridge', { bridge: 'eth1' }, '10.53.0.0/24'), ErrorCodes.INVALID_OPTION, /eth1 exists and is a device, not a bridge/);
  });
});

describe('a macvlan network on an unusable parent', () => {
  it.each([
    ['missing', 'nosuchif0', /parent nosuchif0 does not exist/],
    ['down', 'eth2', /parent eth2 is down/],
    ['a bridge port', 'eth3', /parent eth3 is a port of br0/],
    ['the loopback', 'lo', /parent lo is the loopback device/],
    ['not Ethernet', 'tun0', /parent tun0 is not an Ethernet interface/],
  ])('%s: refused before the IPAM is asked (no pool taken and given back)', async (_what, parent, message) => {
    await expectRefusedUntouched(weft('mv', 'macvlan', { parent }, '10.60.0.0/24'), ErrorCodes.PARENT_UNUSABLE, message);
    // With a default pool, too: the IPAM would pick one.
    await expectRefusedUntouched(weft('mv', 'macvlan', { parent }), ErrorCodes.PARENT_UNUSABLE, message);
  });

  it("a link weft made for another network (a bridge network's bridge) is no parent", async () => {
    await controller.createNetwork(docker('a', '10.54.0.0/24', '10.54.0.1'));
    await expectRefusedUntouched(weft('mv', 'macvlan', { parent: 'wf-aaaaaaaaaaaa' }, '10.61.0.0/24'), ErrorCodes.PARENT_UNUSABLE, /is a link weft made for object aaaaaaaaaaaa/);
  });

  it('a parent a passthru network holds is refused before the IPAM is asked', async () => {
    await controller.createNetwork(weft('pt', 'macvlan', { parent: 'eth1', macvlan_mode: 'passthru' }, '10.62.0.0/24'));
    await expectRefusedUntouched(weft('mv', 'macvlan', { parent: 'eth1' }, '10.63.0.0/24'), ErrorCodes.PARENT_IN_USE, /taken by passthru network "pt"/);
  });

  it("takes a usable parent, a user's bridge included (positive control)", async () => {
    await controller.createNetwork(weft('m1', 'macvlan', { parent: 'eth1' }, '10.64.0.0/24'));
    await controller.createNetwork(weft('m2', 'macvlan', { parent: 'br0' }, '10.64.0.0/24'));
    expect((await controller.listNetworks()).map((n) => n.name).sort()).toEqual(['m1', 'm2']);
  });
});
