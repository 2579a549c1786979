/** Tokens never reach the log: redactUrl alone, then a real coordinator's log lines for requests that carry them. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCoordinator } from './app.ts';
import { REDACTED, redactUrl } from './redact.ts';

describe('redactUrl', () => {
  it('replaces the value of token, sessionToken and operatorToken, whatever their case or encoding', () => {
    expect(redactUrl('/dashboard?token=SECRET')).toBe(`/dashboard?token=${REDACTED}`);
    expect(redactUrl('/x?a=1&sessionToken=S3&b=two')).toBe(`/x?a=1&sessionToken=${REDACTED}&b=two`);
    expect(redactUrl('/x?operatorToken=abc-_~%2F&token=t#frag')).toBe(`/x?operatorToken=${REDACTED}&token=${REDACTED}#frag`);
    expect(redactUrl('/x?TOKEN=a&SessionToken=b')).toBe(`/x?TOKEN=${REDACTED}&SessionToken=${REDACTED}`);
    // The query parser decodes keys, so an encoded key is the same parameter.
    expect(redactUrl('/x?%74oken=a&session%54oken=b')).toBe(`/x?%74oken=${REDACTED}&session%54oken=${REDACTED}`);
  });

  it('keeps everything else byte for byte', () => {
    for (const url of ['/', '/api/runs?limit=5', '/x?tokens=a&mytoken=b&token_hint=c', '/x?token=', '/x?token', '/x#token=frag', '/x?a=%ZZ&b=1']) {
      expect(redactUrl(url), url).toBe(url);
    }
  });

  it('works inside text that quotes a URL', () => {
    expect(redactUrl('Route GET:/nope?x=1&token=SECRET not found')).toBe(`Route GET:/nope?x=1&token=${REDACTED} not found`);
    expect(redactUrl('open "http://h:1/dashboard?token=SECRET" now')).toBe(`open "http://h:1/dashboard?token=${REDACTED}" now`);
  });
});

describe("the coordinator's log", () => {
  it('shows the requests with their tokens redacted: request lines, unknown routes, secret headers', async () => {
    const lines: string[] = [];
    const dataDir = mkdtempSync(join(tmpdir(), 'hushfl-redact-'));
    const c = await createCoordinator({
      port: 0,
      dataDir,
      logLevel: 'info',
      logStream: { write: (line) => void lines.push(line) },
      operatorToken: 'redact-test-operator-token-0123456789',
    });
    try {
      const dashboard = await c.app.inject('/dashboard?token=SECRET-dashboard-1');
      expect(dashboard.statusCode).toBe(200);
      const unknown = await c.app.inject('/no-such-page?operatorToken=SECRET-unknown-2');
      expect(unknown.statusCode).toBe(404);
      const api = await c.app.inject({
        url: '/api/status?sessionToken=SECRET-query-3',
        headers: { authorization: 'Bearer SECRET-header-4', cookie: 'sid=SECRET-cookie-5' },
      });
      expect(api.statusCode).toBe(401);
      const shard = await c.app.inject({ url: '/api/tasks/mnist/shards/0', headers: { 'x-hushfl-session': 'someclient:SECRET-session-6' } });
      expect(shard.statusCode).toBe(401);
      // A line that logs headers as an object gets them censored too.
      c.app.log.info({ headers: { authorization: 'Bearer SECRET-object-7', 'x-hushfl-session': 'a:SECRET-object-8' } }, 'headers of a request');
      c.app.log.warn({ url: 'http://h/dashboard?token=SECRET-field-9' }, 'a URL field');
    } finally {
      await c.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
    const log = lines.join('');
    expect(log).not.toMatch(/SECRET/);
    // The lines are there, redacted, not missing.
    const parsed = lines.map((l) => JSON.parse(l) as { msg?: string; req?: { url?: string }; headers?: Record<string, string>; url?: string });
    const urls = parsed.flatMap((l) => (l.req?.url ? [l.req.url] : []));
    expect(urls).toEqual(
      expect.arrayContaining([
        `/dashboard?token=${REDACTED}`,
        `/no-such-page?operatorToken=${REDACTED}`,
        `/api/status?sessionToken=${REDACTED}`,
        '/api/tasks/mnist/shards/0',
      ]),
    );
    expect(parsed.map((l) => l.msg)).toContain(`Route GET:/no-such-page?operatorToken=${REDACTED} not found`);
    expect(parsed.find((l) => l.msg === 'headers of a request')?.headers).toEqual({ authorization: REDACTED, 'x-hushfl-session': REDACTED });
    expect(parsed.find((l) => l.msg === 'a URL field')?.url).toBe(`http://h/dashboard?token=${REDACTED}`);
  });
});
