// Why weft-overlay through Docker needs `-o weft.network=NAME --ipam-driver weft --ipam-opt
// weft.network=NAME`, said to the user. Docker 20.10 keeps a remote network per engine (its own
// NetworkID on every host) and never tells the IPAM which network a pool is for, so the cluster
// identity has to travel in both option maps; and every engine's own IPAM would hand out the same
// addresses as the others' (docker-plugin-protocol.md §3.2, §7). Pure: message builders.

import { ErrorCodes, WeftError } from '../../src/model/errors.js';
import { WEFT_NETWORK_OPTION } from './options.js';

/** The one command that creates (or binds to) the cluster-wide network NAME through Docker. */
export function dockerCreateCommand(name = 'NAME', subnet?: string): string {
  return `docker network create -d weft-overlay -o ${WEFT_NETWORK_OPTION}=${name} --ipam-driver weft --ipam-opt ${WEFT_NETWORK_OPTION}=${name}${subnet ? ` --subnet ${subnet}` : ''} ${name}`;
}

const WHY = 'every Docker engine allocates its own addresses, so two hosts would hand out the same addresses on one overlay';

/** `-d weft-overlay` without `-o weft.network=NAME`. */
export function missingIdentityError(subnet?: string): WeftError {
  return new WeftError(
    ErrorCodes.INVALID_OPTION,
    `weft-overlay needs the cluster network's name in -o ${WEFT_NETWORK_OPTION}=NAME and --ipam-opt ${WEFT_NETWORK_OPTION}=NAME with weft's IPAM: each host's Docker gives the network its own id, and ${WHY}. Run instead: ${dockerCreateCommand('NAME', subnet)}`,
  );
}

/** `-o weft.network=NAME` with an IPAM that is not weft's mapped pool for NAME. */
export function foreignIpamError(name: string, subnet: string | undefined, reason: 'default-ipam' | 'ipam-opt'): WeftError {
  const what =
    reason === 'default-ipam'
      ? `weft-overlay network ${name} must take its addresses from weft's IPAM (--ipam-driver weft), not Docker's default IPAM`
      : `weft-overlay network ${name} needs --ipam-opt ${WEFT_NETWORK_OPTION}=${name} (the same name as -o ${WEFT_NETWORK_OPTION}) so that weft's IPAM serves the cluster's one pool`;
  return new WeftError(ErrorCodes.NOT_SUPPORTED, `${what}: ${WHY}. Run instead: ${dockerCreateCommand(name, subnet)}`);
}
