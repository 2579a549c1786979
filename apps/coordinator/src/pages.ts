/**
 * Serves the web app (the client page at /, the dashboard at /dashboard, and the build's static files) from
 * apps/web's build, with the headers that make the page cross-origin isolated (COOP same-origin + COEP
 * require-corp: SharedArrayBuffer and multi-threaded WASM) and every resource same-origin. Every route has
 * its request schema from @hushfl/protocol (pages.ts): a bad `?backend=` is a 400 naming it, a path that is
 * not a file name of the build never reaches the file system. Every response carries @fastify/helmet's
 * security headers with a Content Security Policy that admits only what the app does (issue 13 §4).
 */
import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet';
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
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { useZod } from './zodRoutes.ts';

export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
} as const;

/** Where a page may connect: its origin, and its own Socket.IO WebSocket named for browsers whose `'self'` omits ws: (CSP 2). */
function ownConnections(req: IncomingMessage): string {
  const host = req.headers.host ?? '';
  // Only a host[:port]: the header is the client's, and a policy must not take a directive from it.
  if (!/^[A-Za-z0-9.:[\]_-]{1,300}$/.test(host)) return "'self'";
  return `'self' ${'encrypted' in req.socket ? 'wss' : 'ws'}://${host}`;
}

/**
 * What the pages may load and run: only their own origin's scripts, styles, Workers and connections; WASM
 * compiled from those files ('wasm-unsafe-eval', for tfjs-wasm); blob: Workers and scripts, which tfjs-wasm's
 * threaded build makes of its own Emscripten factory (its pthread Workers import a Blob of it); data: images
 * (the favicon). No frames of the pages anywhere, no plugins, no inline script. React's `style` props go
 * through the CSSOM, which style-src does not govern. The isolation headers are ISOLATION_HEADERS.
 */
export const SECURITY_HEADERS = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      'default-src': ["'self'"],
      'script-src': ["'self'", "'wasm-unsafe-eval'", 'blob:'],
      'script-src-attr': ["'none'"],
      'worker-src': ["'self'", 'blob:'],
      'connect-src': [ownConnections],
      'style-src': ["'self'"],
      'img-src': ["'self'", 'data:'],
      'font-src': ["'self'"],
      'object-src': ["'none'"],
      'base-uri': ["'none'"],
      'form-action': ["'self'"],
      'frame-ancestors': ["'none'"],
    },
  },
  crossOriginOpenerPolicy: { policy: ISOLATION_HEADERS['cross-origin-opener-policy'] },
  crossOriginEmbedderPolicy: { policy: ISOLATION_HEADERS['cross-origin-embedder-policy'] },
  crossOriginResourcePolicy: { policy: ISOLATION_HEADERS['cross-origin-resource-policy'] },
  xFrameOptions: { action: 'deny' },
  // The dashboard's URL may carry an operator's paste; no page sends its URL on.
  referrerPolicy: { policy: 'no-referrer' },
  // Not from here: HSTS pins a host name to HTTPS for a year, also for the other servers of a LAN address or
  // of localhost, and a coordinator may serve plain HTTP on loopback tomorrow. Whoever terminates TLS for a
  // public name can send it.
  strictTransportSecurity: false,
} as const satisfies FastifyHelmetOptions;

export function webRoot(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@hushfl/web/package.json')), 'dist');
}

const responses = { 200: pageBodySchema, 400: apiErrorSchema };

export async function pagesPlugin(app: FastifyInstance, opts: { root?: string }): Promise<void> {
  const root = opts.root ?? webRoot();
  useZod(app);
  // In this plugin's scope only: the API's JSON answers are no documents.
  await app.register(fastifyHelmet, SECURITY_HEADERS);
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
