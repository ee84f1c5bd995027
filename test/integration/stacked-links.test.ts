// StackedLinkOps (macvlan, 802.1q VLAN, host routes) through iproute2 on the real kernel, in
// throw-away namespaces per case: the shared contract (test/unit/sys/stacked-links-contract.ts),
// which test/integration/link-ops.test.ts also runs against NetlinkLinkOps.

import { describe, it } from 'vitest';
import { ProcessRunner } from '../../src/sys/exec.js';
import { Iproute2LinkOps } from '../../src/sys/iproute2/iproute2-link-ops.js';
import { stackedLinksContract } from '../unit/sys/stacked-links-contract.js';
import { netnsScopePerTest } from '../helpers/netns.js';

const runner = new ProcessRunner();

describe('Iproute2LinkOps (ip -n NS) meets the StackedLinkOps contract', () => {
  const scope = netnsScopePerTest();
  for (const c of stackedLinksContract) {
    it(c.name, async () => {
      const ns = await scope.create();
      const other = await scope.create();
      await c.run({ ops: new Iproute2LinkOps(runner, { netns: ns.name }), netns: ns.name, otherNetns: other.name });
    });
  }
});
