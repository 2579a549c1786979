/**
 * Serves the web app (the client page at /, the dashboard at /dashboard) from apps/web's build, with the
 * headers that make the page cross-origin isolated (COOP same-origin + COEP require-corp: SharedArrayBuffer
 * and multi-threaded WASM) and every resource same-origin.
 */
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { existsSync, mkdirSync } from 'node:fs';
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

export async function pagesPlugin(app: FastifyInstance, opts: { root?: string }): Promise<void> {
  const root = opts.root ?? webRoot();
  app.addHook('onSend', async (req, reply) => {
    if (!req.url.startsWith('/api/')) for (const [k, v] of Object.entries(ISOLATION_HEADERS)) reply.header(k, v);
  });
  // Whether the app is built is decided per request, so a rebuild while the coordinator runs is picked up.
  mkdirSync(root, { recursive: true });
  await app.register(fastifyStatic, { root, index: false, wildcard: true, cacheControl: false });
  const page = (file: string) => async (_req: unknown, reply: FastifyReply) =>
    existsSync(join(root, file))
      ? reply.sendFile(file)
      : reply
          .type('text/html; charset=utf-8')
          .send(
            '<!doctype html><title>hushfl</title><p>The web app is not built yet: run <code>node scripts/build-web.mjs</code> (npm start does it for you).</p>',
          );
  app.get('/', page('index.html'));
  app.get('/dashboard', page('dashboard.html'));
}
