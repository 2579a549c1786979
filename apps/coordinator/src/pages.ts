/**
 * Serves the web app (the client page at /, the dashboard at /dashboard) from apps/web's build, with the
 * headers that make the page cross-origin isolated (COOP same-origin + COEP require-corp: SharedArrayBuffer
 * and multi-threaded WASM) and every resource same-origin.
 */
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
} as const;

export function webRoot(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@hushfl/web/package.json')), 'dist');
}

export async function registerPages(app: FastifyInstance, root = webRoot()): Promise<void> {
  const built = existsSync(join(root, 'index.html'));
  app.addHook('onSend', async (req, reply) => {
    if (!req.url.startsWith('/api/')) for (const [k, v] of Object.entries(ISOLATION_HEADERS)) reply.header(k, v);
  });
  if (!built) {
    app.get('/', async (_req, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .send('<!doctype html><title>hushfl</title><p>The web app is not built yet: run <code>node scripts/build-web.mjs</code> (npm start does it for you).</p>'),
    );
    return;
  }
  await app.register(fastifyStatic, { root, index: ['index.html'], wildcard: false, cacheControl: false });
  app.get('/dashboard', async (_req, reply) => reply.sendFile(existsSync(join(root, 'dashboard.html')) ? 'dashboard.html' : 'index.html'));
}
