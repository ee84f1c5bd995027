// Link reads and deletes through iproute2 (`ip -j`), in the namespace weftd runs in. The parser
// is pure and separate, so it is tested on recorded output.

import type { CommandRunner } from './exec.js';

export interface LinkInfo {
  name: string;
  index: number;
  alias?: string;
  kind?: string;
}

/** The mark weft puts on every link it creates: ifalias `weft:<owner id>`. */
export const WEFT_ALIAS_PREFIX = 'weft:';

export function parseIpLinkJson(stdout: string): LinkInfo[] {
  const rows = JSON.parse(stdout || '[]') as Array<{ ifname: string; ifindex: number; ifalias?: string; linkinfo?: { info_kind?: string } }>;
  return rows.map((r) => ({
    name: r.ifname,
    index: r.ifindex,
    ...(r.ifalias ? { alias: r.ifalias } : {}),
    ...(r.linkinfo?.info_kind ? { kind: r.linkinfo.info_kind } : {}),
  }));
}

/** Owner id from a weft mark, or undefined for links weft did not mark. */
export function ownerOfAlias(alias: string | undefined): string | undefined {
  return alias?.startsWith(WEFT_ALIAS_PREFIX) ? alias.slice(WEFT_ALIAS_PREFIX.length) : undefined;
}

export class IpLinks {
  constructor(private readonly runner: CommandRunner) {}

  async list(): Promise<LinkInfo[]> {
    const r = await this.runner.run(['ip', '-j', '-d', 'link', 'show']);
    return parseIpLinkJson(r.stdout);
  }

  /** Deletes a link; a link that is already gone counts as deleted. */
  async delete(name: string): Promise<void> {
    const r = await this.runner.run(['ip', 'link', 'del', 'dev', name], { check: false });
    if (r.code !== 0 && !/Cannot find device|does not exist/.test(r.stderr)) {
      await this.runner.run(['ip', 'link', 'del', 'dev', name]);
    }
  }
}
