/**
 * What Sybils and floods cost on the client gateway (issue 13 §2): caps on connections (in all and per IP
 * address), on new identities per address per minute, on hellos per connection and on resumes per identity
 * per minute; strikes by abuse class, within a sliding window, after which a connection is closed; and the
 * counters of all of it (GatewayCounters), for tests and the operator.
 */

/** The ways a client misbehaves; each dropped or refused message is one strike of its class. */
export const ABUSE_CLASSES = [
  'repeated-hello',
  'mini-clients',
  'join-code',
  'schema',
  'rate-limit',
  'unknown-event',
  'wrong-round',
  'before-hello',
  'resume-loop',
] as const;
export type AbuseClass = (typeof ABUSE_CLASSES)[number];
/** The classes a connection survives a few of; a message before hello or a resume loop closes it at once. */
export type LimitedClass = Exclude<AbuseClass, 'before-hello' | 'resume-loop'>;

/** Why the gateway closed a connection. */
export const CLOSE_REASONS = [
  'max-connections',
  'max-connections-per-ip',
  'sessions-per-ip',
  'resume-loop',
  'unknown-session',
  'strikes',
  'hello-timeout',
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

export interface GatewayLimits {
  /** Open client connections in all. */
  readonly maxConnections: number;
  /** Open client connections from one address (IPv4, or an IPv6 /64). */
  readonly maxConnectionsPerIp: number;
  /** Hellos without `resume` (new identities, admitted or not) from one address per minute. */
  readonly maxNewSessionsPerIpPerMinute: number;
  /** Schema-valid hellos one connection may send; each beyond is a repeated-hello strike. */
  readonly maxHellosPerConnection: number;
  /** Resumes of one identity per minute; beyond it, a resume loop: refused and closed. */
  readonly maxResumesPerMinute: number;
  /** Strikes of all classes within strikeWindowMs after which a connection is closed. */
  readonly maxStrikes: number;
  /** Strikes of one class within strikeWindowMs after which a connection is closed. */
  readonly strikeLimits: Readonly<Record<LimitedClass, number>>;
  readonly strikeWindowMs: number;
  /**
   * Apply the per-address caps to loopback connections too. Off by default: `hushfl simulate` and the tests
   * open up to a thousand clients from 127.0.0.1, and behind a reverse proxy on the same host every client
   * arrives from loopback, so a per-address cap there would cap the whole deployment (the total cap holds).
   */
  readonly limitLoopback: boolean;
}

export type GatewayLimitsInput = Partial<Omit<GatewayLimits, 'strikeLimits'>> & { readonly strikeLimits?: Partial<Record<LimitedClass, number>> };

export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = {
  maxConnections: 10_000,
  // A household or an office behind one NAT: a few dozen devices, each a tab or two.
  maxConnectionsPerIp: 64,
  maxNewSessionsPerIpPerMinute: 30,
  maxHellosPerConnection: 1,
  // Socket.IO's reconnection backs off to 5 s: an honest flaky client resumes at most about 12 times a minute
  // only if every connection dies at once; 10 is a loop.
  maxResumesPerMinute: 10,
  maxStrikes: 50,
  strikeLimits: {
    // An honest client never sends these: a few, and the connection is closed.
    'repeated-hello': 3,
    'mini-clients': 3,
    'join-code': 3,
    'unknown-event': 10,
    // An honest client can send a late SecAgg message after a round ended, or an odd report: allow bursts.
    schema: 50,
    'rate-limit': 50,
    'wrong-round': 50,
  },
  strikeWindowMs: 60_000,
  limitLoopback: false,
};

export function resolveLimits(input: GatewayLimitsInput = {}): GatewayLimits {
  const { strikeLimits, ...rest } = input;
  const out = { ...DEFAULT_GATEWAY_LIMITS, ...rest, strikeLimits: { ...DEFAULT_GATEWAY_LIMITS.strikeLimits, ...strikeLimits } };
  for (const [name, v] of Object.entries({ ...out, ...out.strikeLimits })) {
    if (typeof v === 'number' && !(Number.isInteger(v) && v >= 1)) throw new RangeError(`gateway limit ${name} must be an integer >= 1, got ${v}`);
  }
  return out;
}

/** What the gateway counted since it started. */
export interface GatewayStats {
  /** Client connections open now, and those of them with a session. */
  readonly connections: number;
  readonly sessions: number;
  /** Strikes (dropped or refused messages) by abuse class. */
  readonly strikes: Record<AbuseClass, number>;
  /** Connections the gateway closed, by why. */
  readonly closed: Record<CloseReason, number>;
  /** Client identities pruned (never finished a round, not seen within the retention). */
  readonly pruned: number;
  /** Progress reports dropped by the rate limit (one rate-limit strike per REPORT_DROPS_PER_STRIKE). */
  readonly reportsDropped: number;
}

const zeros = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

/** The gateway's counters; create one to read them from outside (GatewayOptions.counters). */
export class GatewayCounters {
  connections = 0;
  sessions = 0;
  pruned = 0;
  reportsDropped = 0;
  readonly strikes = zeros(ABUSE_CLASSES);
  readonly closed = zeros(CLOSE_REASONS);

  stats(): GatewayStats {
    return {
      connections: this.connections,
      sessions: this.sessions,
      strikes: { ...this.strikes },
      closed: { ...this.closed },
      pruned: this.pruned,
      reportsDropped: this.reportsDropped,
    };
  }
}

/**
 * Events per key within the last `windowMs`. Each key keeps at most `cap` timestamps (a count saturates there,
 * enough to compare with a limit below it), and keys with nothing in the window are swept once a window.
 */
export class SlidingWindow {
  private readonly hits = new Map<string, number[]>();
  private lastSweep: number;

  constructor(
    private readonly windowMs: number,
    private readonly cap: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lastSweep = now();
  }

  /** Records one event of `key`; returns the events in the window, this one included (at most `cap`). */
  hit(key: string): number {
    const now = this.now();
    if (now - this.lastSweep >= this.windowMs) this.sweep(now);
    const list = (this.hits.get(key) ?? []).filter((t) => now - t < this.windowMs);
    list.push(now);
    if (list.length > this.cap) list.splice(0, list.length - this.cap);
    this.hits.set(key, list);
    return list.length;
  }

  get size(): number {
    return this.hits.size;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, list] of this.hits) if (list.every((t) => now - t >= this.windowMs)) this.hits.delete(key);
  }
}

/** The address a per-IP cap counts: IPv4 (also IPv4-mapped IPv6), or the /64 of an IPv6 address (one host's share). */
export function addressKey(address: string): string {
  const a = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (!a.includes(':')) return a;
  const [head = '', tail = ''] = a.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = a.includes('::') ? [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * The client's address: the socket's peer, or — behind a trusted reverse proxy (`trustProxy`) — the address
 * that proxy appended to X-Forwarded-For (the last entry; earlier ones are the client's own say, which it can
 * forge). Without a trusted proxy the header is ignored.
 */
export function clientAddress(peer: string, forwardedFor: string | string[] | undefined, trustProxy: boolean): string {
  if (!trustProxy || forwardedFor === undefined) return peer;
  const list = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  return list.at(-1) ?? peer;
}

export function isLoopback(address: string): boolean {
  const a = address.replace(/^::ffff:/i, '');
  return a === '::1' || a.startsWith('127.');
}
