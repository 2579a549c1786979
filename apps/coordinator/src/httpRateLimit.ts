/**
 * Rate limits on every HTTP route (issue 13 §2: floods cost something), with @fastify/rate-limit: per address
 * (IPv4, IPv6 /64), a fixed window. Loopback is exempt unless `limitLoopback`, for the gateway's reason
 * (gatewayLimits.ts): `hushfl simulate` and the tests load shards for a thousand clients from 127.0.0.1, and
 * behind a reverse proxy on the same host every request arrives from loopback — unless the coordinator trusts
 * the proxy (`trustProxy`: req.ip is then the address it forwards). Socket.IO's own HTTP traffic does not pass
 * Fastify's routes; the client gateway limits it.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { isLoopback } from './gatewayLimits.ts';

export interface HttpRateLimitOptions {
  /** Requests per address per window (default 600: a page, its assets and shards, the dashboard's polls). */
  readonly max?: number;
  readonly timeWindowMs?: number;
  readonly limitLoopback?: boolean;
}

export const DEFAULT_HTTP_RATE_LIMIT = { max: 600, timeWindowMs: 60_000 } as const;

/**
 * Registers the limit as the root's first onRequest hook: it runs for every request — every route, pages and
 * not-found alike — before any route scope's own hooks, so a wrong operator token counts toward it too.
 */
export async function registerHttpRateLimit(app: FastifyInstance, o: HttpRateLimitOptions = {}): Promise<void> {
  const max = o.max ?? DEFAULT_HTTP_RATE_LIMIT.max;
  await app.register(rateLimit, {
    global: false,
    max,
    timeWindow: o.timeWindowMs ?? DEFAULT_HTTP_RATE_LIMIT.timeWindowMs,
    ipv6Subnet: 64,
    allowList: (req) => !o.limitLoopback && isLoopback(req.ip),
    // Thrown as the route's error: the routes' error handler (zodRoutes.ts) answers `{ error: message }`, the
    // body of every other refusal of the API.
    errorResponseBuilder: (_req, ctx) => {
      const message = `rate limit exceeded: at most ${ctx.max} requests per ${Math.round((o.timeWindowMs ?? DEFAULT_HTTP_RATE_LIMIT.timeWindowMs) / 1000)} s from one address; retry in ${ctx.after}`;
      return Object.assign(new Error(message), { statusCode: 429, error: message });
    },
  });
  app.addHook('onRequest', app.rateLimit());
}
