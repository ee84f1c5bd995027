// Plugin.Activate (§2.1). dockerd calls it on first use, after each of its restarts, and on every
// `docker volume ls` for every socket in the plugin folder: it must be constant, instant and free
// of side effects, and must never list VolumeDriver.

import { encodeResponse } from '../decode.js';
import type { HandlerTable } from './context.js';

export const activateHandlers: HandlerTable = {
  'Plugin.Activate': async (_body, ctx) => encodeResponse('Plugin.Activate', { Implements: [...ctx.plugin.implements] }),
};
