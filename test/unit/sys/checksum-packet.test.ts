// The checksum arithmetic of the transmit-checksum self-test on hand-made VXLAN datagrams: a
// frame with right checksums passes, one with a single flipped bit in the header or payload, an
// unfinished checksum or a UDP zero checksum fails; frames that cannot be checked are skipped.

import { describe, expect, it } from 'vitest';
import { checkVxlanPayload, internetChecksum } from '../../../src/sys/checksum-packet.js';
import { judgeCapture } from '../../../src/sys/checksum-selftest.js';

function ipv4Bytes(s: string): number[] {
  return s.split('.').map(Number);
}

/** VXLAN header + Ethernet + IPv4 + UDP/TCP with correct checksums (then callers break them). */
function frame(proto: 'udp' | 'tcp', payload: number[], opts: { dst?: string; dstPort?: number } = {}): Buffer {
  const src = ipv4Bytes('10.254.254.1');
  const dst = ipv4Bytes(opts.dst ?? '10.254.254.2');
  const dport = opts.dstPort ?? 9;
  const l4 =
    proto === 'udp'
      ? [0x9c, 0x40, dport >> 8, dport & 0xff, 0, 0, 0, 0, ...payload]
      : [0x9c, 0x40, dport >> 8, dport & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0, ...payload];
  if (proto === 'udp') {
    l4[4] = l4.length >> 8;
    l4[5] = l4.length & 0xff;
  }
  const protoNum = proto === 'udp' ? 17 : 6;
  const pseudo = Buffer.from([...src, ...dst, 0, protoNum, l4.length >> 8, l4.length & 0xff]);
  const l4buf = Buffer.from(l4);
  let pseudoSum = 0;
  for (let i = 0; i < pseudo.length; i += 2) pseudoSum += (pseudo[i]! << 8) | pseudo[i + 1]!;
  const cs = internetChecksum(l4buf, 0, l4buf.length, pseudoSum);
  const at = proto === 'udp' ? 6 : 16;
  l4buf[at] = cs >> 8;
  l4buf[at + 1] = cs & 0xff;
  const total = 20 + l4buf.length;
  const ip = Buffer.from([0x45, 0, total >> 8, total & 0xff, 0, 1, 0x40, 0, 64, protoNum, 0, 0, ...src, ...dst]);
  const ics = internetChecksum(ip);
  ip[10] = ics >> 8;
  ip[11] = ics & 0xff;
  const vxlan = Buffer.from([0x08, 0, 0, 0, 0, 0x10, 0x92, 0]);
  const eth = Buffer.from([0x02, 0, 0x0a, 0xfe, 0xfe, 0x02, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
  return Buffer.concat([vxlan, eth, ip, l4buf]);
}

const payload = Array.from({ length: 101 }, (_, i) => (i * 131 + 7) & 0xff); // odd length on purpose

describe('checkVxlanPayload', () => {
  it('accepts right checksums (UDP and TCP, odd payload length)', () => {
    expect(checkVxlanPayload(frame('udp', payload))).toMatchObject({ protocol: 'udp', src: '10.254.254.1', dst: '10.254.254.2', dstPort: 9, ipHeaderOk: true, l4Ok: true, payloadBytes: 101 });
    expect(checkVxlanPayload(frame('tcp', []))).toMatchObject({ protocol: 'tcp', ipHeaderOk: true, l4Ok: true, payloadBytes: 0 });
    expect(checkVxlanPayload(frame('tcp', payload))).toMatchObject({ protocol: 'tcp', l4Ok: true, payloadBytes: 101 });
  });

  it('finds a flipped payload bit, a wrong IPv4 header checksum, an unfinished or zero UDP checksum', () => {
    const flipped = frame('udp', payload);
    flipped[flipped.length - 5]! ^= 0x10;
    expect(checkVxlanPayload(flipped)).toMatchObject({ ipHeaderOk: true, l4Ok: false });

    const badIp = frame('tcp', []);
    badIp[8 + 14 + 10]! ^= 0x01;
    expect(checkVxlanPayload(badIp)).toMatchObject({ ipHeaderOk: false, l4Ok: true });

    // What an offload that never ran leaves: the pseudo-header sum only, not the final value.
    const unfinished = frame('tcp', []);
    unfinished[8 + 14 + 20 + 16] = 0x12;
    unfinished[8 + 14 + 20 + 17] = 0x34;
    expect(checkVxlanPayload(unfinished)?.l4Ok).toBe(false);

    const zero = frame('udp', payload);
    zero[8 + 14 + 20 + 6] = 0;
    zero[8 + 14 + 20 + 7] = 0;
    expect(checkVxlanPayload(zero)).toMatchObject({ l4Checksum: 0, l4Ok: false });
  });

  it('skips what it cannot check: no VNI flag, not IPv4, a fragment, truncated', () => {
    const noI = frame('udp', payload);
    noI[0] = 0;
    expect(checkVxlanPayload(noI)).toBeUndefined();
    const arp = frame('udp', payload);
    arp[8 + 12] = 0x08;
    arp[8 + 13] = 0x06;
    expect(checkVxlanPayload(arp)).toBeUndefined();
    const frag = frame('udp', payload);
    frag[8 + 14 + 6] = 0x20; // more fragments
    expect(checkVxlanPayload(frag)).toBeUndefined();
    expect(checkVxlanPayload(frame('udp', payload).subarray(0, 60))).toBeUndefined();
    expect(checkVxlanPayload(Buffer.alloc(10))).toBeUndefined();
  });
});

describe('judgeCapture', () => {
  const hex = (b: Buffer) => b.toString('hex');
  it('ok when every UDP and TCP packet to the test port is right', () => {
    const out = ['ready', hex(frame('udp', payload)), hex(frame('tcp', [])), hex(frame('udp', payload, { dstPort: 53 }))].join('\n');
    expect(judgeCapture(out)).toEqual({ verdict: 'ok', udp: { seen: 1, bad: 0 }, tcp: { seen: 1, bad: 0 } });
  });
  it('corrupted when one is wrong; error when a protocol never arrived', () => {
    const bad = frame('tcp', []);
    bad[bad.length - 1]! ^= 1;
    const r = judgeCapture([hex(frame('udp', payload)), hex(frame('tcp', [])), hex(bad)].join('\n'));
    expect(r).toMatchObject({ verdict: 'corrupted', udp: { seen: 1, bad: 0 }, tcp: { seen: 2, bad: 1 } });
    expect(r.reason).toMatch(/1 of 2 TCP/);
    expect(judgeCapture(hex(frame('udp', payload)))).toMatchObject({ verdict: 'error', tcp: { seen: 0 } });
    expect(judgeCapture('')).toMatchObject({ verdict: 'error' });
  });
});
