/**
 * Where a device on the network reaches the client page: the listening address itself, or — when the
 * coordinator listens on every interface — one URL per external IPv4 address, for the dashboard's QR code.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

export function joinUrls(
  scheme: 'http' | 'https',
  host: string,
  port: number,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string[] {
  const url = (h: string) => `${scheme}://${h.includes(':') ? `[${h}]` : h}:${port}/`;
  if (!WILDCARDS.has(host)) return [url(host)];
  const external = Object.values(interfaces)
    .flatMap((list) => list ?? [])
    .filter((i) => i.family === 'IPv4' && !i.internal)
    .map((i) => url(i.address));
  return external.length ? external : [url('127.0.0.1')];
}
