// weft check against a real Docker Engine (weftd with --docker-socket, inside the dockerd handle's
// namespaces): clean on a consistent host; a Docker endpoint's veth deleted by hand is re-created
// in the container by the link event; a weft record of a Docker endpoint Docker lacks (container
// gone) is dropped by --repair; an endpoint Docker has and weft lost is reported and left to Docker.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, importBusybox } from '../helpers/busybox-image.js';
import { startDockerd, type DockerdHandle } from '../helpers/dockerd.js';
import { plantRecords } from '../helpers/store-plant.js';
import { waitUntil as until } from '../helpers/wait.js';
import { startWeftd, type WeftdHandle } from '../helpers/weftd.js';

interface Finding {
  kind: string;
  object: string;
}

describe('weft check with a real Docker Engine', () => {
  let dockerd: DockerdHandle;
  let weftd: WeftdHandle;
  let netId = '';

  const check = async () => {
    const r = await weftd.cli(['check', '--format', 'json']);
    return { code: r.code, findings: (JSON.parse(r.stdout || '{"findings":[]}') as { findings: Finding[] }).findings, stderr: r.stderr };
  };
  const repair = async () => {
    const r = await weftd.cli(['check', '--repair', '--format', 'json']);
    return { code: r.code, ...(JSON.parse(r.stdout) as { repairs: { kind: string; object: string; outcome: string }[]; after: { findings: Finding[] } }) };
  };
  const endpointOf = async (c: string) => (await dockerd.dockerOk(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.EndpointID}}{{end}}', c])).stdout.trim();
  const ipOf = async (c: string) => (await dockerd.dockerOk(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', c])).stdout.trim();
  const sleeper = (name: string) => dockerd.dockerOk(['run', '--pull', 'never', '-d', '--name', name, '--network', 'dchk', BUSYBOX_IMAGE, 'sleep', '600']);

  beforeAll(async () => {
    dockerd = await startDockerd({ bridge: 'none' });
    await importBusybox(dockerd);
    weftd = await startWeftd({
      prefix: dockerd.nsenterArgv(['true']).slice(0, -1),
      pluginDir: dockerd.pluginDir,
      args: ['--docker-socket', dockerd.socket, '--reconcile-interval', '3600'],
    });
    netId = (await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.47.1.0/24', 'dchk'])).stdout.trim();
    await sleeper('c1');
    await sleeper('c2');
  }, 120_000);
  afterAll(async () => {
    await dockerd?.stop();
    await weftd?.cleanup();
  });

  it('is clean when weft and Docker agree', async () => {
    const r = await check();
    expect(r.findings).toEqual([]);
    expect(r.code).toBe(0);
  });

  it("re-creates a Docker endpoint's veth deleted by hand inside the container, with its address", async () => {
    const [ep1, ip1, ip2] = [await endpointOf('c1'), await ipOf('c1'), await ipOf('c2')];
    await dockerd.netns.ip(['link', 'del', `wfh${ep1.slice(0, 12)}`]);
    await until('c1 pings c2 again', async () => (await dockerd.docker(['exec', 'c1', 'ping', '-c', '1', '-W', '1', ip2])).code === 0);
    expect((await dockerd.dockerOk(['exec', 'c1', 'ip', '-o', '-4', 'addr', 'show'])).stdout).toContain(`${ip1}/24`);
    expect(weftd.log()).toContain('endpoint veth was deleted: re-created in its namespace');
    expect((await check()).code).toBe(0);
  });

  it('drops a Docker endpoint weft has and Docker lacks once its sandbox is gone', async () => {
    const ghost = '5a'.repeat(32);
    await weftd.stop();
    // Joined just now: the reconciler's own stale-sandbox clean-up (at start and periodic) leaves
    // joins younger than its grace alone (Docker mounts the namespace after Join), so only the check sees it.
    await plantRecords(weftd, [
      [`endpoints/${netId}/${ghost}`, { id: ghost, networkId: netId, origin: 'docker', addressV4: '10.47.1.99/24', sandbox: { path: '/var/run/docker/netns/gone0000' }, joinedAt: new Date().toISOString(), createdAt: new Date().toISOString() }],
    ]);
    await weftd.start();
    const before = await check();
    expect(before.findings.map((f) => `${f.kind} ${f.object}`).sort()).toEqual([`docker-endpoint-missing endpoint ${ghost}`, `stale-endpoint endpoint ${ghost}`]);
    const r = await repair();
    expect(r.repairs.find((a) => a.kind === 'stale-endpoint')?.outcome).toBe('repaired');
    expect(r.code).toBe(0);
  });

  it("reports an endpoint Docker has and weft lost, leaves it to Docker, and is clean once Docker removed it", async () => {
    const ep2 = await endpointOf('c2');
    await weftd.stop();
    await plantRecords(weftd, [[`endpoints/${netId}/${ep2}`, null]]);
    await weftd.start();
    const before = await check();
    expect(before.findings.map((f) => `${f.kind} ${f.object}`)).toContain(`docker-endpoint-unknown endpoint ${ep2}`);
    const r = await repair();
    expect(r.code).toBe(1);
    expect(r.repairs.filter((a) => a.kind === 'docker-endpoint-unknown').map((a) => a.outcome)).toEqual(['skipped']);
    await dockerd.dockerOk(['rm', '-f', 'c2']);
    await until('check clean after docker rm', async () => (await check()).code === 0);
  });
});
