// Pure checks of what a VXLAN device put on the wire (the transmit-checksum self-test,
// src/sys/checksum-selftest.ts): a VXLAN datagram's payload is parsed down to the inner IPv4
// packet, and the inner IPv4 header, UDP and TCP checksums are recomputed from the bytes.
// No I/O here, so the arithmetic is unit-tested on hand-made frames.

/** One's-complement sum of 16-bit big-endian words (RFC 1071), not yet folded or inverted. */
function sum16(buf: Uint8Array, start: number, end: number, acc = 0): number {
  let s = acc;
  let i = start;
  for (; i + 1 < end; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) s += buf[i]! << 8;
  return s;
}

function fold(s: number): number {
  let x = s;
  while (x > 0xffff) x = (x & 0xffff) + (x >>> 16);
  return x;
}

/** The RFC 1071 checksum of a byte range (what goes into a header field that was zero). */
export function internetChecksum(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  return ~fold(sum16(buf, start, end, initial)) & 0xffff;
}

export type InnerProtocol = 'udp' | 'tcp' | 'other';

export interface InnerPacketCheck {
  protocol: InnerProtocol;
  /** Inner IPv4 source and destination (dotted). */
  src: string;
  dst: string;
  /** Destination port of the inner UDP/TCP packet (0 for other protocols). */
  dstPort: number;
  ipHeaderOk: boolean;
  /** The UDP/TCP checksum as sent, and whether it is right. UDP 0 (no checksum) counts as wrong:
   *  Linux always fills it in, so a zero here is a checksum that was never computed. */
  l4Checksum: number;
  l4Ok: boolean;
  /** Bytes of UDP/TCP payload (after the transport header). */
  payloadBytes: number;
}

export const VXLAN_HEADER_BYTES = 8;
const ETH_HEADER_BYTES = 14;
const ETHERTYPE_IPV4 = 0x0800;

const ipv4 = (b: Uint8Array, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

/**
 * Parses the payload of one VXLAN datagram (VXLAN header, inner Ethernet, inner IPv4, UDP or TCP)
 * and recomputes the inner checksums. Undefined when it is not an IPv4 frame we can check (an ARP,
 * an IPv6 frame, a fragment, or a truncated datagram).
 */
export function checkVxlanPayload(buf: Uint8Array): InnerPacketCheck | undefined {
  if (buf.length < VXLAN_HEADER_BYTES + ETH_HEADER_BYTES + 20) return undefined;
  // VXLAN flags: the I bit (0x08) says the VNI is valid (RFC 7348).
  if ((buf[0]! & 0x08) === 0) return undefined;
  const eth = VXLAN_HEADER_BYTES;
  if (((buf[eth + 12]! << 8) | buf[eth + 13]!) !== ETHERTYPE_IPV4) return undefined;
  const ip = eth + ETH_HEADER_BYTES;
  if (buf[ip]! >> 4 !== 4) return undefined;
  const ihl = (buf[ip]! & 0x0f) * 4;
  const total = (buf[ip + 2]! << 8) | buf[ip + 3]!;
  if (ihl < 20 || total < ihl || ip + total > buf.length) return undefined;
  // A fragment carries only part of the transport payload: its checksum cannot be checked alone.
  const frag = ((buf[ip + 6]! << 8) | buf[ip + 7]!) & 0x3fff;
  if (frag !== 0) return undefined;
  const ipHeaderOk = fold(sum16(buf, ip, ip + ihl)) === 0xffff;
  const proto = buf[ip + 9]!;
  const src = ipv4(buf, ip + 12);
  const dst = ipv4(buf, ip + 16);
  const l4 = ip + ihl;
  const l4Len = total - ihl;
  const protocol: InnerProtocol = proto === 17 ? 'udp' : proto === 6 ? 'tcp' : 'other';
  if (protocol === 'other') return { protocol, src, dst, dstPort: 0, ipHeaderOk, l4Checksum: 0, l4Ok: false, payloadBytes: 0 };
  const minHeader = protocol === 'udp' ? 8 : 20;
  if (l4Len < minHeader) return undefined;
  const dstPort = (buf[l4 + 2]! << 8) | buf[l4 + 3]!;
  const csumAt = protocol === 'udp' ? l4 + 6 : l4 + 16;
  const l4Checksum = (buf[csumAt]! << 8) | buf[csumAt + 1]!;
  // Pseudo-header: source, destination, zero + protocol, transport length.
  const pseudo = sum16(buf, ip + 12, ip + 20) + proto + l4Len;
  const l4Ok = (protocol === 'tcp' || l4Checksum !== 0) && fold(sum16(buf, l4, l4 + l4Len, pseudo)) === 0xffff;
  const headerLen = protocol === 'udp' ? 8 : (buf[l4 + 12]! >> 4) * 4;
  return { protocol, src, dst, dstPort, ipHeaderOk, l4Checksum, l4Ok, payloadBytes: Math.max(0, l4Len - headerLen) };
}
