/**
 * The pages the coordinator serves and what their URLs accept: the client page's query (read by the page
 * itself and validated by the coordinator's route, from this one schema) and the static files of the build.
 */
import { z } from 'zod';

/** The TensorFlow.js backends a client page can be forced onto with `?backend=`. */
export const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** `/?backend=wasm&miniClients=3&autojoin=0&joinCode=…`: every key optional; keys it does not name are dropped. */
export const clientPageQuerySchema = z.object({
  backend: z.enum(BACKENDS).optional(),
  miniClients: z.coerce.number().int().min(1).max(256).optional(),
  autojoin: z.enum(['0', '1']).optional(),
  /** A single-use join code (`hushfl invite`) for a coordinator with `access: { enrollment: true }`. */
  joinCode: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,128}$/)
    .optional(),
});
export type ClientPageQuery = z.infer<typeof clientPageQuerySchema>;

export const noQuerySchema = z.object({});

/** The build's folders of static files and the one path segment a file may be (no dots first, no slashes). */
export const STATIC_DIRS = ['assets', 'tfjs-wasm'] as const;
export const staticFileParamsSchema = z.object({ file: z.string().regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/, 'not a file name of the build') });

export type StaticFileParams = z.infer<typeof staticFileParamsSchema>;

/** A page or file body: sent as it is (HTML text, bytes, a stream), never serialized. */
export const pageBodySchema = z.string();

export const PAGES = { client: { path: '/', file: 'index.html' }, dashboard: { path: '/dashboard', file: 'dashboard.html' } } as const;
