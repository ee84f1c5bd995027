// weft's one rule in Docker's DOCKER-USER chain. A drop in any base chain is final, so an accept in
// weft's nft table cannot override the DROP policy Docker puts on iptables' FORWARD chain. weft
// marks what it accepts (schema.ts) and keeps exactly one rule, `-m mark --mark M/M -m comment
// --comment weft -j ACCEPT`, in DOCKER-USER, which Docker jumps to first from FORWARD. Only where
// the chain exists: weft never creates Docker's chains. `iptables` is whatever the system's
// alternative points to (iptables-nft on Debian 12), the same binary Docker uses.

import type { CommandRunner } from '../exec.js';
import { commandError } from '../exec.js';

export const DOCKER_USER_CHAIN = 'DOCKER-USER';
export const WEFT_COMMENT = 'weft';
const TOOLS = ['iptables', 'ip6tables'] as const;
type Tool = (typeof TOOLS)[number];

export function dockerUserRuleArgs(mark: number): string[] {
  const m = `0x${mark.toString(16)}`;
  return ['-m', 'mark', '--mark', `${m}/${m}`, '-m', 'comment', '--comment', WEFT_COMMENT, '-j', 'ACCEPT'];
}

export interface DockerUserListing {
  /** The chain's rules as `iptables -S` prints them, without the `-A DOCKER-USER ` prefix. */
  rules: string[];
}

/** Parses `iptables -S DOCKER-USER`. Pure. */
export function parseChainListing(stdout: string): DockerUserListing {
  const prefix = `-A ${DOCKER_USER_CHAIN} `;
  const rules = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(prefix) || l === `-A ${DOCKER_USER_CHAIN}`)
    .map((l) => l.slice(prefix.length).trim());
  return { rules };
}

/** True for a rule weft wrote (any mark: an older mark is still weft's). */
export function isWeftRule(rule: string): boolean {
  return /(^|\s)--comment "?weft"?(\s|$)/.test(rule);
}

/** 1-based positions of weft's rules. */
export function weftRulePositions(l: DockerUserListing): number[] {
  return l.rules.flatMap((r, i) => (isWeftRule(r) ? [i + 1] : []));
}

export class DockerUserRule {
  constructor(
    private readonly runner: CommandRunner,
    private readonly mark: number,
  ) {}

  /** The chain's listing, or undefined when the tool or the chain is missing (no Docker iptables here). */
  private async list(tool: Tool): Promise<DockerUserListing | undefined> {
    try {
      const r = await this.runner.run([tool, '-w', '5', '-S', DOCKER_USER_CHAIN], { check: false });
      return r.code === 0 ? parseChainListing(r.stdout) : undefined;
    } catch {
      return undefined; // the tool is not installed: no iptables, so no Docker chains to cooperate with
    }
  }

  private async exists(tool: Tool): Promise<boolean> {
    const r = await this.runner.run([tool, '-w', '5', '-C', DOCKER_USER_CHAIN, ...dockerUserRuleArgs(this.mark)], { check: false });
    return r.code === 0;
  }

  private async checked(argv: string[]): Promise<void> {
    const r = await this.runner.run(argv, { check: false });
    if (r.code !== 0) throw commandError(argv, r, `exit code ${r.code}`);
  }

  /** Deletes weft's rules by position, highest first so that the positions stay valid. */
  private async deleteWeftRules(tool: Tool, l: DockerUserListing): Promise<void> {
    for (const pos of weftRulePositions(l).reverse()) {
      await this.checked([tool, '-w', '5', '-D', DOCKER_USER_CHAIN, String(pos)]);
    }
  }

  /** Makes each DOCKER-USER chain that exists hold exactly one weft rule with the current mark. Idempotent. */
  async ensure(): Promise<void> {
    for (const tool of TOOLS) {
      const l = await this.list(tool);
      if (!l) continue;
      if (weftRulePositions(l).length === 1 && (await this.exists(tool))) continue;
      await this.deleteWeftRules(tool, l);
      // Before a final bare RETURN (older Docker adds one), else at the end: the operator's own
      // DOCKER-USER rules keep running first.
      const after = (await this.list(tool)) ?? { rules: [] };
      const last = after.rules.length;
      const argv =
        last > 0 && after.rules[last - 1] === '-j RETURN'
          ? [tool, '-w', '5', '-I', DOCKER_USER_CHAIN, String(last), ...dockerUserRuleArgs(this.mark)]
          : [tool, '-w', '5', '-A', DOCKER_USER_CHAIN, ...dockerUserRuleArgs(this.mark)];
      await this.checked(argv);
    }
  }

  /** True when some DOCKER-USER chain exists without exactly one current weft rule. */
  async drifted(): Promise<boolean> {
    for (const tool of TOOLS) {
      const l = await this.list(tool);
      if (!l) continue;
      if (weftRulePositions(l).length !== 1 || !(await this.exists(tool))) return true;
    }
    return false;
  }

  /** Removes every weft rule from the DOCKER-USER chains that exist. */
  async remove(): Promise<void> {
    for (const tool of TOOLS) {
      const l = await this.list(tool);
      if (l) await this.deleteWeftRules(tool, l);
    }
  }
}
