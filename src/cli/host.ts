// Where the CLI finds weftd: `--host unix://PATH`, else $WEFT_HOST, else the default socket.
// Only unix sockets: the management API has no authentication of its own and relies on the
// socket's file permissions, so weft deliberately offers no TCP transport.

import { ErrorCodes, WeftError } from '../model/errors.js';

export const DEFAULT_HOST = 'unix:///run/weft/weft.sock';

export interface DaemonAddress {
  /** As the user wrote it (or the default), for messages. */
  url: string;
  /** Filesystem path of the socket. */
  socketPath: string;
}

export function resolveDaemonAddress(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): DaemonAddress {
  // An empty WEFT_HOST (`WEFT_HOST= weft ...`) means "not set", as it does for Docker's DOCKER_HOST.
  const url = flag ?? (env.WEFT_HOST ? env.WEFT_HOST : DEFAULT_HOST);
  return parseHost(url, flag !== undefined ? '--host' : 'WEFT_HOST');
}

export function parseHost(url: string, source = '--host'): DaemonAddress {
  const scheme = 'unix://';
  if (!url.startsWith(scheme)) {
    throw new WeftError(
      ErrorCodes.BAD_REQUEST,
      `${source} ${JSON.stringify(url)} is not supported: weftd listens only on a unix socket; give unix://PATH, e.g. ${DEFAULT_HOST}`,
    );
  }
  const socketPath = url.slice(scheme.length);
  if (socketPath === '' || socketPath.includes('\0')) {
    throw new WeftError(ErrorCodes.BAD_REQUEST, `${source} ${JSON.stringify(url)} names no socket path; give unix://PATH, e.g. ${DEFAULT_HOST}`);
  }
  return { url, socketPath };
}
