// The controller's half of Docker's pools (src/controller/network-ipam.ts, bindDockerPools): at
// CreateNetwork it finds the pools Docker took by subnet among those no network holds, and binds
// them to the driver's L2 domain, which is where the overlap check for Docker happens.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Fixture, makeFixture, rejection } from '../ipam/fixture.js';
import { DockerIpam } from '../../../src/ipam/docker-ipam.js';
import type { IpamEntry } from '../../../src/model/network.js';
import { bindDockerPools } from '../../../src/controller/network-ipam.js';
import type { IpamService } from '../../../src/ipam/ipam-service.js';

let fx: Fixture;
let ipam: IpamService;
let docker: DockerIpam;
let clock: number;
beforeEach(async () => {
  fx = await makeFixture();
  clock = Date.parse('2026-01-01T00:00:00Z');
  ipam = fx.ipam({ now: () => clock });
  docker = new DockerIpam(ipam);
});
afterEach(async () => {
  await fx.cleanup();
});

const entry = (subnet: string, ipRange?: string): IpamEntry => ({ subnet, auxAddresses: {}, ...(ipRange ? { ipRange } : {}) });

describe('bindDockerPools', () => {
  it('binds the pool Docker just took, skipping pools other networks hold', async () => {
    await docker.requestPool({ addressSpace: 'local', pool: '10.82.0.0/24', v6: false });
    const first = [entry('10.82.0.0/24')];
    await bindDockerPools(ipam, 'docker-aaa', first, new Set(), 'par1');
    expect(first[0]!.poolId).toBe('local/10.82.0.0/24');

    const second = await docker.requestPool({ addressSpace: 'local', pool: '10.82.0.0/24', v6: false });
    const entries = [entry('10.82.0.0/24')];
    await bindDockerPools(ipam, 'docker-bbb', entries, new Set([first[0]!.poolId!]), 'par2');
    expect(entries[0]!.poolId).toBe(second.poolId);
    expect(await ipam.getPool(second.poolId)).toMatchObject({ l2domain: 'par2', network: 'docker-bbb' });
  });

  it('refuses a second network on the same parent with the IPAM\'s overlap error', async () => {
    await docker.requestPool({ addressSpace: 'local', pool: '10.83.0.0/24', v6: false });
    const first = [entry('10.83.0.0/24')];
    await bindDockerPools(ipam, 'docker-aaa', first, new Set(), 'par1');
    const p = await docker.requestPool({ addressSpace: 'local', pool: '10.83.0.0/25', v6: false });
    const e = await rejection(bindDockerPools(ipam, 'docker-ccc', [entry('10.83.0.0/25')], new Set([first[0]!.poolId!]), 'par1'));
    expect(e.code).toBe('WEFT_ERR_POOL_OVERLAP');
    expect(e.message).toContain('overlaps network "docker-aaa" (10.83.0.0/24) on the same L2 domain (par1)');
    expect((await ipam.getPool(p.poolId))?.binding).toBe('pending');
  });

  it('leaves subnets alone that no weft pool serves (Docker\'s built-in IPAM)', async () => {
    const entries = [entry('10.84.0.0/24')];
    await bindDockerPools(ipam, 'docker-ddd', entries, new Set(), undefined);
    expect(entries[0]!.poolId).toBeUndefined();
  });

  it('never has two unbound pools of one subnet to choose from: the second request is refused', async () => {
    await docker.requestPool({ addressSpace: 'local', pool: '10.86.0.0/24', v6: false });
    const first = [entry('10.86.0.0/24')];
    await bindDockerPools(ipam, 'docker-aaa', first, new Set(), 'par1');
    await docker.requestPool({ addressSpace: 'local', pool: '10.86.0.0/24', v6: false }); // pending, being created
    const e = await rejection(docker.requestPool({ addressSpace: 'local', pool: '10.86.0.0/24', v6: false }));
    expect(e.message).toBe('subnet 10.86.0.0/24 overlaps pool 10.86.0.0/24');
  });

  it('with weft.l2domain pools, takes the one of the driver\'s domain', async () => {
    const opt = (d: string) => ({ addressSpace: 'local', pool: '10.87.0.0/24', v6: false, options: { 'weft.l2domain': d } });
    await docker.requestPool(opt('par1'));
    const two = await docker.requestPool(opt('par2'));
    const entries = [entry('10.87.0.0/24')];
    await bindDockerPools(ipam, 'docker-fff', entries, new Set(), 'par2');
    expect(entries[0]!.poolId).toBe(two.poolId);
    expect((await ipam.getPool(two.poolId))?.network).toBe('docker-fff');
  });

  it('matches the ip-range too', async () => {
    await docker.requestPool({ addressSpace: 'local', pool: '10.85.0.0/24', subPool: '10.85.0.128/25', v6: false });
    const entries = [entry('10.85.0.0/24', '10.85.0.0/25'), entry('10.85.0.0/24', '10.85.0.128/25')];
    await bindDockerPools(ipam, 'docker-eee', entries, new Set(), undefined);
    expect(entries.map((e) => e.poolId)).toEqual([undefined, 'local/10.85.0.0/24']);
  });
});
