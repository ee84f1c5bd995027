// iproute2 batch text, argv builders and `ip -j` parsers, on recorded output (fixtures/ were
// recorded with iproute2 6.1 on kernel 6.x: a marked bridge, a veth pair on it with hairpin, and a
// veth whose peer was moved into another namespace).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ipCommand, parseBatchFailures, renderBatch } from '../../../src/sys/iproute2/batch.js';
import { addressDeleteArgs, addressReplaceArgs, bridgeCreateLines, bridgeUpdateLine, vethCreateLines, vethUpdateLines } from '../../../src/sys/iproute2/link-commands.js';
import { parseAddresses, parseLinks } from '../../../src/sys/iproute2/parse.js';
import type { LinkInfo } from '../../../src/sys/link-ops.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('ip -j parsers', () => {
  it('reads links: kind, master, alias, MAC, state, and the veth peer only when it is here', () => {
    const links = parseLinks(fixture('ip-link-show.json'));
    expect(links.map((l) => l.name)).toEqual(['lo', 'wf-abc', 'wfcep1', 'wfhep1', 'wfhep2']);
    expect(links[0]).toEqual({ name: 'lo', index: 1, mtu: 65536, mac: '00:00:00:00:00:00', operstate: 'UNKNOWN', up: true });
    expect(links[1]).toMatchObject({ name: 'wf-abc', kind: 'bridge', mtu: 1400, mac: '02:00:00:aa:bb:01', alias: 'weft:net1', up: true });
    expect(links[2]).toMatchObject({ name: 'wfcep1', kind: 'veth', peer: 'wfhep1', up: false, operstate: 'DOWN', mac: '02:42:0a:00:00:02', mtu: 1400 });
    expect(links[2]!.master).toBeUndefined();
    expect(links[3]).toMatchObject({ name: 'wfhep1', kind: 'veth', peer: 'wfcep1', master: 'wf-abc', alias: 'weft:ep1', up: true });
    // The peer of wfhep2 lives in another namespace: no name to give.
    expect(links[4]).toMatchObject({ name: 'wfhep2', kind: 'veth', master: 'wf-abc' });
    expect(links[4]!.peer).toBeUndefined();
  });

  it('reads one link and empty output', () => {
    expect(parseLinks(fixture('ip-link-show-dev.json'))).toHaveLength(1);
    expect(parseLinks('')).toEqual([]);
  });

  it('reads interface addresses with their nodad flag', () => {
    const addrs = parseAddresses(fixture('ip-addr-show.json')).filter((a) => a.link === 'wf-abc');
    expect(addrs).toEqual([
      { link: 'wf-abc', family: 4, cidr: '10.77.0.1/24', nodad: false },
      { link: 'wf-abc', family: 6, cidr: 'fd77::1/64', nodad: true },
    ]);
  });
});

describe('batch text', () => {
  it('joins words and ends with a newline', () => {
    expect(renderBatch([['link', 'set', 'dev', 'x', 'up'], ['addr', 'add', '10.0.0.1/24', 'dev', 'x']])).toBe('link set dev x up\naddr add 10.0.0.1/24 dev x\n');
  });

  it.each(['a b', 'a\nb', 'x#y', 'q"', "q'", 'back\\slash', ''])('refuses the word %j', (w) => {
    expect(() => renderBatch([['link', 'set', 'dev', w]])).toThrow(/refusing/);
  });

  it('finds failed lines and their messages in stderr', () => {
    const stderr = 'RTNETLINK answers: File exists\nCommand failed -:5\nError: ipv4: Address not found.\nCommand failed -:7\n';
    expect(parseBatchFailures(stderr)).toEqual([
      { line: 5, message: 'RTNETLINK answers: File exists' },
      { line: 7, message: 'Error: ipv4: Address not found.' },
    ]);
    expect(parseBatchFailures('Error: argument "nope" is wrong: Device does not exist\n')).toEqual([]);
  });

  it('targets a namespace with -n', () => {
    expect(ipCommand()).toEqual(['ip']);
    expect(ipCommand('wt-a')).toEqual(['ip', '-n', 'wt-a']);
  });
});

const link = (over: Partial<LinkInfo>): LinkInfo => ({ name: 'x', index: 5, mtu: 1500, operstate: 'UP', up: true, ...over });

describe('link commands', () => {
  it('creates a bridge in two lines: the kernel ignores an alias given at creation', () => {
    expect(bridgeCreateLines('wf-abc', { mtu: 1400, mac: '02:00:00:aa:bb:01', alias: 'weft:n1' })).toEqual([
      ['link', 'add', 'name', 'wf-abc', 'mtu', '1400', 'address', '02:00:00:aa:bb:01', 'type', 'bridge'],
      ['link', 'set', 'dev', 'wf-abc', 'alias', 'weft:n1', 'up'],
    ]);
    expect(bridgeCreateLines('br0', {})).toEqual([
      ['link', 'add', 'name', 'br0', 'type', 'bridge'],
      ['link', 'set', 'dev', 'br0', 'up'],
    ]);
  });

  it('updates only what differs on an existing bridge, and nothing when nothing does', () => {
    const cur = link({ name: 'br0', mtu: 1500, mac: '02:00:00:aa:bb:01', alias: 'weft:n1' });
    expect(bridgeUpdateLine('br0', { mtu: 1500, mac: '02:00:00:AA:BB:01', alias: 'weft:n1' }, cur)).toBeUndefined();
    expect(bridgeUpdateLine('br0', { mtu: 1400 }, cur)).toEqual(['link', 'set', 'dev', 'br0', 'mtu', '1400']);
    expect(bridgeUpdateLine('br0', {}, { ...cur, up: false })).toEqual(['link', 'set', 'dev', 'br0', 'up']);
  });

  it('creates a veth pair on its bridge, peer with MAC and MTU, host end marked, up, hairpin', () => {
    expect(vethCreateLines('wfh1', 'wfc1', { mtu: 1400, master: 'wf-abc', peerMac: '02:42:0a:00:00:02', alias: 'weft:ep1', hairpin: true })).toEqual([
      ['link', 'add', 'name', 'wfh1', 'mtu', '1400', 'master', 'wf-abc', 'type', 'veth', 'peer', 'name', 'wfc1', 'mtu', '1400', 'address', '02:42:0a:00:00:02'],
      ['link', 'set', 'dev', 'wfh1', 'alias', 'weft:ep1', 'up', 'type', 'bridge_slave', 'hairpin', 'on'],
    ]);
    expect(vethCreateLines('wfh1', 'wfc1', {})).toEqual([
      ['link', 'add', 'name', 'wfh1', 'type', 'veth', 'peer', 'name', 'wfc1'],
      ['link', 'set', 'dev', 'wfh1', 'up'],
    ]);
  });

  it('repairs an existing pair, and leaves a peer that moved away alone', () => {
    const host = link({ name: 'wfh1', mtu: 1400, master: 'wf-abc', alias: 'weft:ep1', up: false });
    const peer = link({ name: 'wfc1', mtu: 1500, mac: '02:42:0a:00:00:02', up: false });
    const opts = { mtu: 1400, master: 'wf-abc', peerMac: '02:42:0a:00:00:02', alias: 'weft:ep1' };
    expect(vethUpdateLines('wfh1', opts, host, peer)).toEqual([
      ['link', 'set', 'dev', 'wfh1', 'up'],
      ['link', 'set', 'dev', 'wfc1', 'mtu', '1400'],
    ]);
    expect(vethUpdateLines('wfh1', opts, { ...host, up: true }, undefined)).toEqual([]);
    expect(vethUpdateLines('wfh1', { ...opts, hairpin: false }, { ...host, up: true, master: 'other' }, undefined)).toEqual([
      ['link', 'set', 'dev', 'wfh1', 'master', 'wf-abc', 'type', 'bridge_slave', 'hairpin', 'off'],
    ]);
  });

  it('replaces addresses (idempotent) with nodad for IPv6 only', () => {
    expect(addressReplaceArgs('br0', '10.0.0.1/24', 4, true)).toEqual(['addr', 'replace', '10.0.0.1/24', 'dev', 'br0']);
    expect(addressReplaceArgs('br0', 'fd00::1/64', 6, true)).toEqual(['addr', 'replace', 'fd00::1/64', 'dev', 'br0', 'nodad']);
    expect(addressDeleteArgs('br0', 'fd00::1/64')).toEqual(['addr', 'del', 'fd00::1/64', 'dev', 'br0']);
  });
});
