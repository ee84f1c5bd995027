// Small in-test stand-ins for the Controller and Ipam contracts: they record every call and answer
// what the test configured. The real implementations have their own suites; these only let the
// plugin tests check the wire <-> contract mapping.

import { Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import type { Controller, CreateEndpointRequest, CreateNetworkRequest, ConnectRequest } from '../../../src/controller/controller.js';
import type { DriverCapabilities, EndpointInterface, JoinResult } from '../../../src/driver-api/driver.js';
import type {
  AddressInfo,
  AddressRequest,
  Allocation,
  Ipam,
  PoolBindRequest, PoolInfo,
  PoolRequest,
  PoolUsage,
} from '../../../src/ipam/ipam.js';
import type { DriverName, EndpointRecord, NetworkRecord, SandboxRef } from '../../../src/model/network.js';
import type { HandlerContext, PluginSpec } from '../../../src/plugin/handlers/context.js';

export interface Call {
  op: string;
  args: unknown[];
}

const NOW = '2024-01-01T00:00:00.000Z';

export class RecordingController implements Controller {
  readonly calls: Call[] = [];
  /** Throw this from the named operation. */
  readonly fail: Partial<Record<keyof Controller, unknown>> = {};
  caps: DriverCapabilities = { scope: 'local', connectivityScope: 'local' };
  iface: EndpointInterface = {};
  joinResult: JoinResult = { staticRoutes: [], disableGatewayService: false };
  info: Record<string, unknown> = {};
  /** When set, operations wait for it before answering (graceful-close tests). */
  gate?: Promise<void>;

  private async rec(op: keyof Controller, args: unknown[]): Promise<void> {
    this.calls.push({ op, args });
    if (this.gate) await this.gate;
    if (this.fail[op] !== undefined) throw this.fail[op];
  }

  ops(): string[] {
    return this.calls.map((c) => c.op);
  }

  capabilities(driver: DriverName): DriverCapabilities {
    this.calls.push({ op: 'capabilities', args: [driver] });
    if (this.fail.capabilities !== undefined) throw this.fail.capabilities;
    return this.caps;
  }
  async createNetwork(req: CreateNetworkRequest): Promise<NetworkRecord> {
    await this.rec('createNetwork', [req]);
    return { id: req.id ?? 'ab', name: 'n', driver: req.driver, origin: req.origin, options: req.options, internal: req.internal, enableIPv6: req.enableIPv6, ipv4: req.ipv4, ipv6: req.ipv6, createdAt: NOW };
  }
  async deleteNetwork(idOrName: string): Promise<void> {
    await this.rec('deleteNetwork', [idOrName]);
  }
  /** What getNetwork answers: a Docker network of this driver with the fixtures' subnets. The
   *  plugin reads it to check a request before acting; reads are not recorded in `calls`. */
  network: Omit<NetworkRecord, 'id'> = {
    name: 'n',
    driver: 'bridge',
    origin: 'docker',
    options: {},
    internal: false,
    enableIPv6: true,
    ipv4: [{ subnet: '10.50.0.0/16', gateway: '10.50.0.1', auxAddresses: {} }],
    ipv6: [{ subnet: 'fd00:50::/64', auxAddresses: {} }],
    createdAt: NOW,
  };
  /** What listEndpoints answers (not recorded either). */
  endpoints: EndpointRecord[] = [];
  async getNetwork(idOrName: string): Promise<NetworkRecord> {
    if (this.fail.getNetwork !== undefined) throw this.fail.getNetwork;
    return { id: idOrName, ...this.network };
  }
  async listNetworks(): Promise<NetworkRecord[]> {
    await this.rec('listNetworks', []);
    return [];
  }
  async listEndpoints(networkId?: string): Promise<EndpointRecord[]> {
    if (this.fail.listEndpoints !== undefined) throw this.fail.listEndpoints;
    return this.endpoints.filter((e) => networkId === undefined || e.networkId === networkId);
  }
  async createEndpoint(req: CreateEndpointRequest): Promise<{ record: EndpointRecord; iface: EndpointInterface }> {
    await this.rec('createEndpoint', [req]);
    return { record: { id: req.endpointId ?? 'cd', networkId: req.networkId, origin: req.origin, createdAt: NOW }, iface: this.iface };
  }
  async deleteEndpoint(networkId: string, endpointId: string): Promise<void> {
    await this.rec('deleteEndpoint', [networkId, endpointId]);
  }
  async join(networkId: string, endpointId: string, sandbox: SandboxRef): Promise<JoinResult> {
    await this.rec('join', [networkId, endpointId, sandbox]);
    return this.joinResult;
  }
  async leave(networkId: string, endpointId: string): Promise<void> {
    await this.rec('leave', [networkId, endpointId]);
  }
  async endpointInfo(networkId: string, endpointId: string): Promise<Record<string, unknown>> {
    await this.rec('endpointInfo', [networkId, endpointId]);
    return this.info;
  }
  async programExternalConnectivity(networkId: string, endpointId: string): Promise<void> {
    await this.rec('programExternalConnectivity', [networkId, endpointId]);
  }
  async revokeExternalConnectivity(networkId: string, endpointId: string): Promise<void> {
    await this.rec('revokeExternalConnectivity', [networkId, endpointId]);
  }
  async connect(idOrName: string, req: ConnectRequest): Promise<EndpointRecord> {
    await this.rec('connect', [idOrName, req]);
    throw new Error('not used by the plugin');
  }
  async disconnect(idOrName: string, netns: string): Promise<void> {
    await this.rec('disconnect', [idOrName, netns]);
  }
}

export class RecordingIpam implements Ipam {
  readonly calls: Call[] = [];
  readonly fail: Partial<Record<keyof Ipam, unknown>> = {};
  spaces = { local: 'local', global: 'global' };
  poolInfo: PoolInfo = { poolId: 'local/10.50.0.0/16', addressSpace: 'local', pool: '10.50.0.0/16', v6: false, data: {} };
  addressInfo: AddressInfo = { address: '10.50.0.7/16' };

  private async rec(op: keyof Ipam, args: unknown[]): Promise<void> {
    this.calls.push({ op, args });
    if (this.fail[op] !== undefined) throw this.fail[op];
  }

  ops(): string[] {
    return this.calls.map((c) => c.op);
  }

  defaultAddressSpaces(): { local: string; global: string } {
    this.calls.push({ op: 'defaultAddressSpaces', args: [] });
    return this.spaces;
  }
  async requestPool(req: PoolRequest): Promise<PoolInfo> {
    await this.rec('requestPool', [req]);
    return this.poolInfo;
  }
  async releasePool(poolId: string): Promise<void> {
    await this.rec('releasePool', [poolId]);
  }
  async requestAddress(req: AddressRequest): Promise<AddressInfo> {
    await this.rec('requestAddress', [req]);
    return this.addressInfo;
  }
  async releaseAddress(poolId: string, address: string): Promise<void> {
    await this.rec('releaseAddress', [poolId, address]);
  }
  async getPool(poolId: string): Promise<PoolInfo | undefined> {
    await this.rec('getPool', [poolId]);
    return undefined;
  }
  async listPools(): Promise<PoolInfo[]> {
    await this.rec('listPools', []);
    return [];
  }
  async allocations(poolId: string): Promise<Allocation[]> {
    await this.rec('allocations', [poolId]);
    return [];
  }
  async usage(poolId: string): Promise<PoolUsage> {
    await this.rec('usage', [poolId]);
    return { pool: '', usable: 0, used: 0 };
  }
  async nameNetwork(poolId: string, network: string): Promise<void> {
    await this.rec('nameNetwork', [poolId, network]);
  }
  async bindPool(poolId: string, bind: PoolBindRequest): Promise<PoolInfo> {
    await this.rec('bindPool', [poolId, bind]);
    return this.poolInfo;
  }
}

/** A pino logger whose lines the test can read back as objects. */
export function logSink(level: pino.LevelWithSilent = 'debug'): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      cb();
    },
  });
  const logger = pino({ level }, stream);
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export const BRIDGE_PLUGIN: PluginSpec = { name: 'weft-bridge', implements: ['NetworkDriver'], driver: 'bridge' };
export const IPAM_PLUGIN: PluginSpec = { name: 'weft', implements: ['IpamDriver'] };

export function makeCtx(plugin: PluginSpec = BRIDGE_PLUGIN) {
  const controller = new RecordingController();
  const ipam = new RecordingIpam();
  const sink = logSink();
  const ctx: HandlerContext = { controller, ipam, plugin, log: sink.logger };
  return { ctx, controller, ipam, lines: sink.lines };
}

const FIXTURES = fileURLToPath(new URL('../../fixtures/plugin/', import.meta.url));

/** The recorded request body of a method (test/fixtures/plugin/<Method>.json), as text. */
export function fixtureText(method: string): string {
  const text = readFileSync(`${FIXTURES}${method}.json`, 'utf8');
  // Join checks that the SandboxKey exists (it does when dockerd calls): point it at one that does.
  return method === 'NetworkDriver.Join' ? text.replace('/var/run/docker/netns/1a2b3c4d5e6f', SANDBOX_KEY) : text;
}

/** The SandboxKey of the Join fixture as the tests send it: a path that exists on any Linux. */
export const SANDBOX_KEY = '/proc/self/ns/net';

/** The same, parsed (a fresh copy each time, so tests may mutate it). */
export function fixture(method: string): Record<string, unknown> {
  return JSON.parse(fixtureText(method)) as Record<string, unknown>;
}

export const NETWORK_ID = '4b9d1e0f6c2a83e57f0d9a1b2c3d4e5f60718293a4b5c6d7e8f90123456789ab';
export const ENDPOINT_ID = 'e3a7c1d09b8f4e2a6c5d3b1a0f9e8d7c6b5a49382716051f2e3d4c5b6a798081';
