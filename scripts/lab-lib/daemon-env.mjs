// Environments for what the lab starts: the machine's settings for weft, Docker and etcd must not
// leak into a lab node (a WEFT_SOCKET_GROUP or DOCKER_HOST of the caller would change its daemons).

import { SYSTEM_PATH } from './proc.mjs';

const FOREIGN = /^(WEFT_|DOCKER_|CONTAINERD_|ETCD_|ETCDCTL_)/;

export function daemonEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!FOREIGN.test(k) && v !== undefined) env[k] = v;
  env.PATH = SYSTEM_PATH;
  return env;
}
