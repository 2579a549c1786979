/** Which URL the join panel offers a phone. */
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

/**
 * The URL to offer: this page's own origin, unless the dashboard was opened on loopback — which a phone cannot
 * reach — and the coordinator listens on the network, whose first address it then takes.
 */
export function joinUrl(origin: string, served: readonly string[]): string {
  const here = new URL(origin);
  if (!LOOPBACK.test(here.hostname)) return `${here.origin}/`;
  return served.find((u) => !LOOPBACK.test(new URL(u).hostname)) ?? `${here.origin}/`;
}
