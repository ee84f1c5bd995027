// IpamDriver.* (§3) on the socket `weft`: check the body, call weft's IPAM, shape the answer.
//
// Address kinds. Docker marks only gateway requests (Options.RequestAddressType). An aux address
// (--aux-address) and a container's --ip look the same on the wire: an explicit Address with null
// Options, and no network or endpoint id. weft records both as 'endpoint'. That costs nothing in
// accounting: Docker releases aux addresses with ReleaseAddress before ReleasePool (§2.13), exactly
// like container addresses, so neither leaks. (Guessing 'aux' from "no network uses this pool yet"
// would depend on when the controller names pools, and a wrong 'aux' could make an address
// outlive its container.)

import { parseCidr } from '../wire-formats.js';
import { decodeRequest, encodeResponse } from '../decode.js';
import { OPT_REQUEST_ADDRESS_TYPE, REQUEST_ADDRESS_TYPE_GATEWAY } from '../wire.js';
import type { HandlerTable } from './context.js';
import type { AddressKind, PoolRequest } from '../../ipam/ipam.js';
import { WEFT_NETWORK_OPTION } from '../../../drivers/overlay/options.js';
import { parseMappedPoolId, releaseMappedAddress, releaseMappedPool, requestMappedAddress, requestMappedPool } from './overlay-ipam.js';

/** weft keeps its own state, so Docker must not replay allocations at start (§3), and it needs no
 *  MAC to allocate. */
export const IPAM_CAPABILITIES = { RequiresMACAddress: false, RequiresRequestReplay: false } as const;

export function addressKindOf(options: Record<string, string> | null | undefined): AddressKind {
  return options?.[OPT_REQUEST_ADDRESS_TYPE] === REQUEST_ADDRESS_TYPE_GATEWAY ? 'gateway' : 'endpoint';
}

export const ipamDriverHandlers: HandlerTable = {
  'IpamDriver.GetCapabilities': async () => ({ ...IPAM_CAPABILITIES }),

  'IpamDriver.GetDefaultAddressSpaces': async (_body, ctx) => {
    const spaces = ctx.ipam.defaultAddressSpaces();
    return encodeResponse('IpamDriver.GetDefaultAddressSpaces', {
      LocalDefaultAddressSpace: spaces.local,
      GlobalDefaultAddressSpace: spaces.global,
    });
  },

  'IpamDriver.RequestPool': async (body, ctx) => {
    const req = decodeRequest('IpamDriver.RequestPool', body);
    const identity = req.Options?.[WEFT_NETWORK_OPTION];
    if (identity !== undefined) {
      // A weft-overlay network's pool: the cluster's one pool, whatever space the engine asks in.
      const { [WEFT_NETWORK_OPTION]: _id, ...rest } = req.Options ?? {};
      const v6 = req.Pool ? parseCidr(req.Pool)?.family === 6 : (req.V6 ?? false);
      const res = await requestMappedPool(ctx, { name: identity, v6, options: rest, ...(req.Pool ? { pool: req.Pool } : {}), ...(req.SubPool ? { subPool: req.SubPool } : {}) });
      return encodeResponse('IpamDriver.RequestPool', res);
    }
    const poolReq: PoolRequest = {
      addressSpace: req.AddressSpace ?? '',
      // With an explicit pool its family decides; without one, V6 does.
      v6: req.Pool ? parseCidr(req.Pool)?.family === 6 : (req.V6 ?? false),
    };
    if (req.Pool) poolReq.pool = req.Pool;
    if (req.SubPool) poolReq.subPool = req.SubPool;
    if (req.Options) poolReq.options = req.Options;
    const info = await ctx.ipam.requestPool(poolReq);
    return encodeResponse('IpamDriver.RequestPool', { PoolID: info.poolId, Pool: info.pool, Data: info.data });
  },

  // dockerd ignores errors here (and has already released the addresses); weft's IPAM treats an
  // unknown pool as released. A real failure is logged for the reconciler's owner to look at.
  'IpamDriver.ReleasePool': async (body, ctx) => {
    const req = decodeRequest('IpamDriver.ReleasePool', body);
    try {
      const mapped = parseMappedPoolId(req.PoolID);
      if (mapped) await releaseMappedPool(ctx, mapped);
      else await ctx.ipam.releasePool(req.PoolID);
    } catch (e) {
      ctx.log.warn({ err: e, poolId: req.PoolID }, 'ReleasePool failed; told Docker it succeeded');
    }
    return {};
  },

  'IpamDriver.RequestAddress': async (body, ctx) => {
    const req = decodeRequest('IpamDriver.RequestAddress', body);
    const mapped = parseMappedPoolId(req.PoolID);
    if (mapped) {
      const address = await requestMappedAddress(ctx, mapped, addressKindOf(req.Options), req.Address || undefined);
      return encodeResponse('IpamDriver.RequestAddress', { Address: address, Data: {} });
    }
    const info = await ctx.ipam.requestAddress({
      poolId: req.PoolID,
      kind: addressKindOf(req.Options),
      ...(req.Address ? { address: req.Address } : {}),
    });
    return encodeResponse('IpamDriver.RequestAddress', { Address: info.address, Data: {} });
  },

  'IpamDriver.ReleaseAddress': async (body, ctx) => {
    const req = decodeRequest('IpamDriver.ReleaseAddress', body);
    const mapped = parseMappedPoolId(req.PoolID);
    if (mapped) await releaseMappedAddress(ctx, mapped, req.Address);
    else await ctx.ipam.releaseAddress(req.PoolID, req.Address);
    return {};
  },
};
