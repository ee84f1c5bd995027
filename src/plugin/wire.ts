// Docker's legacy plugin wire (Docker 20.10, libnetwork c5aa85f9): one zod schema per request
// body and per response body of Plugin.Activate, NetworkDriver.* and IpamDriver.*.
// Spec: /work/shared/docs/docker-plugin-protocol.md (section numbers below refer to it).
//
// Rules every request schema follows:
// - keys are Go field names (PascalCase); unknown keys are dropped, never refused, because newer
//   engines add keys (§4.4);
// - Go marshals a nil slice or map as `null`, so optional lists and maps accept null;
// - fields the operation cannot do without (ids, SandboxKey, PoolID, a pool's CIDR) are required;
// - values are checked for meaning too (hex ids, parsable CIDRs of the right family, colon-hex
//   MACs, sane ports), so a handler never calls the controller or IPAM with garbage.
// Response schemas are strict: the handlers build their answers through them, so a wrong shape
// (a Gateway with a prefix, a MAC in the wrong form) fails here instead of inside dockerd.

import { z } from 'zod';
import { isValidIfName, isValidId } from '../model/network.js';
import { ipFamily, ipOrCidrFamily, isMac, parseCidr, type Family } from './wire-formats.js';

// ---------------------------------------------------------------- value checks

/** Short, printable echo of a rejected value for the error message. */
function shown(input: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(input) ?? String(input);
  } catch {
    // A value nested deeper than the stack (the fuzz test sends 100,000 levels): name its type.
    s = Array.isArray(input) ? '(a deeply nested array)' : `(an unprintable ${typeof input})`;
  }
  return s.length > 70 ? `${s.slice(0, 67)}...` : s;
}

/** A string schema with a semantic check; the message says what was expected and what came. */
function checked(pred: (s: string) => boolean, expected: string) {
  return z.string().refine(pred, { error: (iss) => `expected ${expected}, got ${shown(iss.input)}` });
}

const fam = (f: Family | undefined): string => (f === undefined ? 'IP' : `IPv${f}`);
const familyOk = (got: number, want: Family | undefined): boolean => got !== 0 && (want === undefined || got === want);

/** NetworkID / EndpointID: Docker sends 64 lowercase hex characters; weft accepts 1-64. */
export const HexId = z.string().refine(isValidId, {
  error: (iss) => `expected hex string (1-64 characters 0-9a-f), got ${shown(iss.input)}`,
});

export const cidr = (f?: Family) =>
  checked((s) => familyOk(parseCidr(s)?.family ?? 0, f), `${fam(f)} CIDR (address/prefix-length)`);
export const cidrOrEmpty = (f?: Family) =>
  checked((s) => s === '' || familyOk(parseCidr(s)?.family ?? 0, f), `${fam(f)} CIDR (address/prefix-length) or ""`);
export const ip = (f?: Family) => checked((s) => familyOk(ipFamily(s), f), `${fam(f)} address`);
export const ipOrEmpty = (f?: Family) => checked((s) => s === '' || familyOk(ipFamily(s), f), `${fam(f)} address or ""`);
/** Docker sends gateways and aux addresses as CIDR; a bare IP is just as unambiguous, so both pass. */
export const ipOrCidr = (f?: Family) => checked((s) => familyOk(ipOrCidrFamily(s), f), `${fam(f)} address or CIDR`);
export const macOrEmpty = checked((s) => s === '' || isMac(s), 'colon-hex MAC address (like 02:42:ac:11:00:02) or ""');

/** Opaque strings that end up in store keys and logs (PoolID, AddressSpace). */
const Token = z
  .string()
  .max(256)
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), { error: 'must not contain control characters' });
const NonEmptyToken = Token.refine((s) => s !== '', { error: 'must not be empty' });

const StringMap = z.record(z.string(), z.string());

// ---------------------------------------------------------------- shared pieces

/** One pool as libnetwork's IPAMData marshals it: Gateway/AuxAddresses are left out when nil. */
export const ipamData = (f: Family) =>
  z.object({
    AddressSpace: z.string().optional(),
    Pool: cidr(f),
    Gateway: z.union([z.literal(''), ipOrCidr(f)]).optional(),
    AuxAddresses: z.record(z.string(), ipOrCidr(f)).nullish(),
  });
export type IpamDataWire = z.output<ReturnType<typeof ipamData>>;

/** IP protocol numbers that carry ports (§4.2): tcp, udp, sctp. */
export const PORT_PROTOCOLS = { 6: 'tcp', 17: 'udp', 132: 'sctp' } as const;
const Proto = z.union([z.literal(6), z.literal(17), z.literal(132)], {
  error: (iss) => `expected protocol number 6 (tcp), 17 (udp) or 132 (sctp), got ${shown(iss.input)}`,
});
const Port = z.int().min(1).max(65535);
const HostPort = z.int().min(0).max(65535);

/** types.PortBinding: `-p [HostIP:]HostPort[-HostPortEnd]:Port/proto`; 0 host ports = any. */
export const PortBinding = z
  .object({
    Proto,
    IP: ipOrEmpty().optional(),
    Port,
    HostIP: ipOrEmpty().optional(),
    HostPort: HostPort.optional(),
    HostPortEnd: HostPort.optional(),
  })
  .superRefine((b, ctx) => {
    const start = b.HostPort ?? 0;
    const end = b.HostPortEnd ?? 0;
    if (end !== 0 && end < start) {
      ctx.addIssue({ code: 'custom', path: ['HostPortEnd'], message: `host port range ${start}-${end} ends before it starts` });
    }
  });
export type PortBindingWire = z.output<typeof PortBinding>;

/** types.TransportPort (EXPOSE without -p). */
export const ExposedPort = z.object({ Proto, Port });

// ---------------------------------------------------------------- requests

/** Plugin.Activate, both GetCapabilities, GetDefaultAddressSpaces: Docker sends an empty body.
 *  These calls take no input, and a failure in them disables the plugin until dockerd restarts
 *  (§1.2), so whatever body arrives is ignored. */
export const EmptyRequest = z.unknown();

export const OPT_ENABLE_IPV6 = 'com.docker.network.enable_ipv6';
export const OPT_GENERIC = 'com.docker.network.generic';
export const OPT_INTERNAL = 'com.docker.network.internal';
export const OPT_PORTMAP = 'com.docker.network.portmap';
export const OPT_EXPOSED_PORTS = 'com.docker.network.endpoint.exposedports';
export const OPT_REQUEST_ADDRESS_TYPE = 'RequestAddressType';
export const REQUEST_ADDRESS_TYPE_GATEWAY = 'com.docker.network.gateway';
export const DATA_GATEWAY = 'com.docker.network.gateway';

/** §2.3, §4.1 */
export const CreateNetworkRequest = z.object({
  NetworkID: HexId,
  Options: z
    .object({
      [OPT_ENABLE_IPV6]: z.boolean().optional(),
      /** The `-o k=v` driver options; values are stringified by the handler. */
      [OPT_GENERIC]: z.record(z.string(), z.unknown()).nullish(),
      [OPT_INTERNAL]: z.boolean().optional(),
    })
    .nullish(),
  IPv4Data: z.array(ipamData(4)).nullish(),
  IPv6Data: z.array(ipamData(6)).nullish(),
});

/** §2.4: swarm manager only. */
export const AllocateNetworkRequest = z.object({
  NetworkID: HexId,
  Options: StringMap.nullish(),
  IPv4Data: z.array(ipamData(4)).nullish(),
  IPv6Data: z.array(ipamData(6)).nullish(),
});

export const NetworkIdRequest = z.object({ NetworkID: HexId });
export const FreeNetworkRequest = NetworkIdRequest;
export const DeleteNetworkRequest = NetworkIdRequest;

/** §2.6, §4.2. Interface is always an object with three (possibly empty) strings from 20.10. */
export const CreateEndpointRequest = z.object({
  NetworkID: HexId,
  EndpointID: HexId,
  Interface: z
    .object({
      Address: cidrOrEmpty(4).optional(),
      AddressIPv6: cidrOrEmpty(6).optional(),
      MacAddress: macOrEmpty.optional(),
    })
    .nullish(),
  Options: z
    .object({
      [OPT_PORTMAP]: z.array(PortBinding).nullish(),
      [OPT_EXPOSED_PORTS]: z.array(ExposedPort).nullish(),
    })
    .nullish(),
});

export const EndpointRequest = z.object({ NetworkID: HexId, EndpointID: HexId });
export const EndpointOperInfoRequest = EndpointRequest;
export const DeleteEndpointRequest = EndpointRequest;
export const LeaveRequest = EndpointRequest;
export const RevokeExternalConnectivityRequest = EndpointRequest;

/** Absolute path of the container's network namespace (bind mount). */
const SandboxKey = z
  .string()
  .refine((s) => s.startsWith('/') && s.length <= 4096 && !/[\u0000-\u001f\u007f]/.test(s) && !s.split('/').includes('..'), {
    error: (iss) => `expected an absolute path without '..' or control characters, got ${shown(iss.input)}`,
  });

/** §2.9. Options are the sandbox labels (ports): weft has no use for them at Join. */
export const JoinRequest = z.object({
  NetworkID: HexId,
  EndpointID: HexId,
  SandboxKey,
  Options: z.unknown().optional(),
});

/** §2.11. Options are the sandbox labels again; the controller reads ports from the endpoint. */
export const ProgramExternalConnectivityRequest = z.object({
  NetworkID: HexId,
  EndpointID: HexId,
  Options: z.unknown().optional(),
});

/** §2.12 */
export const DiscoveryRequest = z.object({
  DiscoveryType: z.int(),
  DiscoveryData: z.unknown().optional(),
});

/** §3 */
export const RequestPoolRequest = z
  .object({
    AddressSpace: Token.optional(),
    Pool: cidrOrEmpty().optional(),
    SubPool: cidrOrEmpty().optional(),
    Options: StringMap.nullish(),
    V6: z.boolean().optional(),
  })
  .superRefine((r, ctx) => {
    const pool = r.Pool ? parseCidr(r.Pool) : undefined;
    const sub = r.SubPool ? parseCidr(r.SubPool) : undefined;
    if (pool && r.V6 !== undefined && (pool.family === 6) !== r.V6) {
      ctx.addIssue({ code: 'custom', path: ['Pool'], message: `IPv${pool.family} pool ${r.Pool} with V6=${r.V6}` });
    }
    if (sub && !pool) {
      ctx.addIssue({ code: 'custom', path: ['SubPool'], message: 'a sub-pool (--ip-range) needs a pool (--subnet)' });
    }
    if (sub && pool && sub.family !== pool.family) {
      ctx.addIssue({ code: 'custom', path: ['SubPool'], message: `IPv${sub.family} sub-pool in IPv${pool.family} pool ${r.Pool}` });
    }
  });

export const ReleasePoolRequest = z.object({ PoolID: NonEmptyToken });

export const RequestAddressRequest = z.object({
  PoolID: NonEmptyToken,
  Address: ipOrEmpty().optional(),
  Options: StringMap.nullish(),
});

/** Docker sends a bare IP; the CIDR form names the same address. */
export const ReleaseAddressRequest = z.object({ PoolID: NonEmptyToken, Address: ipOrCidr() });

// ---------------------------------------------------------------- responses

export const ErrorResponse = z.strictObject({ Err: z.string() });

export const ActivateResponse = z.strictObject({
  Implements: z.array(z.enum(['NetworkDriver', 'IpamDriver'])),
});

const Scope = z.enum(['local', 'global']);
export const NetworkCapabilitiesResponse = z.strictObject({ Scope, ConnectivityScope: Scope });

export const EmptyResponse = z.strictObject({});

export const AllocateNetworkResponse = z.strictObject({ Options: StringMap });

/** §2.6: only fields Docker left empty, never an echo; `{}` when there is nothing to add. */
export const CreateEndpointResponse = z.strictObject({
  Interface: z
    .strictObject({
      Address: cidr(4).optional(),
      AddressIPv6: cidr(6).optional(),
      MacAddress: checked(isMac, 'colon-hex MAC address').optional(),
    })
    .optional(),
});

export const EndpointOperInfoResponse = z.strictObject({ Value: z.record(z.string(), z.unknown()) });

export const StaticRouteWire = z
  .strictObject({
    Destination: cidr(),
    RouteType: z.union([z.literal(0), z.literal(1)]),
    NextHop: ipOrEmpty(),
  })
  .superRefine((r, ctx) => {
    if (r.RouteType === 0 && r.NextHop === '') {
      ctx.addIssue({ code: 'custom', path: ['NextHop'], message: 'a RouteType 0 route needs a next hop' });
    }
  });

/** §2.9. Gateways are bare IPs (`10.50.0.1/16` makes dockerd fail with "unable to parse Gateway").
 *  DstPrefix + the index dockerd appends must stay within 15 bytes. */
export const JoinResponse = z.strictObject({
  InterfaceName: z
    .strictObject({
      SrcName: checked(isValidIfName, 'interface name (1-15 bytes)'),
      DstPrefix: checked((s) => isValidIfName(s) && s.length <= 13, 'interface name prefix (1-13 bytes)'),
    })
    .optional(),
  Gateway: ip(4).optional(),
  GatewayIPv6: ip(6).optional(),
  StaticRoutes: z.array(StaticRouteWire),
  DisableGatewayService: z.boolean(),
});

export const IpamCapabilitiesResponse = z.strictObject({
  RequiresMACAddress: z.boolean(),
  RequiresRequestReplay: z.boolean(),
});

export const AddressSpacesResponse = z.strictObject({
  LocalDefaultAddressSpace: z.string(),
  GlobalDefaultAddressSpace: z.string(),
});

export const RequestPoolResponse = z.strictObject({ PoolID: z.string().min(1), Pool: cidr(), Data: StringMap });

export const RequestAddressResponse = z.strictObject({ Address: cidr(), Data: StringMap });

// ---------------------------------------------------------------- method table

/** Every method weft answers, with its request and response schema. */
export const METHODS = {
  'Plugin.Activate': { request: EmptyRequest, response: ActivateResponse },

  'NetworkDriver.GetCapabilities': { request: EmptyRequest, response: NetworkCapabilitiesResponse },
  'NetworkDriver.CreateNetwork': { request: CreateNetworkRequest, response: EmptyResponse },
  'NetworkDriver.AllocateNetwork': { request: AllocateNetworkRequest, response: AllocateNetworkResponse },
  'NetworkDriver.FreeNetwork': { request: FreeNetworkRequest, response: EmptyResponse },
  'NetworkDriver.DeleteNetwork': { request: DeleteNetworkRequest, response: EmptyResponse },
  'NetworkDriver.CreateEndpoint': { request: CreateEndpointRequest, response: CreateEndpointResponse },
  'NetworkDriver.EndpointOperInfo': { request: EndpointOperInfoRequest, response: EndpointOperInfoResponse },
  'NetworkDriver.DeleteEndpoint': { request: DeleteEndpointRequest, response: EmptyResponse },
  'NetworkDriver.Join': { request: JoinRequest, response: JoinResponse },
  'NetworkDriver.Leave': { request: LeaveRequest, response: EmptyResponse },
  'NetworkDriver.ProgramExternalConnectivity': { request: ProgramExternalConnectivityRequest, response: EmptyResponse },
  'NetworkDriver.RevokeExternalConnectivity': { request: RevokeExternalConnectivityRequest, response: EmptyResponse },
  'NetworkDriver.DiscoverNew': { request: DiscoveryRequest, response: EmptyResponse },
  'NetworkDriver.DiscoverDelete': { request: DiscoveryRequest, response: EmptyResponse },

  'IpamDriver.GetCapabilities': { request: EmptyRequest, response: IpamCapabilitiesResponse },
  'IpamDriver.GetDefaultAddressSpaces': { request: EmptyRequest, response: AddressSpacesResponse },
  'IpamDriver.RequestPool': { request: RequestPoolRequest, response: RequestPoolResponse },
  'IpamDriver.ReleasePool': { request: ReleasePoolRequest, response: EmptyResponse },
  'IpamDriver.RequestAddress': { request: RequestAddressRequest, response: RequestAddressResponse },
  'IpamDriver.ReleaseAddress': { request: ReleaseAddressRequest, response: EmptyResponse },
} as const satisfies Record<string, { request: z.ZodType; response: z.ZodType }>;

export type MethodName = keyof typeof METHODS;
export type RequestOf<M extends MethodName> = z.output<(typeof METHODS)[M]['request']>;
export type ResponseOf<M extends MethodName> = z.output<(typeof METHODS)[M]['response']>;

/** Methods whose request body Docker leaves empty and weft ignores. */
export const BODYLESS_METHODS: ReadonlySet<MethodName> = new Set<MethodName>([
  'Plugin.Activate',
  'NetworkDriver.GetCapabilities',
  'IpamDriver.GetCapabilities',
  'IpamDriver.GetDefaultAddressSpaces',
]);

export const isMethodName = (s: string): s is MethodName => Object.hasOwn(METHODS, s);

/** Content type of every answer (what docker/go-plugins-helpers sends; dockerd does not check). */
export const PLUGIN_CONTENT_TYPE = 'application/vnd.docker.plugins.v1.1+json';
