// weft's nftables layout: the sets and maps (the only part that grows with networks and ports)
// and the fixed chains and rules that look them up. docs/firewall.md walks through every rule.
//
// Every rule carries a comment `weft:<id>`: it names the rule in `nft list ruleset` output, and
// drift detection compares the ordered ids per chain with the ones below.

export type NftFamily = 'inet' | 'bridge';
export type FieldType = 'ifname' | 'ipv4_addr' | 'ipv6_addr' | 'inet_proto' | 'inet_service';

export type SetName =
  | 'bridges'
  | 'icc_bridges'
  | 'internal_bridges'
  | 'bridge_nets_v4'
  | 'bridge_nets_v6'
  | 'masq_v4'
  | 'masq_v6'
  | 'dnat_v4'
  | 'dnat_any_v4'
  | 'dnat_v6'
  | 'dnat_any_v6'
  | 'noicc_v4'
  | 'noicc_v6';

export interface SetDef {
  family: NftFamily;
  name: SetName;
  key: FieldType[];
  /** Present for maps. */
  data?: FieldType[];
  interval: boolean;
  /** What the set holds, rendered as a comment above it. */
  doc: string;
}

export const SETS: readonly SetDef[] = [
  { family: 'inet', name: 'bridges', key: ['ifname'], interval: false, doc: 'every weft bridge' },
  { family: 'inet', name: 'icc_bridges', key: ['ifname', 'ifname'], interval: false, doc: 'bridge . bridge for networks with inter-container traffic on' },
  { family: 'inet', name: 'internal_bridges', key: ['ifname'], interval: false, doc: 'bridges of --internal networks' },
  { family: 'inet', name: 'bridge_nets_v4', key: ['ifname', 'ipv4_addr'], interval: true, doc: 'bridge . subnet (hairpin masquerade)' },
  { family: 'inet', name: 'bridge_nets_v6', key: ['ifname', 'ipv6_addr'], interval: true, doc: 'bridge . subnet (hairpin masquerade)' },
  { family: 'inet', name: 'masq_v4', key: ['ipv4_addr'], interval: true, doc: 'subnets masqueraded when leaving through a non-weft interface' },
  { family: 'inet', name: 'masq_v6', key: ['ipv6_addr'], interval: true, doc: 'subnets masqueraded when leaving through a non-weft interface (NAT66)' },
  { family: 'inet', name: 'dnat_v4', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: ['ipv4_addr', 'inet_service'], interval: false, doc: 'published ports on one host address' },
  { family: 'inet', name: 'dnat_any_v4', key: ['inet_proto', 'inet_service'], data: ['ipv4_addr', 'inet_service'], interval: false, doc: 'published ports on every local address' },
  { family: 'inet', name: 'dnat_v6', key: ['ipv6_addr', 'inet_proto', 'inet_service'], data: ['ipv6_addr', 'inet_service'], interval: false, doc: 'published ports on one host address' },
  { family: 'inet', name: 'dnat_any_v6', key: ['inet_proto', 'inet_service'], data: ['ipv6_addr', 'inet_service'], interval: false, doc: 'published ports on every local address' },
  { family: 'bridge', name: 'noicc_v4', key: ['ipv4_addr'], interval: true, doc: 'subnets of networks with inter-container traffic off' },
  { family: 'bridge', name: 'noicc_v6', key: ['ipv6_addr'], interval: true, doc: 'subnets of networks with inter-container traffic off' },
];

export const setDef = (name: SetName): SetDef => SETS.find((s) => s.name === name)!;

/** The operator's chain: created empty when missing, never flushed, changed or deleted by sync. */
export const USER_CHAIN = 'weft-user';

/** Packet mark bit weft sets on traffic it accepts, for its one rule in Docker's DOCKER-USER chain. */
export const DEFAULT_MARK = 0x00100000;

export interface BaseSpec {
  type: 'filter' | 'nat';
  hook: 'prerouting' | 'forward' | 'output' | 'postrouting';
  priority: number;
  policy: 'accept';
}

export interface RuleDef {
  id: string;
  text: string;
}

export interface ChainDef {
  family: NftFamily;
  name: string;
  base?: BaseSpec;
  rules: RuleDef[];
  doc: string;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** The chains in the order they are created (regular chains before the base chains that jump to them). */
export function chains(mark: number): ChainDef[] {
  // Setting the mark on everything weft accepts lets one rule in DOCKER-USER let it through
  // iptables' FORWARD chain, whose DROP policy an nft accept cannot override.
  const accept = `meta mark set meta mark | ${hex(mark)} accept`;
  return [
    {
      family: 'inet',
      name: 'published',
      doc: 'published ports (entered only for packets to a local address)',
      rules: [
        { id: 'dnat-v4', text: 'dnat ip to ip daddr . meta l4proto . th dport map @dnat_v4' },
        { id: 'dnat-any-v4', text: 'meta nfproto ipv4 dnat ip to meta l4proto . th dport map @dnat_any_v4' },
        { id: 'dnat-v6', text: 'dnat ip6 to ip6 daddr . meta l4proto . th dport map @dnat_v6' },
        { id: 'dnat-any-v6', text: 'meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @dnat_any_v6' },
      ],
    },
    {
      family: 'inet',
      name: 'forward',
      base: { type: 'filter', hook: 'forward', priority: -5, policy: 'accept' },
      doc: "isolation, icc, internal; before iptables' filter (priority 0)",
      rules: [
        { id: 'not-weft', text: 'iifname != @bridges oifname != @bridges return' },
        { id: 'user', text: `jump ${USER_CHAIN}` },
        { id: 'established', text: `ct state established,related ${accept}` },
        // Same bridge: only seen for routed hairpin and, with br_netfilter, for bridged frames.
        { id: 'icc', text: `iifname . oifname @icc_bridges ${accept}` },
        { id: 'internal-out', text: 'iifname @internal_bridges drop' },
        { id: 'internal-in', text: 'oifname @internal_bridges drop' },
        { id: 'published', text: `oifname @bridges ct status dnat ${accept}` },
        { id: 'isolate', text: 'iifname @bridges oifname @bridges drop' },
        { id: 'unpublished', text: 'oifname @bridges drop' },
        { id: 'egress', text: `iifname @bridges ${accept}` },
      ],
    },
    {
      family: 'inet',
      name: 'localnet-guard',
      base: { type: 'filter', hook: 'prerouting', priority: -150, policy: 'accept' },
      doc: 'route_localnet is on for weft bridges (for 127.0.0.1 ports): nothing from a bridge may reach 127/8',
      rules: [{ id: 'localnet', text: 'iifname @bridges ip daddr 127.0.0.0/8 drop' }],
    },
    {
      family: 'inet',
      name: 'bridged-hairpin',
      base: { type: 'filter', hook: 'prerouting', priority: -90, policy: 'accept' },
      // After DNAT (-100). The same bit as weft's accepts: these packets come from a weft bridge,
      // whose traffic weft's forward chain marks anyway unless it drops it (and a drop is final).
      doc: 'marks DNATed packets from weft bridges, for the bridge family (br_netfilter bridged DNAT)',
      rules: [{ id: 'mark-dnat', text: `iifname @bridges ct status dnat meta mark set meta mark | ${hex(mark)}` }],
    },
    {
      family: 'inet',
      name: 'prerouting',
      base: { type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' },
      doc: 'published ports, from other hosts, namespaces and containers',
      rules: [{ id: 'to-dnat', text: 'fib daddr type local jump published' }],
    },
    {
      family: 'inet',
      name: 'output',
      base: { type: 'nat', hook: 'output', priority: -100, policy: 'accept' },
      doc: 'published ports, from the host itself (127.0.0.1 included)',
      rules: [{ id: 'to-dnat', text: 'fib daddr type local jump published' }],
    },
    {
      family: 'inet',
      name: 'postrouting',
      base: { type: 'nat', hook: 'postrouting', priority: 100, policy: 'accept' },
      doc: 'masquerade: egress, hairpin, localhost',
      rules: [
        { id: 'localhost', text: 'ct status dnat oifname @bridges ip saddr 127.0.0.0/8 masquerade' },
        { id: 'hairpin-v4', text: 'ct status dnat oifname . ip saddr @bridge_nets_v4 masquerade' },
        { id: 'hairpin-v6', text: 'ct status dnat oifname . ip6 saddr @bridge_nets_v6 masquerade' },
        { id: 'masq-v4', text: 'oifname != @bridges ip saddr @masq_v4 masquerade' },
        { id: 'masq-v6', text: 'oifname != @bridges ip6 saddr @masq_v6 masquerade' },
      ],
    },
    {
      family: 'bridge',
      name: 'forward',
      base: { type: 'filter', hook: 'forward', priority: -5, policy: 'accept' },
      // The kernel here lacks nft_meta_bridge (no `meta ibrname`), so the bridge is told by the
      // destination subnet: a bridged frame to an address in a no-icc subnet is container to container.
      doc: 'icc off for bridged frames, with or without br_netfilter',
      rules: [
        // With br_netfilter, a published port DNATed to a neighbour on the same bridge is
        // forwarded as a bridged frame (br_nf "bridged DNAT"). The bridge family cannot read
        // conntrack here, so chain bridged-hairpin marks such packets; let them through.
        { id: 'published', text: `meta mark & ${hex(mark)} == ${hex(mark)} accept` },
        { id: 'noicc-v4', text: 'ether type ip ip daddr @noicc_v4 drop' },
        { id: 'noicc-v6', text: 'ether type ip6 ip6 daddr @noicc_v6 drop' },
      ],
    },
  ];
}

/** Every weft table name: 1-32 of letters, digits, '_' and '-', starting with a letter. */
export function isValidTableName(name: string): boolean {
  return typeof name === 'string' && /^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(name);
}

/** A set's definition as one comparable string (the same for a SetDef and for nft's JSON listing). */
export function signatureOf(key: readonly string[], data: readonly string[] | undefined, interval: boolean): string {
  return `${key.join(' . ')}${data ? ` : ${data.join(' . ')}` : ''}${interval ? ' interval' : ''}`;
}

export const setSignature = (s: SetDef): string => signatureOf(s.key, s.data, s.interval);
