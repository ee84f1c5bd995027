// What every plugin handler receives: the two contracts it maps onto, which plugin socket the
// call came in on, and a logger already tagged with the plugin, method and request id.

import type { Logger } from 'pino';
import type { Controller } from '../../controller/controller.js';
import type { Ipam } from '../../ipam/ipam.js';
import type { DriverName } from '../../model/network.js';
import type { DockerBindings } from '../docker-bindings.js';

export type PluginInterface = 'NetworkDriver' | 'IpamDriver';

/** One Docker plugin = one socket `<pluginDir>/<name>.sock`. */
export interface PluginSpec {
  /** The name users pass to `docker network create -d NAME` / `--ipam-driver NAME`. */
  readonly name: string;
  readonly implements: readonly PluginInterface[];
  /** The weft driver a NetworkDriver socket is bound to. */
  readonly driver?: DriverName;
}

export interface HandlerContext {
  readonly controller: Controller;
  readonly ipam: Ipam;
  readonly plugin: PluginSpec;
  readonly log: Logger;
  /** Docker NetworkIDs bound to cluster networks (weft-overlay); absent in tests of other drivers. */
  readonly bindings?: DockerBindings;
}

/** A JSON body in (already parsed, not yet checked; undefined when empty), a JSON body out.
 *  Throwing means HTTP 500 {"Err": message}. */
export type Handler = (body: unknown, ctx: HandlerContext) => Promise<object>;

/** Keyed by "<Interface>.<Method>", e.g. "NetworkDriver.CreateNetwork". */
export type HandlerTable = Record<string, Handler>;
