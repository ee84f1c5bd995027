// Whether a link exists inside a sandbox, by `ip link show dev NAME` run in the namespace (by name,
// or by path through nsenter). For links the host cannot list (a macvlan endpoint's link lives in
// the container's namespace). The caller checks that the namespace exists first: a missing
// namespace also answers false.

import type { SandboxRef } from '../model/network.js';
import type { CommandRunner } from './exec.js';
import { ipInNetns } from './sandbox.js';

export async function sandboxLinkExists(runner: CommandRunner, sandbox: SandboxRef, name: string): Promise<boolean> {
  const r = await runner.run([...ipInNetns(sandbox), 'link', 'show', 'dev', name], { check: false });
  return r.code === 0;
}
