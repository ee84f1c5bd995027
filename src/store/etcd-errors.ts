// Turns what the etcd client throws (gRPC status errors, etcd server errors, the client's own
// circuit-breaker and closed-client errors) into WeftErrors with the codes the Store contract
// promises, each naming the etcd endpoints it tried, so that "etcd is down" reads the same
// whatever layer noticed it.

import { ErrorCodes, WeftError } from '../model/errors.js';
import { leaseExpiredError } from './lease-validate.js';
import type { LeaseId } from './store.js';

export interface EtcdCallContext {
  /** What was being done, for the message: `put "networks/x"`, `watch "ipam/"`. */
  op: string;
  endpoints: readonly string[];
  timeoutMs: number;
  /** The lease the call used, so "lease not found" can name it. */
  lease?: LeaseId;
}

/** Raised by the store's own deadline when the client did not give up by itself. */
export class EtcdTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'EtcdTimeoutError';
  }
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * A gRPC error message without its noise: the status prefix ("14 UNAVAILABLE: "), timestamps,
 * an empty "Resolution note:", line breaks. What is left says what happened
 * ("No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2379").
 */
export function tidyMessage(e: unknown): string {
  return messageOf(e)
    .replace(/^\d+ [A-Z_]+: /, '')
    .replace(/\s*\(\d{4}-\d\d-\d\dT[^)]*\)/g, '')
    .replace(/\.?\s*Resolution note:\s*$/, '')
    .replace(/\s+/g, ' ')
    .trim();
}

const nameOf = (e: unknown): string => (e instanceof Error ? e.constructor.name : '');
/** gRPC status code, when the error carries one (grpc-js sets `code` on call errors). */
const grpcCode = (e: unknown): number | undefined => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
};

/** etcd's "required revision has been compacted" (range at an old revision, or a watch). */
export function isCompactedError(e: unknown): boolean {
  return messageOf(e).includes('required revision has been compacted');
}

/** etcd's "required revision is a future revision" (range at a revision not written yet). */
export function isFutureRevisionError(e: unknown): boolean {
  return messageOf(e).includes('required revision is a future revision');
}

export function isLeaseNotFoundError(e: unknown): boolean {
  return nameOf(e) === 'EtcdLeaseInvalidError' || messageOf(e).includes('requested lease not found');
}

export function unavailableError(message: string, endpoints: readonly string[], cause?: unknown): WeftError {
  return new WeftError(ErrorCodes.STORE_UNAVAILABLE, message, { cause, details: { endpoints: [...endpoints] } });
}

/** Maps anything an etcd call threw to the WeftError a caller of the Store sees. */
export function toStoreError(e: unknown, ctx: EtcdCallContext): WeftError {
  if (e instanceof WeftError) return e;
  const where = `etcd at ${ctx.endpoints.join(', ')}`;
  const msg = messageOf(e);
  const name = nameOf(e);

  if (isLeaseNotFoundError(e) && ctx.lease !== undefined) return leaseExpiredError(ctx.lease);
  if (isCompactedError(e)) {
    return new WeftError(ErrorCodes.STORE_COMPACTED, `${ctx.op}: ${where} no longer has that revision (compacted): list the keys again and watch from the current revision`, {
      cause: e,
    });
  }
  // Requests etcd refuses as malformed or too big (more ops than --max-txn-ops, a request over
  // --max-request-bytes): the caller's to fix, and nothing was written.
  if (name === 'GRPCInvalidArgumentError' || grpcCode(e) === 3 || /too many operations in txn|request is too large|duplicate key given in txn/.test(msg)) {
    return new WeftError(ErrorCodes.BAD_REQUEST, `${ctx.op}: ${where} refused the request: ${msg}`, { cause: e });
  }
  if (e instanceof EtcdTimeoutError || name === 'GRPCDeadlineExceededError' || grpcCode(e) === 4) {
    return unavailableError(
      `${ctx.op}: ${where} did not answer within ${ctx.timeoutMs} ms (is etcd running, and does the cluster have a quorum?)`,
      ctx.endpoints,
      e,
    );
  }
  if (name === 'ClientClosedError') return unavailableError(`${ctx.op}: the etcd store is closed`, ctx.endpoints, e);
  if (name === 'EtcdPermissionDeniedError' || name.startsWith('EtcdAuth') || name === 'GRPCUnauthenticatedError') {
    return unavailableError(`${ctx.op}: ${where} refused access: ${msg}`, ctx.endpoints, e);
  }
  // UNAVAILABLE (refused, reset, TLS handshake failed), the client's open circuit breaker
  // ("circuit breaker is open": every endpoint failed recently), and anything else.
  return unavailableError(`${ctx.op}: cannot reach ${where}: ${tidyMessage(e)}`, ctx.endpoints, e);
}
