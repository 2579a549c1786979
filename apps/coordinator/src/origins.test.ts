/**
 * The origin check of /v1/clients: originAllowed alone, then real coordinators on loopback with real
 * Socket.IO clients sending the Origin a page of another site would send.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { connectNodeClient } from '@hushfl/node';
import { CLIENT_NAMESPACE } from '@hushfl/protocol';
import { createCoordinator, type CoordinatorOptions } from './app.ts';
import { checkAllowedOrigins, originAllowed } from './origins.ts';

describe('originAllowed', () => {
  it('same origin only by default: scheme, host and port of the request', () => {
    expect(originAllowed('http://127.0.0.1:8080', '127.0.0.1:8080', [], false)).toBe(true);
    expect(originAllowed('https://fl.example.com', 'fl.example.com', [], true)).toBe(true);
    expect(originAllowed('https://fl.example.com', 'fl.example.com:443', [], true)).toBe(true); // default port either way
    expect(originAllowed('http://[::1]:8080', '[::1]:8080', [], false)).toBe(true);
    expect(originAllowed('http://LOCALHOST:8080', 'localhost:8080', [], false)).toBe(true);
    for (const [origin, host, secure] of [
      ['https://evil.example', '127.0.0.1:8080', false],
      ['http://127.0.0.1:8081', '127.0.0.1:8080', false], // another port is another origin
      ['https://127.0.0.1:8080', '127.0.0.1:8080', false], // the coordinator serves http
      ['http://fl.example.com', 'fl.example.com', true], // ... or https
      ['http://127.0.0.1:8080.evil.example', '127.0.0.1:8080', false],
      ['http://evil.example', 'evil.example/path', false], // a Host header that is not a host
      ['http://evil.example', undefined, false],
      ['null', '127.0.0.1:8080', false], // sandboxed frames and file: pages
      ['not an origin', '127.0.0.1:8080', false],
    ] as const) {
      expect(originAllowed(origin, host, [], secure), `${origin} → ${host}`).toBe(false);
    }
  });

  it('no Origin header (Node clients) is let in; the allow-list adds exact origins, * any', () => {
    expect(originAllowed(undefined, '127.0.0.1:8080', [], false)).toBe(true);
    const list = checkAllowedOrigins(['https://App.Example.com:443/']);
    expect(list).toEqual(['https://app.example.com']);
    expect(originAllowed('https://app.example.com', '10.0.0.2:8080', list, false)).toBe(true);
    expect(originAllowed('https://app.example.com:8443', '10.0.0.2:8080', list, false)).toBe(false);
    expect(originAllowed('http://app.example.com', '10.0.0.2:8080', list, false)).toBe(false);
    expect(originAllowed('https://evil.example', '10.0.0.2:8080', list, false)).toBe(false);
    expect(originAllowed('https://evil.example', '10.0.0.2:8080', ['*'], false)).toBe(true);
    expect(originAllowed('null', '10.0.0.2:8080', ['*'], false)).toBe(true);
  });

  it('checkAllowedOrigins refuses what is not an origin, naming it', () => {
    for (const bad of [
      'app.example.com',
      'https://app.example.com/path',
      'https://a@app.example.com',
      'ftp://app.example.com',
      'https://app.example.com?x=1',
      '',
    ]) {
      expect(() => checkAllowedOrigins([bad], '--allowed-origin'), bad).toThrow(`--allowed-origin: '${bad}' is not an origin`);
    }
  });
});

/** Connects to the client namespace with these headers; resolves 'connected' or the connect_error's message. */
function attempt(url: string, headers: Record<string, string> = {}): Promise<string> {
  const s = io(new URL(CLIENT_NAMESPACE, url).toString(), { transports: ['websocket'], reconnection: false, extraHeaders: headers });
  return new Promise<string>((resolve) => {
    s.once('connect', () => resolve('connected'));
    s.once('connect_error', (e) => resolve(e.message));
  }).finally(() => s.close());
}

async function coordinator(options: Partial<CoordinatorOptions> = {}) {
  const lines: string[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'hushfl-origins-'));
  const c = await createCoordinator({
    port: 0,
    dataDir,
    logLevel: 'warn',
    logStream: { write: (line) => void lines.push(line) },
    operatorToken: 'origins-test-operator-token-0123456789',
    ...options,
  });
  const refusals = () =>
    lines.map((l) => JSON.parse(l) as { msg: string; count: number; origin: string }).filter((l) => l.msg === 'refused client connections (origin)');
  const close = async () => {
    await c.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { c, refusals, close };
}

describe('the client namespace behind the origin check', () => {
  it('refuses a page of another site, saying why; lets in its own pages and Node clients; logs refusals rate-limited', async () => {
    const { c, refusals, close } = await coordinator();
    try {
      const own = new URL(c.url).origin;
      expect(await attempt(c.url, { origin: own })).toBe('connected');
      expect(await attempt(c.url)).toBe('connected');
      expect(await attempt(c.url, { origin: 'https://evil.example' })).toBe(
        'origin https://evil.example is not allowed: the coordinator accepts same-origin pages only (see --allowed-origin)',
      );
      expect(await attempt(c.url, { origin: own.replace('http:', 'https:') })).toMatch(/^origin https:\/\/127\.0\.0\.1:\d+ is not allowed/);
      // The repository's Node client (hushfl simulate, hushfl-node-client) sends no Origin: it joins.
      const node = await connectNodeClient({ url: c.url, name: 'node' });
      expect(node.clientId).toMatch(/^[A-Za-z0-9_-]{12,}$/);
      await node.close();
      for (let i = 0; i < 5; i++) expect(await attempt(c.url, { origin: `https://evil${i}.example` })).toMatch(/is not allowed/);
      // 7 refusals within the interval: the first logged at once, the rest waiting for the summary.
      expect(refusals()).toEqual([expect.objectContaining({ count: 1, origin: 'https://evil.example' })]);
    } finally {
      await close();
    }
    // Shutting down logs what was pending: every refusal is counted.
    expect(refusals().map((l) => l.count)).toEqual([1, 6]);
    expect(refusals()[1]!.origin).toBe('https://evil4.example');
  });

  it('with allowedOrigins: those origins too, and * lets any page in', async () => {
    const listed = await coordinator({ allowedOrigins: ['https://app.example.com'] });
    try {
      expect(await attempt(listed.c.url, { origin: 'https://app.example.com' })).toBe('connected');
      expect(await attempt(listed.c.url, { origin: new URL(listed.c.url).origin })).toBe('connected');
      expect(await attempt(listed.c.url, { origin: 'https://evil.example' })).toBe(
        'origin https://evil.example is not allowed: the coordinator accepts same-origin pages and the origins given with --allowed-origin',
      );
    } finally {
      await listed.close();
    }
    const any = await coordinator({ allowedOrigins: ['*'] });
    try {
      expect(await attempt(any.c.url, { origin: 'https://evil.example' })).toBe('connected');
    } finally {
      await any.close();
    }
    await expect(coordinator({ allowedOrigins: ['app.example.com'] })).rejects.toThrow("--allowed-origin: 'app.example.com' is not an origin");
  });
});
