/** The pages plugin over app.inject(): schemas on every route, isolation and security headers, no path outside the build. */
import Fastify, { type FastifyInstance } from 'fastify';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ISOLATION_HEADERS, pagesPlugin } from './pages.ts';

let root: string;
let app: FastifyInstance;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hushfl-pages-'));
  mkdirSync(join(root, 'assets'));
  mkdirSync(join(root, 'tfjs-wasm'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>client</title>');
  writeFileSync(join(root, 'dashboard.html'), '<!doctype html><title>dashboard</title>');
  writeFileSync(join(root, 'assets', 'index-abc.js'), 'console.log(1)');
  writeFileSync(join(root, 'tfjs-wasm', 'tfjs-backend-wasm.wasm'), new Uint8Array([0, 97, 115, 109]));
  writeFileSync(join(root, 'secret.txt'), 'not served');
  app = Fastify();
  await app.register(pagesPlugin, { root });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  rmSync(root, { recursive: true, force: true });
});

const isolated = (headers: Record<string, unknown>) => {
  for (const [k, v] of Object.entries(ISOLATION_HEADERS)) expect(headers[k]).toBe(v);
};

/** The Content-Security-Policy header as directive → sources. */
function csp(headers: Record<string, unknown>): Map<string, string[]> {
  const text = headers['content-security-policy'];
  expect(typeof text).toBe('string');
  return new Map(
    String(text)
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

describe('pages', () => {
  it('serves the client page and the dashboard, cross-origin isolated', async () => {
    const client = await app.inject('/?backend=wasm&miniClients=3&autojoin=0');
    expect(client.statusCode).toBe(200);
    expect(client.body).toContain('<title>client</title>');
    isolated(client.headers);
    const dash = await app.inject('/dashboard');
    expect(dash.statusCode).toBe(200);
    expect(dash.body).toContain('<title>dashboard</title>');
    isolated(dash.headers);
  });

  it('refuses a client-page query the page would not understand, naming the key', async () => {
    for (const [q, key] of [
      ['backend=cuda', 'backend'],
      ['miniClients=0', 'miniClients'],
      ['miniClients=many', 'miniClients'],
      ['autojoin=yes', 'autojoin'],
    ] as const) {
      const r = await app.inject(`/?${q}`);
      expect(r.statusCode, q).toBe(400);
      expect(r.json().error, q).toMatch(new RegExp(`^${key}:`));
      isolated(r.headers);
    }
  });

  it('serves the build’s static files and nothing else', async () => {
    const js = await app.inject('/assets/index-abc.js');
    expect(js.statusCode).toBe(200);
    expect(js.body).toBe('console.log(1)');
    isolated(js.headers);
    expect((await app.inject('/tfjs-wasm/tfjs-backend-wasm.wasm')).rawPayload).toEqual(Buffer.from([0, 97, 115, 109]));
    expect((await app.inject('/assets/missing.js')).statusCode).toBe(404);
    for (const url of ['/secret.txt', '/assets/..%2Fsecret.txt', '/assets/%2E%2E%2Fsecret.txt', '/assets/.hidden', '/other/index-abc.js']) {
      const r = await app.inject(url);
      expect([400, 404], url).toContain(r.statusCode);
      expect(r.body, url).not.toContain('not served');
    }
  });

  it('every page and file carries the security headers; the policy admits what the app needs and nothing inline', async () => {
    for (const url of ['/', '/dashboard', '/assets/index-abc.js', '/tfjs-wasm/tfjs-backend-wasm.wasm', '/assets/missing.js', '/?backend=cuda']) {
      const r = await app.inject({ url, headers: { host: 'fl.example.com:8443' } });
      expect(r.headers['x-content-type-options'], url).toBe('nosniff');
      expect(r.headers['x-frame-options'], url).toBe('DENY');
      expect(r.headers['referrer-policy'], url).toBe('no-referrer');
      expect(r.headers['strict-transport-security'], url).toBeUndefined();
      isolated(r.headers);
      const policy = csp(r.headers);
      expect(policy.get('default-src'), url).toEqual(["'self'"]);
      expect(policy.get('frame-ancestors'), url).toEqual(["'none'"]);
      expect(policy.get('object-src'), url).toEqual(["'none'"]);
      // tfjs-wasm compiles WASM; its threaded build runs pthread Workers made from a Blob of its own factory.
      expect(policy.get('script-src'), url).toEqual(["'self'", "'wasm-unsafe-eval'", 'blob:']);
      expect(policy.get('worker-src'), url).toEqual(["'self'", 'blob:']);
      // Socket.IO's WebSocket to this host (plain HTTP here: ws:), named as well as 'self'.
      expect(policy.get('connect-src'), url).toEqual(["'self'", 'ws://fl.example.com:8443']);
      expect(policy.get('style-src'), url).toEqual(["'self'"]);
      for (const [name, sources] of policy) {
        expect(sources, `${url} ${name}`).not.toContain("'unsafe-inline'");
        expect(sources, `${url} ${name}`).not.toContain("'unsafe-eval'");
      }
      // Over plain HTTP on a LAN address, upgrading every request to https would break the page.
      expect(policy.has('upgrade-insecure-requests'), url).toBe(false);
    }
  });

  it('a Host header that is not a host never reaches the policy', async () => {
    const r = await app.inject({ url: '/', headers: { host: "evil.example; script-src 'unsafe-inline'" } });
    expect(csp(r.headers).get('connect-src')).toEqual(["'self'"]);
    expect(csp(r.headers).get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'", 'blob:']);
  });

  it('says how to build the app when it is not built', async () => {
    const bare = Fastify();
    const empty = mkdtempSync(join(tmpdir(), 'hushfl-pages-empty-'));
    await bare.register(pagesPlugin, { root: empty });
    const r = await bare.inject('/');
    expect(r.statusCode).toBe(200);
    expect(r.body).toMatch(/not built yet/);
    await bare.close();
    rmSync(empty, { recursive: true, force: true });
  });
});
