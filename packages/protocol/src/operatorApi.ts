/**
 * The operator HTTP API as one contract: a schema for every request and response, and the route table the
 * coordinator registers its routes from and @hushfl/operator-client builds its calls from. JSON keys and paths
 * are public (operators' scripts use them): change them only with a new API version.
 */
import { z } from 'zod';
import { modelSpecSchema, runConfigSchema, SERVER_OPTIMIZERS, taskNameSchema } from './config.ts';
import { ddgParamsSchema, statusSchema } from './messages.ts';

// ---- requests

export const runIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a run id: 1 to 64 letters, digits, _ or -');
export const runParamsSchema = z.object({ id: runIdSchema });
export type RunParams = z.infer<typeof runParamsSchema>;

export const shardParamsSchema = z.object({
  task: taskNameSchema,
  index: z
    .string()
    .regex(/^\d{1,9}$/, 'must be a shard number')
    .transform(Number),
});

/** The run config a run is started with (POST /api/runs): validated and completed as parseRunConfig does. */
export const createRunBodySchema = runConfigSchema;

/** The most join codes one POST /api/invites issues. */
export const MAX_INVITES = 1000;
/** How many single-use join codes to issue (POST /api/invites). */
export const invitesBodySchema = z.object({ count: z.number().int().min(1).max(MAX_INVITES) }).strict();

// ---- responses

/** Every error: a message naming what is wrong, and for a refused config each bad field. */
export const apiErrorSchema = z.object({
  error: z.string(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type ApiErrorBody = z.infer<typeof apiErrorSchema>;

/** Liveness only: it needs no token, so it says nothing about clients or runs (those are in GET /api/status). */
export const healthSchema = z.object({ ok: z.literal(true) });

export const joinUrlsSchema = z.object({ urls: z.array(z.string()) });

/** The coordinator process answering (on a cluster, one node): its role and its memory (issue 17 §3's loadtest). */
export const nodeInfoSchema = z.object({
  /** The cluster node's name; null on one machine. */
  node: z.string().nullable(),
  /** Whether it runs the run engine (always true on one machine). */
  leader: z.boolean(),
  /** Times this node took the leader lease (failovers are the takeovers after a cluster's first). */
  takeovers: z.number().int().min(0),
  store: z.enum(['sqlite', 'postgres']),
  /** Client sessions connected to this process. */
  sessions: z.number().int().min(0),
  rssMb: z.number(),
  heapUsedMb: z.number(),
});
export type NodeInfo = z.infer<typeof nodeInfoSchema>;

export const runStateSchema = z.enum(['running', 'paused', 'stopped', 'completed', 'failed']);
export type RunState = z.infer<typeof runStateSchema>;

/** The noise and precision a run was planned with (the coordinator's DdgPlan). */
export const runDdgSchema = z.object({
  params: ddgParamsSchema,
  /** Target ε, or null without noise. */
  epsilonBudget: z.number().nullable(),
  delta: z.number(),
  sampleRate: z.number(),
  dimPadded: z.number().int(),
  /** Adaptive clipping's count noise and the noise budget's split (engine ddgPlan.ts ClipCountPlan); absent with a fixed clip. */
  clipCount: z
    .object({
      countStddev: z.number(),
      countScale: z.number(),
      countNoise: z.number(),
      modelEpsilon: z.number().nullable(),
      countEpsilon: z.number().nullable(),
      localStddevWithoutCount: z.number().nullable(),
    })
    .optional(),
});

/**
 * The utility forecast of a run config before it starts (issue 16 §3; engine forecast.ts): the released mean's
 * noise against the clip, and a verdict with what to change when the noise dominates.
 */
export const forecastSchema = z.object({
  parties: z.number(),
  minClients: z.number().int(),
  epsilon: z.number().nullable(),
  rounds: z.number().int(),
  clip: z.number(),
  noiseStddev: z.number(),
  noiseNorm: z.number(),
  noiseToClip: z.number(),
  verdict: z.enum(['learns', 'slow', 'no-learning']),
  message: z.string(),
  /** The model's weights d and the DDG plan the forecast is for. */
  dim: z.number().int(),
  ddg: runDdgSchema,
});
export type Forecast = z.infer<typeof forecastSchema>;

/**
 * The run's strategy (issue 15): the server optimizer with its effective hyperparameters, FedProx's μ and
 * adaptive clipping's settings (null with a fixed clip).
 */
export const runStrategySchema = z.object({
  server: z.object({ optimizer: z.enum(SERVER_OPTIMIZERS), learningRate: z.number(), beta1: z.number(), beta2: z.number(), tau: z.number() }),
  proximalMu: z.number(),
  adaptiveClip: z.object({ targetQuantile: z.number(), learningRate: z.number(), initialClip: z.number() }).nullable(),
});
export type RunStrategy = z.infer<typeof runStrategySchema>;

/**
 * The run's SecAgg+ guarantee at the expected clients per round (rate γ at 2^-40, or at most C colluders),
 * with k, t and the round's abort bound — or why no parameters exist (docs/PRIVACY.md "Choosing k and t").
 */
export const runSecAggSchema = z.object({
  n: z.number().int(),
  guarantee: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('rate'), corruptRate: z.number(), securityBits: z.number() }),
    z.object({ kind: z.literal('colluders'), maxColluders: z.number().int() }),
  ]),
  dropout: z.number(),
  k: z.number().int().optional(),
  t: z.number().int().optional(),
  complete: z.boolean().optional(),
  abortProbability: z.number().optional(),
  live: z.boolean().optional(),
  error: z.string().optional(),
});
export type RunSecAgg = z.infer<typeof runSecAggSchema>;

/** A run in the list (GET /api/runs): its config only comes with the run itself. */
export const runSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  state: runStateSchema,
  created_at: z.number(),
  finished_at: z.number().nullable(),
  /** Last completed round (−1 before the first). */
  completed_round: z.number().int(),
  dim: z.number().int(),
  ddg: runDdgSchema,
  secagg: runSecAggSchema,
  strategy: runStrategySchema,
  reason: z.string().nullable(),
});
export type RunSummary = z.infer<typeof runSummarySchema>;

export const runDetailSchema = runSummarySchema.extend({
  config: runConfigSchema,
  /** The coordinator's status while this run is the active one, else null. */
  live: statusSchema.nullable(),
});

export const participantSchema = z.object({
  client_id: z.string(),
  attempt: z.number().int(),
  secagg_id: z.number().int(),
  contributions: z.number().int(),
  status: z.string(),
  dropped_stage: z.string().nullable(),
});

export const stageEventSchema = z.object({
  stage: z.string(),
  phase: z.string(),
  at: z.number(),
  attempt: z.number().int(),
  /** JSON text, as stored. */
  detail: z.string().nullable(),
});

/** One attempt of a round, with who took part and its stage events. */
export const roundSchema = z.object({
  run_id: z.string(),
  round: z.number().int(),
  attempt: z.number().int(),
  state: z.enum(['running', 'completed', 'aborted']),
  started_at: z.number(),
  finished_at: z.number().nullable(),
  contributions: z.number().int().nullable(),
  accuracy: z.number().nullable(),
  loss: z.number().nullable(),
  epsilon: z.number().nullable(),
  /** ε against the coordinator (no sampling amplification); equals epsilon without Poisson selection. */
  epsilon_coordinator: z.number().nullable(),
  /** The extra δ of Poisson selection's redraws (docs/PRIVACY.md). */
  delta_selection: z.number().nullable(),
  error: z.string().nullable(),
  /**
   * Federated evaluation (issue 14 §5), decoded from the noisy sum's metric coordinates: Σ correct / Σ examples
   * and Σ loss / Σ examples of the model the round started from (the previous round's; `accuracy` is of this
   * round's) on its parties' held-out splits (clamped to [0, 1] and
   * ≥ 0), and the raw noisy totals; the `federated_train_` ones are of their local training. Null for a round
   * without federated evaluation (or not released), or a ratio whose Σ examples came out below 1.
   */
  federated_accuracy: z.number().nullable().optional(),
  federated_loss: z.number().nullable().optional(),
  federated_examples: z.number().nullable().optional(),
  federated_correct: z.number().nullable().optional(),
  federated_loss_sum: z.number().nullable().optional(),
  federated_train_accuracy: z.number().nullable().optional(),
  federated_train_loss: z.number().nullable().optional(),
  federated_train_examples: z.number().nullable().optional(),
  federated_train_correct: z.number().nullable().optional(),
  federated_train_loss_sum: z.number().nullable().optional(),
  /** Why this aborted attempt does not count toward maxAttempts (misbehaving or silent parties, a store error); null when it counts. */
  excused: z.string().nullable().optional(),
  /** Adaptive clipping (issue 15 §3): the attempt's clip C_t and b̄_t, the noisy share of updates within it; null with a fixed clip. */
  clip: z.number().nullable().optional(),
  clip_fraction: z.number().nullable().optional(),
  /** Milliseconds per SecAgg stage. */
  durations: z.record(z.string(), z.number()),
  /** Client id → the stage it dropped at. */
  dropped: z.record(z.string(), z.string()),
  bytes_up: z.number(),
  bytes_down: z.number(),
  selected: z.number().int(),
  participants: z.array(participantSchema),
  stages: z.array(stageEventSchema),
});
export type RoundResponse = z.infer<typeof roundSchema>;

export const createdRunSchema = z.object({ runId: z.string() });

/** The join codes issued, each shown this once (the coordinator keeps only their hashes). */
export const invitesSchema = z.object({ codes: z.array(z.string()) });

export const controlResultSchema = z.object({ ok: z.literal(true), status: statusSchema });
export const RUN_ACTIONS = ['pause', 'resume', 'stop'] as const;
export type RunAction = (typeof RUN_ACTIONS)[number];

/**
 * server_metrics.json, a download: the fields below are the ones a reader may rely on; the file carries more
 * (every field is kept when parsed).
 */
export const metricsSchema = z.looseObject({
  run: z.looseObject({ id: z.string(), name: z.string(), createdAt: z.string(), state: runStateSchema.optional() }),
  model: z.looseObject({ spec: modelSpecSchema, dim: z.number().int(), dimPadded: z.number().int() }),
  privacy: z.looseObject({ mechanism: z.enum(['ddg', 'none']), bits: z.number(), delta: z.number(), epsilonBudget: z.number().nullable() }),
  config: z.unknown(),
  rounds: z.array(
    z.looseObject({
      round: z.number().int(),
      attempt: z.number().int(),
      status: z.string(),
      accuracy: z.number().nullable(),
      loss: z.number().nullable(),
      epsilon: z.number().nullable(),
      /** Federated evaluation totals and ratios (the round record's `federated`), null without it. */
      federated: z.looseObject({ accuracy: z.number().nullable(), loss: z.number().nullable(), examples: z.number() }).nullable().optional(),
    }),
  ),
});

const intHeader = z
  .string()
  .regex(/^-?\d+$/, 'must be an integer')
  .transform(Number);
const jsonHeader = z.string().transform((text, ctx) => {
  try {
    const value: unknown = JSON.parse(text);
    return value;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be JSON' });
    return z.NEVER;
  }
});

/** What describes the raw little-endian float32 weights of GET /api/runs/:id/model. */
export const modelHeadersSchema = z.object({
  /** The completed round the weights are from (−1: the initial model). */
  'x-hushfl-round': intHeader,
  'x-hushfl-dim': intHeader,
  'x-hushfl-model': jsonHeader.pipe(modelSpecSchema),
});

// ---- the route table

export type ErrorStatus = 400 | 401 | 403 | 404 | 409;

export interface OperatorRoute {
  readonly method: 'GET' | 'POST';
  /** Fastify syntax: `:name` is a path parameter. */
  readonly path: string;
  /** operator: `Authorization: Bearer <token>`; client: `X-Hushfl-Session: <clientId>:<sessionToken>`. */
  readonly auth: 'none' | 'operator' | 'client';
  readonly params?: z.ZodType;
  readonly body?: z.ZodType;
  readonly status: 200 | 201;
  /** The JSON body of a success; for a download, the file's content. */
  readonly response?: z.ZodType;
  /** A download's file name (content-disposition). */
  readonly download?: string;
  /** A binary success: its content type and, where it has them, the headers that describe it. */
  readonly binary?: { readonly contentType: 'application/octet-stream'; readonly headers?: z.ZodType };
  /** The error statuses it answers with an apiErrorSchema body. */
  readonly errors: readonly ErrorStatus[];
}

const runRoute = { params: runParamsSchema, auth: 'operator' } as const;
const controlRoute = (action: RunAction) =>
  ({ ...runRoute, method: 'POST', path: `/api/runs/:id/${action}`, status: 200, response: controlResultSchema, errors: [400, 401, 409] }) as const;

export const operatorRoutes = {
  health: { method: 'GET', path: '/api/health', auth: 'none', status: 200, response: healthSchema, errors: [] },
  status: { method: 'GET', path: '/api/status', auth: 'operator', status: 200, response: statusSchema, errors: [401] },
  join: { method: 'GET', path: '/api/join', auth: 'operator', status: 200, response: joinUrlsSchema, errors: [401] },
  node: { method: 'GET', path: '/api/node', auth: 'operator', status: 200, response: nodeInfoSchema, errors: [401] },
  runs: { method: 'GET', path: '/api/runs', auth: 'operator', status: 200, response: z.array(runSummarySchema), errors: [401] },
  createRun: {
    method: 'POST',
    path: '/api/runs',
    auth: 'operator',
    body: createRunBodySchema,
    status: 201,
    response: createdRunSchema,
    // 409: another run is in progress.
    errors: [400, 401, 409],
  },
  run: { ...runRoute, method: 'GET', path: '/api/runs/:id', status: 200, response: runDetailSchema, errors: [400, 401, 404] },
  rounds: { ...runRoute, method: 'GET', path: '/api/runs/:id/rounds', status: 200, response: z.array(roundSchema), errors: [400, 401, 404] },
  metrics: {
    ...runRoute,
    method: 'GET',
    path: '/api/runs/:id/metrics',
    status: 200,
    response: metricsSchema,
    download: 'server_metrics.json',
    errors: [400, 401, 404],
  },
  model: {
    ...runRoute,
    method: 'GET',
    path: '/api/runs/:id/model',
    status: 200,
    binary: { contentType: 'application/octet-stream', headers: modelHeadersSchema },
    errors: [400, 401, 404],
  },
  // 409: the run is not the active one.
  pause: controlRoute('pause'),
  resume: controlRoute('resume'),
  stop: controlRoute('stop'),
  /** The utility forecast of a config, without starting it (400 for a config the coordinator would refuse). */
  forecast: { method: 'POST', path: '/api/forecast', auth: 'operator', body: createRunBodySchema, status: 200, response: forecastSchema, errors: [400, 401] },
  /** Single-use join codes for `access: { enrollment: true }` (issue 13 §2). */
  invites: { method: 'POST', path: '/api/invites', auth: 'operator', body: invitesBodySchema, status: 201, response: invitesSchema, errors: [400, 401] },
  /** A client downloads one of its own demo data shards (`data: demo`; 404 for another task, 409 with `data: local`). */
  shard: {
    method: 'GET',
    path: '/api/tasks/:task/shards/:index',
    auth: 'client',
    params: shardParamsSchema,
    status: 200,
    binary: { contentType: 'application/octet-stream' },
    errors: [400, 401, 403, 404, 409],
  },
} as const satisfies Record<string, OperatorRoute>;

// Types both sides of a route derive from its schemas (so the coordinator needs no zod import of its own).

/** A schema of the contract. */
export type ApiSchema = z.ZodType;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;
type In<S> = S extends z.ZodType ? z.input<S> : undefined;
/** Params and body as a caller gives them, and as the server has them after validation. */
export type RouteParamsInput<R extends OperatorRoute> = In<R['params']>;
export type RouteParams<R extends OperatorRoute> = Out<R['params']>;
export type RouteBodyInput<R extends OperatorRoute> = In<R['body']>;
export type RouteBody<R extends OperatorRoute> = Out<R['body']>;
/** A JSON response as the server hands it to the serializer, and as a caller gets it parsed. */
export type RouteResponseInput<R extends OperatorRoute> = In<R['response']>;
/** The model route's headers as the server writes them (strings). */
export type ModelHeadersInput = z.input<typeof modelHeadersSchema>;

/** A route's path with its parameters filled in (URL-encoded). */
export function routePath(route: OperatorRoute, params: Readonly<Record<string, string | number>> = {}): string {
  return route.path.replace(/:([A-Za-z_]+)/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`${route.path}: parameter ${name} is missing`);
    return encodeURIComponent(String(v));
  });
}
