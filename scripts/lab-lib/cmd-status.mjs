// `lab status [--json]`: every node with its address, namespace, switch port, daemons, PIDs and
// health (weftd: its API answers; dockerd: /_ping; etcd: /health from inside its namespace).

import { memberHealth } from './etcd.mjs';
import { dockerPing, weftdVersion } from './host.mjs';
import { DEFAULT_NAME, defaultDir } from './layout.mjs';
import { netnsExists } from './netns.mjs';
import { isSameAlive, run } from './proc.mjs';

/** The status of the whole lab as data (what `--json` prints). */
export async function collectStatus(state) {
  const ports = await switchPorts(state);
  const daemon = (name, ident, healthy, detail) => {
    const running = isSameAlive(ident);
    return {
      name,
      pid: running ? ident.pid : null,
      running,
      healthy: running && healthy,
      state: !running ? 'down' : healthy ? 'up' : 'unhealthy',
      ...(detail ? { detail } : {}),
    };
  };
  const etcd = await Promise.all(
    state.etcd.map(async (m) => {
      const h = isSameAlive(m.etcd) ? await memberHealth(state, m) : { healthy: false };
      return {
        name: m.name,
        kind: 'etcd',
        addr: m.addr,
        netns: m.netns,
        netnsExists: netnsExists(m.netns),
        link: ports.get(m.name) ?? 'missing',
        daemons: [daemon('etcd', m.etcd, h.healthy, h.detail)],
      };
    }),
  );
  const hosts = await Promise.all(
    state.hosts.map(async (h) => {
      const v = isSameAlive(h.weftd) ? await weftdVersion(h) : undefined;
      const daemons = [daemon('weftd', h.weftd, Boolean(v), v ? `weft ${v.version}, store ${v.store}` : undefined)];
      if (h.docker) daemons.push(daemon('dockerd', h.dockerd, isSameAlive(h.dockerd) && (await dockerPing(h))));
      return {
        name: h.name,
        kind: 'host',
        addr: h.addr,
        netns: h.netns,
        netnsExists: netnsExists(h.netns),
        link: ports.get(h.name) ?? 'missing',
        anchor: { pid: isSameAlive(h.anchor) ? h.anchor.pid : null, running: isSameAlive(h.anchor) },
        env: {
          WEFT_HOST: `unix://${h.socket}`,
          ...(h.docker ? { DOCKER_HOST: `unix://${h.docker.socket}` } : {}),
        },
        daemons,
      };
    }),
  );
  return {
    name: state.name,
    dir: state.dir,
    createdAt: state.createdAt,
    options: state.options,
    underlay: state.underlay,
    switch: { netns: state.switch.netns, netnsExists: netnsExists(state.switch.netns) },
    nodes: [...etcd, ...hosts],
  };
}

/** Switch port (named after the node) -> 'up' | 'down', read from the switch namespace. */
async function switchPorts(state) {
  const out = new Map();
  if (!netnsExists(state.switch.netns)) return out;
  const r = await run(['ip', '-j', '-n', state.switch.netns, 'link', 'show'], { timeoutMs: 5_000 }).catch(() => undefined);
  if (!r || r.code !== 0) return out;
  for (const l of JSON.parse(r.stdout || '[]')) out.set(l.ifname, (l.flags ?? []).includes('UP') ? 'up' : 'down');
  return out;
}

export async function printStatus(state, { json }) {
  const s = await collectStatus(state);
  if (json) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return s;
  }
  const o = s.options;
  const lines = [
    `lab ${s.name} (${s.dir}): ${o.hosts} host(s), ${o.etcd ? `etcd ${o.etcd} member(s)` : 'no etcd'}, store ${o.store}, ` +
      `docker ${o.docker ? 'yes' : 'no'}, underlay ${s.underlay.cidr} mtu ${o.mtu} on ${s.switch.netns}`,
  ];
  const rows = [['NODE', 'ADDRESS', 'NETNS', 'LINK', 'DAEMON', 'PID', 'STATE', 'DETAIL']];
  for (const n of s.nodes) {
    n.daemons.forEach((d, i) => {
      rows.push([i === 0 ? n.name : '', i === 0 ? n.addr : '', i === 0 ? (n.netnsExists ? n.netns : `${n.netns} (gone)`) : '', i === 0 ? n.link : '', d.name, d.pid ?? '-', d.state, d.detail ?? '']);
    });
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  for (const r of rows) lines.push(r.map((cell, c) => String(cell).padEnd(widths[c])).join('  ').trimEnd());
  const lab = `scripts/lab${s.name !== DEFAULT_NAME ? ` --name ${s.name}` : ''}${s.dir !== defaultDir(s.name) ? ` --dir ${s.dir}` : ''}`;
  lines.push(`try: ${lab} exec h1 -- weft network ls${o.docker ? `   |   ${lab} exec h1 -- docker ps` : ''}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return s;
}
