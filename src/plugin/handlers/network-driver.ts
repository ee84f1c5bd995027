// NetworkDriver.* (§2): check the body, call the controller, shape the answer. Each socket
// weft-<driver> is bound to one weft driver (ctx.plugin.driver).

import { stat } from 'node:fs/promises';
import type { DriverCapabilities } from '../../driver-api/driver.js';
import { ErrorCodes, WeftError, isWeftError } from '../../model/errors.js';
import { failpoint } from '../../sys/failpoints.js';
import type { DriverName } from '../../model/network.js';
import { checkPublishable } from '../../model/publish.js';
import { decodeRequest, encodeResponse } from '../decode.js';
import { OPT_PORTMAP } from '../wire.js';
import type { HandlerContext, HandlerTable } from './context.js';
import { checkEndpointAddress, dockerNetwork } from './docker-network.js';
import { toCreateNetworkRequest, toInterfaceResponse, toJoinResponse, toPortMapping } from './network-mapping.js';
import { createOverlayNetwork, deleteOverlayNetwork, resolveNetworkId } from './overlay-network.js';

/** Docker 20.10 calls Join before the container's namespace exists: its SandboxKey may not exist
 *  yet (the runtime's hook creates and binds it later), so a missing path is fine. What it never is,
 *  is a directory: that is refused (the schema already refused '..' and control characters). */
async function checkSandboxKey(key: string): Promise<void> {
  const st = await stat(key).catch(() => undefined);
  if (st?.isDirectory()) throw new WeftError(ErrorCodes.NETNS_NOT_FOUND, `SandboxKey ${JSON.stringify(key)} is a directory, not a network namespace`);
}

function driverOf(ctx: HandlerContext): DriverName {
  const d = ctx.plugin.driver;
  if (!d) throw new WeftError(ErrorCodes.INTERNAL, `plugin ${ctx.plugin.name} serves NetworkDriver but is bound to no driver`);
  return d;
}

/** What Docker is told if the controller cannot answer. GetCapabilities must not fail: a failure
 *  disables the driver until dockerd restarts (§1.2). Overlay spans hosts; the rest do not. */
export function fallbackCapabilities(driver: DriverName | undefined): DriverCapabilities {
  return { scope: 'local', connectivityScope: driver === 'overlay' ? 'global' : 'local' };
}

/** Deletes and leaves of something weft does not know are done: Docker re-sends stale calls
 *  after restarts and only logs the errors anyway (§2.5, §2.8, §2.10). */
const isGone = (e: unknown): boolean =>
  isWeftError(e, ErrorCodes.NETWORK_NOT_FOUND) || isWeftError(e, ErrorCodes.ENDPOINT_NOT_FOUND);

async function tolerateGone(ctx: HandlerContext, what: string, op: () => Promise<void>): Promise<object> {
  try {
    await op();
  } catch (e) {
    if (!isGone(e)) throw e;
    ctx.log.debug({ err: e }, `${what}: already gone, nothing to do`);
  }
  return {};
}

export const networkDriverHandlers: HandlerTable = {
  'NetworkDriver.GetCapabilities': async (_body, ctx) => {
    let caps: DriverCapabilities;
    try {
      caps = ctx.controller.capabilities(driverOf(ctx));
    } catch (e) {
      caps = fallbackCapabilities(ctx.plugin.driver);
      ctx.log.error({ err: e, fallback: caps }, 'driver capabilities unavailable; answering the defaults');
    }
    return encodeResponse('NetworkDriver.GetCapabilities', { Scope: caps.scope, ConnectivityScope: caps.connectivityScope });
  },

  'NetworkDriver.CreateNetwork': async (body, ctx) => {
    const req = decodeRequest('NetworkDriver.CreateNetwork', body);
    if (driverOf(ctx) === 'overlay') await createOverlayNetwork(req, ctx);
    else await ctx.controller.createNetwork(toCreateNetworkRequest(req, driverOf(ctx)));
    return {};
  },

  // Swarm managers only (§2.4); weft keeps nothing to forward to workers.
  'NetworkDriver.AllocateNetwork': async (body) => {
    decodeRequest('NetworkDriver.AllocateNetwork', body);
    return { Options: {} };
  },

  'NetworkDriver.FreeNetwork': async (body) => {
    decodeRequest('NetworkDriver.FreeNetwork', body);
    return {};
  },

  'NetworkDriver.DeleteNetwork': async (body, ctx) => {
    const req = decodeRequest('NetworkDriver.DeleteNetwork', body);
    // Only an overlay network through this socket (a bridge network's id sent here deletes nothing).
    if (driverOf(ctx) === 'overlay') {
      return tolerateGone(ctx, 'DeleteNetwork', async () => {
        await dockerNetwork(ctx, req.NetworkID);
        await deleteOverlayNetwork(req.NetworkID, ctx);
      });
    }
    // By exact id, and only a Docker network of this socket's driver: the controller would also
    // take a name or an id prefix, and one driver's socket must not delete another's network.
    return tolerateGone(ctx, 'DeleteNetwork', async () => ctx.controller.deleteNetwork((await dockerNetwork(ctx, req.NetworkID)).id, 'docker'));
  },

  'NetworkDriver.CreateEndpoint': async (body, ctx) => {
    const req = decodeRequest('NetworkDriver.CreateEndpoint', body);
    const iface = req.Interface ?? {};
    // Only -p bindings become PortMappings. Exposed-only ports (EXPOSE without -p) publish nothing,
    // and the contract has no place for them.
    const portMappings = (req.Options?.[OPT_PORTMAP] ?? []).map(toPortMapping);
    portMappings.forEach(checkPublishable);
    const net = await dockerNetwork(ctx, req.NetworkID);
    if (iface.Address || iface.AddressIPv6) {
      const others = await ctx.controller.listEndpoints(net.id);
      if (iface.Address) checkEndpointAddress(net, others, iface.Address);
      if (iface.AddressIPv6) checkEndpointAddress(net, others, iface.AddressIPv6);
    }
    const { iface: got } = await ctx.controller.createEndpoint({
      networkId: net.id,
      endpointId: req.EndpointID,
      origin: 'docker',
      ...(iface.Address ? { addressV4: iface.Address } : {}),
      ...(iface.AddressIPv6 ? { addressV6: iface.AddressIPv6 } : {}),
      ...(iface.MacAddress ? { mac: iface.MacAddress.toLowerCase() } : {}),
      ...(portMappings.length > 0 ? { portMappings } : {}),
    });
    failpoint('plugin.create-endpoint.before-reply');
    const { response, dropped } = toInterfaceResponse(req.Interface, got);
    if (dropped.length > 0) ctx.log.warn({ dropped }, 'driver returned values for fields Docker had set; keeping Docker\'s');
    return encodeResponse('NetworkDriver.CreateEndpoint', response);
  },

  // Docker aborts a container start if this fails (§2.7), and it ignores whatever a remote driver
  // puts into Value. So it always succeeds; an unknown endpoint gets an empty Value.
  'NetworkDriver.EndpointOperInfo': async (body, ctx) => {
    const req = decodeRequest('NetworkDriver.EndpointOperInfo', body);
    try {
      const value = await ctx.controller.endpointInfo(await resolveNetworkId(ctx, req.NetworkID), req.EndpointID);
      return encodeResponse('NetworkDriver.EndpointOperInfo', { Value: value });
    } catch (e) {
      if (isGone(e)) ctx.log.debug({ err: e }, 'EndpointOperInfo for an unknown endpoint');
      else ctx.log.warn({ err: e }, 'EndpointOperInfo failed; answering an empty Value');
      return { Value: {} };
    }
  },

  'NetworkDriver.DeleteEndpoint': async (body, ctx) => {
    const req = decodeRequest('NetworkDriver.DeleteEndpoint', body);
    return tolerateGone(ctx, 'DeleteEndpoint', async () => ctx.controller.deleteEndpoint(await resolveNetworkId(ctx, req.NetworkID), req.EndpointID));
  },

  'NetworkDriver.Join': async (body, ctx) => {
    const req = decodeRequest('NetworkDriver.Join', body);
    await checkSandboxKey(req.SandboxKey);
    const result = await ctx.controller.join(await resolveNetworkId(ctx, req.NetworkID), req.EndpointID, { path: req.SandboxKey });
    failpoint('plugin.join.before-reply');
    return encodeResponse('NetworkDriver.Join', toJoinResponse(result));
  },

  'NetworkDriver.Leave': async (body, ctx) => {
    const req = decodeRequest('NetworkDriver.Leave', body);
    return tolerateGone(ctx, 'Leave', async () => ctx.controller.leave(await resolveNetworkId(ctx, req.NetworkID), req.EndpointID));
  },

  // Its failure aborts the container start (§2.11), so errors go back to Docker.
  'NetworkDriver.ProgramExternalConnectivity': async (body, ctx) => {
    const req = decodeRequest('NetworkDriver.ProgramExternalConnectivity', body);
    await ctx.controller.programExternalConnectivity(await resolveNetworkId(ctx, req.NetworkID), req.EndpointID);
    return {};
  },

  'NetworkDriver.RevokeExternalConnectivity': async (body, ctx) => {
    const req = decodeRequest('NetworkDriver.RevokeExternalConnectivity', body);
    return tolerateGone(ctx, 'RevokeExternalConnectivity', () =>
      resolveNetworkId(ctx, req.NetworkID).then((id) => ctx.controller.revokeExternalConnectivity(id, req.EndpointID)),
    );
  },

  // Swarm / cluster-store discovery only (§2.12). weft learns its peers from its own store.
  'NetworkDriver.DiscoverNew': async (body) => {
    decodeRequest('NetworkDriver.DiscoverNew', body);
    return {};
  },
  'NetworkDriver.DiscoverDelete': async (body) => {
    decodeRequest('NetworkDriver.DiscoverDelete', body);
    return {};
  },
};
