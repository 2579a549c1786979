/**
 * The operator API client, built from the route table of @hushfl/protocol: every response is parsed with its
 * route's schema, every error becomes an ApiError with the coordinator's message. The fetch function is
 * injected (browser fetch, Node's fetch, or Fastify's inject in tests), so this needs neither DOM nor Node.
 */
import {
  apiErrorSchema,
  f32FromBytes,
  operatorRoutes,
  routePath,
  type ApiErrorBody,
  type ApiSchema,
  type OperatorRoute,
  type RouteBodyInput,
  type RouteParamsInput,
  type RunAction,
  type RunParams,
} from '@hushfl/protocol';
import type { z } from 'zod';

/** The part of a fetch Response this client reads. */
export interface FetchLikeResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface FetchLikeInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
}

export type FetchLike = (url: string, init: FetchLikeInit) => Promise<FetchLikeResponse>;

export interface OperatorClientOptions {
  /** The coordinator's origin, e.g. https://host:8080 (a path after it is ignored, as with new URL(path, base)). */
  readonly base: string;
  /** The operator token (Authorization: Bearer). */
  readonly token: string;
  readonly fetch: FetchLike;
}

/** A refused or failed call: the HTTP status and the coordinator's `error` text. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    /** For a refused run config: each bad field. */
    readonly issues: ApiErrorBody['issues'] = undefined,
  ) {
    super(message);
  }
}

type JsonRoute = OperatorRoute & { readonly response: ApiSchema };
type Params<R extends OperatorRoute> = RouteParamsInput<R>;
type Body<R extends OperatorRoute> = RouteBodyInput<R>;

const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

export class OperatorClient {
  private readonly origin: string;

  constructor(private readonly options: OperatorClientOptions) {
    this.origin = ORIGIN.exec(options.base)?.[0] ?? options.base.replace(/\/+$/, '');
  }

  /** Calls a route; resolves to the response when it succeeded, else throws ApiError. */
  async send<R extends OperatorRoute>(route: R, params: Params<R>, body: Body<R>): Promise<FetchLikeResponse> {
    const headers: Record<string, string> = {};
    if (route.auth === 'operator') headers.authorization = `Bearer ${this.options.token}`;
    const init: FetchLikeInit = { method: route.method, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const fetchFn = this.options.fetch;
    const res = await fetchFn(this.origin + routePath(route, params ?? {}), init);
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`.trim();
      let issues: ApiErrorBody['issues'];
      try {
        const e = apiErrorSchema.safeParse(await res.json());
        if (e.success) {
          message = e.data.error;
          issues = e.data.issues;
        }
      } catch {
        // not JSON: keep the status line
      }
      throw new ApiError(res.status, message, issues);
    }
    return res;
  }

  /** Calls a JSON route and parses its response with the route's schema. */
  async json<R extends JsonRoute>(route: R, params: Params<R>, body: Body<R>): Promise<z.output<R['response']>> {
    const res = await this.send(route, params, body);
    return this.parse<R['response']>(route, res.status, route.response, await res.json());
  }

  private parse<S extends ApiSchema>(route: OperatorRoute, status: number, schema: S, value: unknown): z.output<S> {
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    const issues = r.error.issues.map((i) => `${i.path.map(String).join('.') || '(response)'}: ${i.message}`).join('; ');
    throw new ApiError(status, `${route.method} ${route.path}: the response does not match the operator API: ${issues}`);
  }

  health() {
    return this.json(operatorRoutes.health, undefined, undefined);
  }

  status() {
    return this.json(operatorRoutes.status, undefined, undefined);
  }

  /** The process answering: its cluster role and memory. */
  node() {
    return this.json(operatorRoutes.node, undefined, undefined);
  }

  /** Where devices reach the client page. */
  joinUrls() {
    return this.json(operatorRoutes.join, undefined, undefined);
  }

  runs() {
    return this.json(operatorRoutes.runs, undefined, undefined);
  }

  run(id: RunParams['id']) {
    return this.json(operatorRoutes.run, { id }, undefined);
  }

  rounds(id: RunParams['id']) {
    return this.json(operatorRoutes.rounds, { id }, undefined);
  }

  /** Starts a run; the coordinator validates and completes the config (ApiError 400 names each bad field). */
  createRun(config: Body<typeof operatorRoutes.createRun>) {
    return this.json(operatorRoutes.createRun, undefined, config);
  }

  /** The config's utility forecast (issue 16 §3) without starting it; ApiError 400 for a config a run would refuse. */
  forecast(config: Body<typeof operatorRoutes.forecast>) {
    return this.json(operatorRoutes.forecast, undefined, config);
  }

  control(id: RunParams['id'], action: RunAction) {
    return this.json(operatorRoutes[action], { id }, undefined);
  }

  pause(id: RunParams['id']) {
    return this.control(id, 'pause');
  }

  resume(id: RunParams['id']) {
    return this.control(id, 'resume');
  }

  stop(id: RunParams['id']) {
    return this.control(id, 'stop');
  }

  /** `count` single-use join codes, for a coordinator or run with `access: { enrollment: true }`; each is shown only here. */
  invite(count: number) {
    return this.json(operatorRoutes.invites, undefined, { count });
  }

  /** server_metrics.json of a run. */
  metrics(id: RunParams['id']) {
    return this.json(operatorRoutes.metrics, { id }, undefined);
  }

  /** The latest global model: its round (−1: initial), dimension, spec and weights. */
  async model(id: RunParams['id']) {
    const route = operatorRoutes.model;
    const res = await this.send(route, { id }, undefined);
    const schema = route.binary.headers;
    const headers = Object.fromEntries(Object.keys(schema.shape).map((name) => [name, res.headers.get(name) ?? undefined]));
    const meta = this.parse(route, res.status, schema, headers);
    const weights = f32FromBytes(new Uint8Array(await res.arrayBuffer()));
    if (weights.length !== meta['x-hushfl-dim']) {
      throw new ApiError(res.status, `${route.method} ${route.path}: ${weights.length} weights, but x-hushfl-dim says ${meta['x-hushfl-dim']}`);
    }
    return { round: meta['x-hushfl-round'], dim: meta['x-hushfl-dim'], spec: meta['x-hushfl-model'], weights };
  }
}
