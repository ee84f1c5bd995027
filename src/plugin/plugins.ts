// The Docker plugins weft serves: one unix socket per name (design.md, "Names"). A NetworkDriver
// socket per weft driver, so users pick the driver with `-d weft-<driver>`, and one IPAM socket
// `weft`. Each socket answers Plugin.Activate plus the methods of the interfaces it lists; any
// other path is a 404 (dockerd reads that as "not implemented").

import { dockerDriverName } from '../driver-api/driver.js';
import { DRIVER_NAMES } from '../model/network.js';
import { activateHandlers } from './handlers/activate.js';
import type { HandlerTable, PluginSpec } from './handlers/context.js';
import { ipamDriverHandlers } from './handlers/ipam-driver.js';
import { networkDriverHandlers } from './handlers/network-driver.js';

export const IPAM_PLUGIN_NAME = 'weft';

export const PLUGINS: readonly PluginSpec[] = [
  ...DRIVER_NAMES.map((driver): PluginSpec => ({ name: dockerDriverName(driver), implements: ['NetworkDriver'], driver })),
  { name: IPAM_PLUGIN_NAME, implements: ['IpamDriver'] },
];

/** The routes of one socket. */
export function handlersFor(plugin: PluginSpec): HandlerTable {
  return {
    ...activateHandlers,
    ...(plugin.implements.includes('NetworkDriver') ? networkDriverHandlers : {}),
    ...(plugin.implements.includes('IpamDriver') ? ipamDriverHandlers : {}),
  };
}
