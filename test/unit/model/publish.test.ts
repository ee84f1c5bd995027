import { describe, expect, it } from 'vitest';
import { parsePublishSpec } from '../../../src/model/publish.js';

describe('publish specs', () => {
  it.each([
    ['80', { proto: 'tcp', containerPort: 80, hostPort: 0, hostPortEnd: 0, hostIp: '' }],
    ['8080:80', { proto: 'tcp', containerPort: 80, hostPort: 8080, hostPortEnd: 8080, hostIp: '' }],
    ['127.0.0.1:8080:80/udp', { proto: 'udp', containerPort: 80, hostPort: 8080, hostPortEnd: 8080, hostIp: '127.0.0.1' }],
    ['127.0.0.1::80', { proto: 'tcp', containerPort: 80, hostPort: 0, hostPortEnd: 0, hostIp: '127.0.0.1' }],
    ['8000-8010:80', { proto: 'tcp', containerPort: 80, hostPort: 8000, hostPortEnd: 8010, hostIp: '' }],
    ['[fd00::1]:8080:80/sctp', { proto: 'sctp', containerPort: 80, hostPort: 8080, hostPortEnd: 8080, hostIp: 'fd00::1' }],
  ])('parses %s', (spec, want) => {
    expect(parsePublishSpec(spec)).toEqual([want]);
  });

  it('expands matching ranges port by port, like the docker CLI', () => {
    const got = parsePublishSpec('9000-9002:9100-9102/udp');
    expect(got).toEqual([9000, 9001, 9002].map((p, i) => ({ proto: 'udp', containerPort: 9100 + i, hostPort: p, hostPortEnd: p, hostIp: '' })));
  });

  it.each(['[::1]:8080:80', '[0:0:0:0:0:0:0:1]:8080:80/udp', '[::1]:9000-9001:80-81'])('refuses %s before anything is allocated: IPv6 loopback cannot be DNATed', (spec) => {
    expect(() => parsePublishSpec(spec)).toThrow(expect.objectContaining({ code: 'WEFT_ERR_NOT_SUPPORTED' }));
  });

  it('still takes other IPv6 host addresses, [1::] included', () => {
    expect(parsePublishSpec('[1::]:8080:80')[0]!.hostIp).toBe('1::');
  });

  it.each(['', '0', '70000', '80/icmp', 'a:b', '1.2.3.4.5:80:80', '9000-9010:80-85', '90-80:80', '9000-9010', '[zz]:1:2', '1:2:3:4'])('refuses %j', (spec) => {
    expect(() => parsePublishSpec(spec)).toThrow(/invalid publish spec/);
  });
});
