/**
 * Which pages may open a client connection (issue 13 §4). A WebSocket is not subject to CORS: without this
 * check any site a visitor opens could connect their browser to /v1/clients and make it a client of a run.
 * Default: the coordinator's own origin only, plus connections without an Origin header (Node clients,
 * `hushfl simulate`: no browser sends a WebSocket handshake without one). More origins, or `*`, come from
 * `CoordinatorOptions.allowedOrigins` (`hushfl start --allowed-origin`).
 */
import type { FastifyInstance } from 'fastify';
import type { Server } from 'socket.io';
import { CLIENT_NAMESPACE } from '@hushfl/protocol';
import { RateLimitedLog } from './rateLimitedLog.ts';

/** Refused connections are logged at most once per interval, with the count since the last line. */
export const REFUSED_LOG_INTERVAL_MS = 10_000;

function parseUrl(s: string): URL | null {
  try {
    return new URL(s);
  } catch {
    return null;
  }
}

/** The Host header as the host part of an origin of `scheme`, or null when it is not one (a default port dropped). */
function hostOf(scheme: 'http:' | 'https:', host: string): string | null {
  // A host name, IPv4 or [IPv6] and a port: nothing a URL parser would read as a path or a user.
  return /^[A-Za-z0-9.:[\]_-]+$/.test(host) ? (parseUrl(`${scheme}//${host}`)?.host ?? null) : null;
}

/**
 * Whether a connection whose handshake carried `origin` (the Origin header) to `host` (the Host header) may
 * proceed: no Origin at all; an origin in `allowList` (exact, as checkAllowedOrigins normalizes them, or `*`);
 * or the coordinator's own origin: the scheme it serves (https when `secure`) and the host:port asked for.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowList: readonly string[], secure: boolean): boolean {
  if (origin === undefined || origin === '') return true;
  if (allowList.includes('*')) return true;
  const o = parseUrl(origin);
  if (!o) return false; // "null" (sandboxed frames, file:) and anything else that is not an origin
  if (allowList.includes(o.origin)) return true;
  const scheme = secure ? 'https:' : 'http:';
  return o.protocol === scheme && host !== undefined && hostOf(scheme, host) === o.host;
}

/**
 * The allow-list as originAllowed compares it: each entry `*` or an origin `scheme://host[:port]` (lower case,
 * default port dropped). Throws naming the first entry that is not one, before the coordinator listens.
 */
export function checkAllowedOrigins(list: readonly string[], source = 'allowedOrigins'): string[] {
  return list.map((entry) => {
    const e = entry.trim();
    if (e === '*') return e;
    const u = parseUrl(e);
    // An origin has no path, query, fragment or user: `https://app.example.com/` at most.
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.pathname !== '/' || /[?#@]/.test(e)) {
      throw new RangeError(`${source}: '${entry}' is not an origin: give scheme://host[:port] (e.g. https://app.example.com) or *`);
    }
    return u.origin;
  });
}

const shown = (origin: string) => (origin.length > 200 ? `${origin.slice(0, 200)}…` : origin);

export interface OriginCheckOptions {
  readonly io: Server;
  /** From checkAllowedOrigins. */
  readonly allowedOrigins: readonly string[];
  /** The coordinator serves HTTPS: its own pages have an https origin. */
  readonly secure: boolean;
}

/**
 * The check as a middleware of the client namespace, registered before the gateway: a refused socket never
 * reaches `connection`; its connect_error says why. Refusals are counted and logged rate-limited.
 */
export async function clientOriginPlugin(app: FastifyInstance, opts: OriginCheckOptions): Promise<void> {
  const refused = new RateLimitedLog(app.log, 'warn', 'refused client connections (origin)', REFUSED_LOG_INTERVAL_MS);
  app.addHook('onClose', async () => refused.close());
  const accepted = opts.allowedOrigins.length
    ? 'same-origin pages and the origins given with --allowed-origin'
    : 'same-origin pages only (see --allowed-origin)';
  opts.io.of(CLIENT_NAMESPACE).use((socket, next) => {
    const { origin, host } = socket.handshake.headers;
    if (originAllowed(origin, host, opts.allowedOrigins, opts.secure)) return next();
    refused.hit({ origin: shown(String(origin)), host: shown(String(host)), address: socket.handshake.address });
    next(new Error(`origin ${shown(String(origin))} is not allowed: the coordinator accepts ${accepted}`));
  });
}
