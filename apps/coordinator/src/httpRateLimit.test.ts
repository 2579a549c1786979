/** Every HTTP route is rate-limited per address (issue 13 §2), on a real coordinator over loopback. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCoordinator } from './app.ts';
import type { HttpRateLimitOptions } from './httpRateLimit.ts';

const start = (httpRateLimit: HttpRateLimitOptions, trustProxy = false) =>
  createCoordinator({
    port: 0,
    dataDir: mkdtempSync(join(tmpdir(), 'hushfl-ratelimit-')),
    logLevel: 'silent',
    operatorToken: 'test-operator-token-0123456789',
    httpRateLimit,
    trustProxy,
  });

describe('HTTP rate limits', () => {
  it('past max requests per window an address gets 429 with the reason, on API routes and pages alike', async () => {
    const c = await start({ max: 5, timeWindowMs: 60_000, limitLoopback: true });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await fetch(`${c.url}/api/health`)).status);
      expect(codes).toEqual([200, 200, 200, 200, 200]);
      const refused = await fetch(`${c.url}/api/runs`, { headers: { authorization: `Bearer ${c.operatorToken}` } });
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({
        error: expect.stringMatching(/^rate limit exceeded: at most 5 requests per 60 s from one address; retry in/),
      });
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      // A wrong operator token is no way around it (token guessing is limited too).
      expect((await fetch(`${c.url}/api/runs`, { headers: { authorization: 'Bearer guess' } })).status).toBe(429);
      expect((await fetch(`${c.url}/`)).status).toBe(429);
    } finally {
      await c.close();
    }
  });

  it('loopback is exempt by default (simulations and a same-host reverse proxy)', async () => {
    const c = await start({ max: 5 });
    try {
      const codes = await Promise.all(Array.from({ length: 12 }, async () => (await fetch(`${c.url}/api/health`)).status));
      expect(new Set(codes)).toEqual(new Set([200]));
    } finally {
      await c.close();
    }
  });

  it('behind a trusted reverse proxy each forwarded address has its own limit (loopback exemption or not)', async () => {
    const c = await start({ max: 3 }, true);
    try {
      const get = (ip: string) => fetch(`${c.url}/api/health`, { headers: { 'x-forwarded-for': ip } }).then((r) => r.status);
      const a = [await get('203.0.113.7'), await get('203.0.113.7'), await get('203.0.113.7'), await get('203.0.113.7')];
      expect(a).toEqual([200, 200, 200, 429]);
      expect(await get('203.0.113.8')).toBe(200);
    } finally {
      await c.close();
    }
  });
});
