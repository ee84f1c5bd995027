// The pure parts of conntrack clean-up and of the DOCKER-USER rule, on recorded tool output.
// (Both run for real in test/integration/firewall.test.ts.)

import { describe, expect, it } from 'vitest';
import { conntrackDeleteArgv, flowMatches, parseConntrackList, parseDeletedCount } from '../../../../src/sys/conntrack.js';
import { dockerUserRuleArgs, isWeftRule, parseChainListing, weftRulePositions } from '../../../../src/sys/nftables/docker-user.js';

describe('conntrack', () => {
  it('builds the argv of a delete', () => {
    expect(conntrackDeleteArgv({ family: 4, proto: 'tcp', origPortDst: 8080, origDst: '192.0.2.1', replySrc: '10.0.0.2', replyPortSrc: 80 })).toEqual([
      'conntrack', '-D', '-f', 'ipv4', '-p', 'tcp', '--orig-port-dst', '8080', '--orig-dst', '192.0.2.1', '--reply-src', '10.0.0.2', '--reply-port-src', '80',
    ]);
    expect(conntrackDeleteArgv({ family: 6, proto: 'udp', origPortDst: 53 })).toEqual(['conntrack', '-D', '-f', 'ipv6', '-p', 'udp', '--orig-port-dst', '53']);
  });

  it('reads how many entries were deleted, 0 included', () => {
    expect(parseDeletedCount('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n')).toBe(0);
    expect(parseDeletedCount('conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.')).toBe(3);
    expect(parseDeletedCount('conntrack v1.4.7 (conntrack-tools): mismatched address family')).toBeUndefined();
  });

  // Recorded from `conntrack -L` in the integration test's host namespace.
  const LIST = [
    'tcp      6 117 TIME_WAIT src=172.31.250.2 dst=172.31.250.1 sport=46446 dport=8080 src=10.77.1.2 dst=172.31.250.2 sport=80 dport=46446 [ASSURED] mark=0 use=1',
    'tcp      6 117 SYN_SENT src=fd77:f::2 dst=fd77:f::1 sport=60966 dport=8080 [UNREPLIED] src=fd77:1::2 dst=fd77:f::2 sport=80 dport=60966 mark=0 use=3',
    'unknown  2 599 src=10.77.4.1 dst=224.0.0.22 [UNREPLIED] src=224.0.0.22 dst=10.77.4.1 mark=0 use=1',
    'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.',
  ].join('\n');

  it('parses listed flows into original and reply tuples', () => {
    const flows = parseConntrackList(LIST);
    expect(flows).toHaveLength(3);
    expect(flows[0]).toEqual({
      proto: 'tcp',
      orig: { src: '172.31.250.2', dst: '172.31.250.1', sport: 46446, dport: 8080 },
      reply: { src: '10.77.1.2', dst: '172.31.250.2', sport: 80, dport: 46446 },
    });
    expect(flows[2]!.orig).toEqual({ src: '10.77.4.1', dst: '224.0.0.22' });
  });

  it('matches flows as conntrack -D would', () => {
    const [v4, v6] = parseConntrackList(LIST);
    expect(flowMatches(v4!, { family: 4, proto: 'tcp', origPortDst: 8080 })).toBe(true);
    expect(flowMatches(v4!, { family: 4, proto: 'tcp', origPortDst: 8080, replySrc: '10.77.1.2', replyPortSrc: 80 })).toBe(true);
    expect(flowMatches(v4!, { family: 4, proto: 'tcp', origPortDst: 8080, replySrc: '10.77.1.3' })).toBe(false);
    expect(flowMatches(v4!, { family: 4, proto: 'udp', origPortDst: 8080 })).toBe(false);
    expect(flowMatches(v4!, { family: 6, proto: 'tcp', origPortDst: 8080 })).toBe(false);
    expect(flowMatches(v6!, { family: 6, proto: 'tcp', origPortDst: 8080, origDst: 'fd77:f:0::1', replySrc: 'FD77:1::2' })).toBe(true);
  });
});

describe("weft's DOCKER-USER rule", () => {
  // Recorded from `iptables -S DOCKER-USER` (iptables-nft 1.8.9).
  const LISTING = [
    '-N DOCKER-USER',
    '-A DOCKER-USER -s 10.9.0.0/16 -j DROP',
    '-A DOCKER-USER -m mark --mark 0x100000/0x100000 -m comment --comment weft -j ACCEPT',
    '-A DOCKER-USER -m comment --comment "weft-like but not weft" -j ACCEPT',
    '-A DOCKER-USER -m mark --mark 0x40/0x40 -m comment --comment weft -j ACCEPT',
    '-A DOCKER-USER -j RETURN',
    '',
  ].join('\n');

  it('reads the rules and finds weft\'s by their comment, whatever the mark', () => {
    const l = parseChainListing(LISTING);
    expect(l.rules).toHaveLength(5);
    expect(l.rules.at(-1)).toBe('-j RETURN');
    expect(weftRulePositions(l)).toEqual([2, 4]);
    expect(isWeftRule('-m comment --comment "weft" -j ACCEPT')).toBe(true);
    expect(isWeftRule('-m comment --comment weftish -j ACCEPT')).toBe(false);
  });

  it('writes the rule with the mark as a bit and its mask', () => {
    expect(dockerUserRuleArgs(0x100000)).toEqual(['-m', 'mark', '--mark', '0x100000/0x100000', '-m', 'comment', '--comment', 'weft', '-j', 'ACCEPT']);
  });
});
