/**
 * Serves the web app (the client page at /, the dashboard at /dashboard, and the build's static files) from
 * apps/web's build, with the headers that make the page cross-origin isolated (COOP same-origin + COEP
 * require-corp: SharedArrayBuffer and multi-threaded WASM) and every resource same-origin. Every route has
 * its request schema from @hushfl/protocol (pages.ts): a bad `?backend=` is a 400 naming it, a path that is
 * not a file name of the build never reaches the file system.
 */
import fastifyStatic from '@fastify/static';
import {
  apiErrorSchema,
  clientPageQuerySchema,
  noQuerySchema,
  pageBodySchema,
  PAGES,
  STATIC_DIRS,
  staticFileParamsSchema,
  type ApiSchema,
  type StaticFileParams,
} from '@hushfl/protocol';
import type { FastifyInstance, FastifyReply, FastifySchema } from 'fastify';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { useZod } from './zodRoutes.ts';

export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
} as const;

export function webRoot(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@hushfl/web/package.json')), 'dist');
}

const responses = { 200: pageBodySchema, 400: apiErrorSchema };

export async function pagesPlugin(app: FastifyInstance, opts: { root?: string }): Promise<void> {
  const root = opts.root ?? webRoot();
  useZod(app);
  app.addHook('onSend', async (_req, reply) => {
    for (const [k, v] of Object.entries(ISOLATION_HEADERS)) reply.header(k, v);
  });
  // Whether the app is built is decided per request, so a rebuild while the coordinator runs is picked up.
  mkdirSync(root, { recursive: true });
  // Only reply.sendFile: the routes below are the whole surface (no wildcard).
  await app.register(fastifyStatic, { root, serve: false, cacheControl: false });
  const page = (file: string) => async (_req: unknown, reply: FastifyReply) =>
    existsSync(join(root, file))
      ? reply.sendFile(file)
      : reply
          .type('text/html; charset=utf-8')
          .send(
            '<!doctype html><title>hushfl</title><p>The web app is not built yet: run <code>node scripts/build-web.mjs</code> (npm start does it for you).</p>',
          );
  const pageSchema = (querystring: ApiSchema): FastifySchema => ({ querystring, response: responses });
  app.get(PAGES.client.path, { schema: pageSchema(clientPageQuerySchema) }, page(PAGES.client.file));
  app.get(PAGES.dashboard.path, { schema: pageSchema(noQuerySchema) }, page(PAGES.dashboard.file));
  for (const dir of STATIC_DIRS) {
    app.get<{ Params: StaticFileParams }>(
      `/${dir}/:file`,
      { schema: { params: staticFileParamsSchema, querystring: noQuerySchema, response: responses } },
      async (req, reply) => reply.sendFile(`${dir}/${req.params.file}`),
    );
  }
}
