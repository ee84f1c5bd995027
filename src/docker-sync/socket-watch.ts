// Notices the Docker engine's API socket being made or removed (dockerd starting or stopping),
// with inotify on its folder: the one sign of a dockerd start that comes whether or not Docker
// uses a weft plugin, and without the cluster store that docker-sync needs. Watching the folder,
// not the file: the file does not exist while dockerd is down, and dockerd replaces it on start.

import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';

/** Calls `onChange` whenever the socket file is created, replaced or removed. Returns a stop function. */
export function watchEngineSocket(socketPath: string, onChange: () => void, logger: Logger): () => void {
  const dir = dirname(socketPath);
  const name = basename(socketPath);
  let w: FSWatcher;
  try {
    w = watch(dir, { persistent: false }, (_event, file) => {
      // A null name: the kernel's queue overflowed, so the socket may have changed too.
      if (file === null || file === name) onChange();
    });
  } catch (err) {
    logger.info({ err, dir }, 'cannot watch the Docker socket\'s folder: a dockerd start is noticed by Plugin.Activate and the periodic pass only');
    return () => undefined;
  }
  w.on('error', (err) => logger.warn({ err, dir }, 'watch of the Docker socket\'s folder failed'));
  return () => w.close();
}
