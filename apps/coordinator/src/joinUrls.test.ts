import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { joinUrls } from './joinUrls.ts';

const nic = (address: string, family: 'IPv4' | 'IPv6', internal: boolean) =>
  ({ address, family, internal, netmask: '', mac: '', cidr: null }) as NetworkInterfaceInfo;
const interfaces = {
  lo: [nic('127.0.0.1', 'IPv4', true), nic('::1', 'IPv6', true)],
  eth0: [nic('192.168.1.20', 'IPv4', false), nic('fe80::1', 'IPv6', false)],
  wlan0: [nic('10.0.0.7', 'IPv4', false)],
};

describe('joinUrls', () => {
  it('lists every external IPv4 address when listening on all interfaces', () => {
    expect(joinUrls('https', '0.0.0.0', 8443, interfaces)).toEqual(['https://192.168.1.20:8443/', 'https://10.0.0.7:8443/']);
    expect(joinUrls('https', '::', 8443, interfaces)).toEqual(['https://192.168.1.20:8443/', 'https://10.0.0.7:8443/']);
  });

  it('gives the listening address itself otherwise, bracketing IPv6', () => {
    expect(joinUrls('http', '127.0.0.1', 8080, interfaces)).toEqual(['http://127.0.0.1:8080/']);
    expect(joinUrls('https', 'fd00::5', 443, interfaces)).toEqual(['https://[fd00::5]:443/']);
  });

  it('falls back to loopback on a machine with no external interface', () => {
    expect(joinUrls('http', '0.0.0.0', 8080, { lo: interfaces.lo })).toEqual(['http://127.0.0.1:8080/']);
  });
});
