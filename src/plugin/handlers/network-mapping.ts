// Pure translations between NetworkDriver wire values and the controller's contract types.

import type { CreateNetworkRequest } from '../../controller/controller.js';
import type { EndpointInterface, JoinResult } from '../../driver-api/driver.js';
import type { DriverName, IpamEntry, PortMapping } from '../../model/network.js';
import {
  OPT_ENABLE_IPV6,
  OPT_GENERIC,
  OPT_INTERNAL,
  PORT_PROTOCOLS,
  type IpamDataWire,
  type PortBindingWire,
  type RequestOf,
  type ResponseOf,
} from '../wire.js';
import { bareIp } from '../wire-formats.js';

/** `-o` values are strings from the CLI, but the API (and `--config-from`) can carry any JSON. */
export function stringifyOption(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** Docker's IPAMData: Pool is the subnet; Gateway and aux addresses come as CIDR with the pool's
 *  prefix length, weft keeps them as bare IPs. Docker does not send the PoolID (§2.3), and
 *  IpamEntry has no place for the AddressSpace, so both stay behind. */
export function toIpamEntry(d: IpamDataWire): IpamEntry {
  const entry: IpamEntry = { subnet: d.Pool, auxAddresses: {} };
  if (d.Gateway) entry.gateway = bareIp(d.Gateway);
  for (const [name, addr] of Object.entries(d.AuxAddresses ?? {})) entry.auxAddresses[name] = bareIp(addr);
  return entry;
}

export function toCreateNetworkRequest(req: RequestOf<'NetworkDriver.CreateNetwork'>, driver: DriverName): CreateNetworkRequest {
  const opts = req.Options ?? {};
  const options: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts[OPT_GENERIC] ?? {})) options[k] = stringifyOption(v);
  return {
    id: req.NetworkID,
    driver,
    origin: 'docker',
    options,
    internal: opts[OPT_INTERNAL] ?? false,
    enableIPv6: opts[OPT_ENABLE_IPV6] ?? false,
    ipv4: (req.IPv4Data ?? []).map(toIpamEntry),
    ipv6: (req.IPv6Data ?? []).map(toIpamEntry),
  };
}

/** `-p` bindings. A single host port comes as HostPort = HostPortEnd; `-p 80` as 0/0 (any). */
export function toPortMapping(b: PortBindingWire): PortMapping {
  const hostPort = b.HostPort ?? 0;
  const hostPortEnd = b.HostPortEnd || hostPort;
  return {
    proto: PORT_PROTOCOLS[b.Proto],
    containerPort: b.Port,
    hostPort,
    hostPortEnd,
    hostIp: b.HostIP ?? '',
  };
}

export interface InterfaceDecision {
  response: ResponseOf<'NetworkDriver.CreateEndpoint'>;
  /** Values the driver produced for fields Docker had already filled (dropped, worth a log line). */
  dropped: string[];
}

/** §2.6: dockerd applies a returned field only if it sent that field empty, and fails the endpoint
 *  if we return a field it filled, even with the same value. So: never echo; answer only the gaps. */
export function toInterfaceResponse(
  sent: RequestOf<'NetworkDriver.CreateEndpoint'>['Interface'],
  got: EndpointInterface,
): InterfaceDecision {
  // No Interface in the request: dockerd has nothing to apply our answer to.
  if (!sent) return { response: {}, dropped: [] };
  const out: { Address?: string; AddressIPv6?: string; MacAddress?: string } = {};
  const dropped: string[] = [];
  const fill = (key: keyof typeof out, sentValue: string | undefined, value: string | undefined) => {
    if (!value) return;
    if (sentValue) {
      if (value.toLowerCase() !== sentValue.toLowerCase()) dropped.push(`${key}=${value}`);
      return;
    }
    out[key] = value;
  };
  fill('Address', sent.Address, got.addressV4);
  fill('AddressIPv6', sent.AddressIPv6, got.addressV6);
  fill('MacAddress', sent.MacAddress, got.macAddress?.toLowerCase());
  return { response: Object.keys(out).length > 0 ? { Interface: out } : {}, dropped };
}

/** §2.9: gateways as bare IPs, routes as {Destination, RouteType, NextHop}; no InterfaceName when
 *  the driver puts nothing into the sandbox (none). */
export function toJoinResponse(r: JoinResult): ResponseOf<'NetworkDriver.Join'> {
  const res: ResponseOf<'NetworkDriver.Join'> = {
    StaticRoutes: r.staticRoutes.map((s) => ({
      Destination: s.destination,
      RouteType: s.routeType,
      NextHop: s.routeType === 1 ? '' : bareIp(s.nextHop ?? ''),
    })),
    DisableGatewayService: r.disableGatewayService,
  };
  if (r.interface) res.InterfaceName = { SrcName: r.interface.srcName, DstPrefix: r.interface.dstPrefix };
  if (r.gatewayV4) res.Gateway = bareIp(r.gatewayV4);
  if (r.gatewayV6) res.GatewayIPv6 = bareIp(r.gatewayV6);
  return res;
}
