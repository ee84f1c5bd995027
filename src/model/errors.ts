// Errors with stable codes. Every failure that reaches a user (Docker, the CLI, the API) is a
// WeftError: `code` never changes between releases, `kind` decides the HTTP status and exit code,
// and the message says what was wrong and what to do. docs/errors.md lists every code; a unit
// test keeps the two in sync.

export type ErrorKind =
  | 'BadRequest'
  | 'NotFound'
  | 'Forbidden'
  | 'Conflict'
  | 'NoService'
  | 'NotImplemented'
  | 'Internal';

export const ErrorCodes = {
  /** Request body is not JSON, or a field is missing or of the wrong type. */
  BAD_REQUEST: 'WEFT_ERR_BAD_REQUEST',
  /** A CIDR, IP or MAC address does not parse. */
  INVALID_ADDRESS: 'WEFT_ERR_INVALID_ADDRESS',
  /** A name (network, interface, namespace) is not acceptable. */
  INVALID_NAME: 'WEFT_ERR_INVALID_NAME',
  /** A driver or IPAM option is unknown or has a bad value. */
  INVALID_OPTION: 'WEFT_ERR_INVALID_OPTION',
  /** An address lies outside the pool it was requested from. */
  ADDRESS_OUT_OF_POOL: 'WEFT_ERR_ADDRESS_OUT_OF_POOL',
  /** A specific address was asked for and somebody else holds it. */
  ADDRESS_IN_USE: 'WEFT_ERR_ADDRESS_IN_USE',
  /** No free address is left in a pool. */
  POOL_EXHAUSTED: 'WEFT_ERR_POOL_EXHAUSTED',
  /** A subnet overlaps one that shares its routing domain. */
  POOL_OVERLAP: 'WEFT_ERR_POOL_OVERLAP',
  /** No default pool is left that overlaps neither a host route nor another weft pool. */
  NO_DEFAULT_POOL: 'WEFT_ERR_NO_DEFAULT_POOL',
  /** Unknown pool id. */
  POOL_NOT_FOUND: 'WEFT_ERR_POOL_NOT_FOUND',
  /** Unknown address space. */
  ADDRESS_SPACE_NOT_FOUND: 'WEFT_ERR_ADDRESS_SPACE_NOT_FOUND',
  /** A published host port is taken by another endpoint. */
  PORT_IN_USE: 'WEFT_ERR_PORT_IN_USE',
  /** A bridge has the kernel's maximum of ports (1024). */
  BRIDGE_FULL: 'WEFT_ERR_BRIDGE_FULL',
  /** A macvlan parent interface does not exist, is down, or is a bridge port. */
  PARENT_UNUSABLE: 'WEFT_ERR_PARENT_UNUSABLE',
  /** A macvlan parent is taken in a way that excludes this network (passthru owns its parent alone). */
  PARENT_IN_USE: 'WEFT_ERR_PARENT_IN_USE',
  /** The running kernel lacks a feature the request needs (e.g. 802.1q VLAN links). */
  KERNEL_UNSUPPORTED: 'WEFT_ERR_KERNEL_UNSUPPORTED',
  NETWORK_NOT_FOUND: 'WEFT_ERR_NETWORK_NOT_FOUND',
  NETWORK_EXISTS: 'WEFT_ERR_NETWORK_EXISTS',
  /** `network rm` of a network that still has endpoints. */
  NETWORK_IN_USE: 'WEFT_ERR_NETWORK_IN_USE',
  ENDPOINT_NOT_FOUND: 'WEFT_ERR_ENDPOINT_NOT_FOUND',
  ENDPOINT_EXISTS: 'WEFT_ERR_ENDPOINT_EXISTS',
  NETNS_NOT_FOUND: 'WEFT_ERR_NETNS_NOT_FOUND',
  DRIVER_NOT_FOUND: 'WEFT_ERR_DRIVER_NOT_FOUND',
  /** A driver exists in the protocol but its data plane is not built yet. */
  DRIVER_NOT_AVAILABLE: 'WEFT_ERR_DRIVER_NOT_AVAILABLE',
  /** The operation cannot be offered by this driver (e.g. weft-host through Docker). */
  NOT_SUPPORTED: 'WEFT_ERR_NOT_SUPPORTED',
  /** A compare-and-swap lost: the key changed since it was read. */
  STORE_CONFLICT: 'WEFT_ERR_STORE_CONFLICT',
  /** A lease expired or was revoked (cluster membership re-registers). */
  STORE_LEASE_EXPIRED: 'WEFT_ERR_STORE_LEASE_EXPIRED',
  /** The store cannot be reached or opened. */
  STORE_UNAVAILABLE: 'WEFT_ERR_STORE_UNAVAILABLE',
  /** The store was written by a newer weft with a schema this one does not know. */
  STORE_SCHEMA: 'WEFT_ERR_STORE_SCHEMA',
  /** A watch asked to resume from a revision the store no longer remembers: list again, then watch. */
  STORE_COMPACTED: 'WEFT_ERR_STORE_COMPACTED',
  /** No cluster host has that id or hostname. */
  HOST_NOT_FOUND: 'WEFT_ERR_HOST_NOT_FOUND',
  /** `weft host rm` of a host that is up (its weftd holds its lease): stop it first, or --force. */
  HOST_UP: 'WEFT_ERR_HOST_UP',
  /** An external command (`ip`, `nft`) failed or timed out. */
  COMMAND_FAILED: 'WEFT_ERR_COMMAND_FAILED',
  /** The request body is larger than the cap. */
  REQUEST_TOO_LARGE: 'WEFT_ERR_REQUEST_TOO_LARGE',
  /** The daemon is shutting down and takes no new requests. */
  SHUTTING_DOWN: 'WEFT_ERR_SHUTTING_DOWN',
  /** The CLI cannot reach weftd (not running, or no permission on the socket). */
  DAEMON_UNREACHABLE: 'WEFT_ERR_DAEMON_UNREACHABLE',
  INTERNAL: 'WEFT_ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const KIND_OF: Record<ErrorCode, ErrorKind> = {
  WEFT_ERR_BAD_REQUEST: 'BadRequest',
  WEFT_ERR_INVALID_ADDRESS: 'BadRequest',
  WEFT_ERR_INVALID_NAME: 'BadRequest',
  WEFT_ERR_INVALID_OPTION: 'BadRequest',
  WEFT_ERR_ADDRESS_OUT_OF_POOL: 'BadRequest',
  WEFT_ERR_ADDRESS_IN_USE: 'Conflict',
  WEFT_ERR_POOL_EXHAUSTED: 'NoService',
  WEFT_ERR_POOL_OVERLAP: 'Conflict',
  WEFT_ERR_NO_DEFAULT_POOL: 'NoService',
  WEFT_ERR_POOL_NOT_FOUND: 'NotFound',
  WEFT_ERR_ADDRESS_SPACE_NOT_FOUND: 'NotFound',
  WEFT_ERR_PORT_IN_USE: 'Conflict',
  WEFT_ERR_BRIDGE_FULL: 'NoService',
  WEFT_ERR_PARENT_UNUSABLE: 'BadRequest',
  WEFT_ERR_PARENT_IN_USE: 'Conflict',
  WEFT_ERR_KERNEL_UNSUPPORTED: 'NotImplemented',
  WEFT_ERR_NETWORK_NOT_FOUND: 'NotFound',
  WEFT_ERR_NETWORK_EXISTS: 'Conflict',
  WEFT_ERR_NETWORK_IN_USE: 'Forbidden',
  WEFT_ERR_ENDPOINT_NOT_FOUND: 'NotFound',
  WEFT_ERR_ENDPOINT_EXISTS: 'Conflict',
  WEFT_ERR_NETNS_NOT_FOUND: 'NotFound',
  WEFT_ERR_DRIVER_NOT_FOUND: 'NotFound',
  WEFT_ERR_DRIVER_NOT_AVAILABLE: 'NotImplemented',
  WEFT_ERR_NOT_SUPPORTED: 'Forbidden',
  WEFT_ERR_STORE_CONFLICT: 'Conflict',
  WEFT_ERR_STORE_UNAVAILABLE: 'NoService',
  WEFT_ERR_STORE_LEASE_EXPIRED: 'Conflict',
  WEFT_ERR_STORE_SCHEMA: 'Internal',
  WEFT_ERR_STORE_COMPACTED: 'Conflict',
  WEFT_ERR_HOST_NOT_FOUND: 'NotFound',
  WEFT_ERR_HOST_UP: 'Forbidden',
  WEFT_ERR_COMMAND_FAILED: 'Internal',
  WEFT_ERR_REQUEST_TOO_LARGE: 'BadRequest',
  WEFT_ERR_SHUTTING_DOWN: 'NoService',
  WEFT_ERR_DAEMON_UNREACHABLE: 'NoService',
  WEFT_ERR_INTERNAL: 'Internal',
};

export class WeftError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  /** Machine-readable context (the pool, the other network, ...). Never secrets. */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'WeftError';
    this.code = code;
    this.kind = KIND_OF[code];
    if (opts.details) this.details = opts.details;
  }
}

export function isWeftError(e: unknown, code?: ErrorCode): e is WeftError {
  return e instanceof WeftError && (code === undefined || e.code === code);
}

/** Turns anything thrown into a WeftError, keeping the original as the cause. */
export function toWeftError(e: unknown): WeftError {
  if (e instanceof WeftError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new WeftError(ErrorCodes.INTERNAL, `internal error: ${msg}`, { cause: e });
}

const HTTP_STATUS: Record<ErrorKind, number> = {
  BadRequest: 400,
  NotFound: 404,
  Forbidden: 403,
  Conflict: 409,
  NoService: 503,
  NotImplemented: 501,
  Internal: 500,
};

/** Status for the management API. (The Docker plugin API always answers 500: see src/plugin.) */
export function httpStatusOf(e: WeftError): number {
  return HTTP_STATUS[e.kind];
}

const EXIT_CODE: Record<ErrorKind, number> = {
  BadRequest: 2,
  NotFound: 3,
  Forbidden: 4,
  Conflict: 5,
  NoService: 6,
  NotImplemented: 7,
  Internal: 1,
};

/** Exit code of the `weft` CLI for an error of this kind. */
export function exitCodeOf(kind: ErrorKind): number {
  return EXIT_CODE[kind];
}

export const allErrorCodes = (): ErrorCode[] => Object.values(ErrorCodes);
