/**
 * Every message between coordinator and clients, as a runtime schema (zod) and its TypeScript type.
 * Version 1: clients connect to the Socket.IO namespace `/v1/clients` and open with `hello`.
 *
 * Client → coordinator: hello (with ack), ready (data loaded: the client may now be selected), secagg, report,
 * liveness (the answer to a probe).
 * Coordinator → client: task, secagg, round-end, status, bye, liveness (a probe).
 * No message carries a client's plaintext update: the only update-derived data a client sends is its
 * masked SecAgg input.
 */
import { MODEL_ENCODINGS } from './modelEncoding.ts';
import { z } from 'zod';
import { bytes } from './binary.ts';
import { modelSpecSchema, taskNameSchema } from './config.ts';
import { secaggClientWire, secaggServerWire } from './secaggWire.ts';

export const PROTOCOL_VERSION = 1;
export const CLIENT_NAMESPACE = '/v1/clients';
export const OPERATOR_NAMESPACE = '/v1/operator';

export const EVENTS = {
  hello: 'hello',
  ready: 'ready',
  secagg: 'secagg',
  report: 'report',
  task: 'task',
  roundEnd: 'round-end',
  status: 'status',
  bye: 'bye',
  /** A probe with a nonce, echoed back: a party silent at two deadlines in a row is selected again only after it answers. */
  liveness: 'liveness',
} as const;

const clientId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);
const token = z.string().regex(/^[A-Za-z0-9_-]{16,128}$/);

// ---- client → coordinator

export const helloSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    /** Rejoin as an earlier identity (after a reload or reconnect). */
    resume: z.object({ clientId, sessionToken: token }).strict().optional(),
    name: z.string().max(64).optional(),
    /** Virtual clients this connection runs (mini-clients); each trains on its own shard. */
    miniClients: z.number().int().min(1).max(256).default(1),
    backend: z.string().max(32).optional(),
    userAgent: z.string().max(256).optional(),
    /**
     * A single-use join code the operator issued (POST /api/invites, `hushfl invite`): required for a new
     * identity when the run or the coordinator has `access: { enrollment: true }`; ignored with `resume`.
     */
    joinCode: token.optional(),
  })
  .strict();
export type Hello = z.infer<typeof helloSchema>;

export const helloAckSchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    clientId,
    sessionToken: token,
    resumed: z.boolean(),
    /** The data shards this client trains on (one per mini-client), fetched with the session token. */
    shards: z.array(z.number().int().min(0)),
    shardUrl: z.string(),
    /** The task clients train on (the registry's name: `hushfl tasks`) and where its data comes from (issue 14 §2). */
    task: taskNameSchema,
    /** `local`: the coordinator serves no data (`shards` is empty); the page trains on what the person picks. */
    data: z.enum(['demo', 'local']),
    /** Names the data this join is for; a status with another `dataKey` says the run needs other data. */
    dataKey: z.string().max(128),
    runId: z.string().nullable(),
    /** True when the page is served over plain HTTP to a non-local address: WebCrypto is then missing. */
    insecureContext: z.boolean(),
  }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type HelloAck = z.infer<typeof helloAckSchema>;

export const secaggEnvelopeFromClient = z.object({ roundId: z.string().max(128), message: secaggClientWire }).strict();

/**
 * A client's progress report to the coordinator: where it is in the round and how long things took. It
 * carries nothing computed from the client's data — no loss, accuracy, example or step count, DP-SGD ε — so
 * the coordinator never holds a per-client value derived from data (the page keeps those: client LocalReport).
 * Strict: a report with any other field is dropped.
 */
export const reportSchema = z
  .object({
    roundId: z.string().max(128),
    phase: z.enum(['training', 'encoding', 'secagg', 'done', 'failed']),
    /**
     * 0..1 progress of the phase, in tenths: finer steps (or an epoch and batch number) would tell the
     * coordinator how many batches, so about how many examples, a client trains on.
     */
    progress: z.number().min(0).max(1).multipleOf(0.1).optional(),
    train: z
      .object({ ms: z.number().min(0), backend: z.string().max(32) })
      .strict()
      .optional(),
    encodeMs: z.number().min(0).optional(),
    error: z.string().max(500).optional(),
  })
  .strict();
export type Report = z.infer<typeof reportSchema>;

// ---- coordinator → client

export const ddgParamsSchema = z.object({
  dim: z.number().int().min(1),
  clip: z.number().positive(),
  gamma: z.number().positive(),
  beta: z.number().min(0).lt(1),
  bits: z.number().int().min(1).max(32),
  localStddev: z.number().min(0),
});

export const taskMessageSchema = z.object({
  runId: z.string(),
  round: z.number().int().min(0),
  attempt: z.number().int().min(1),
  roundId: z.string().max(128),
  /** The registry task (its input and classes shape the model: `hushfl tasks`). */
  task: taskNameSchema,
  /** The global model; `encoding` (absent: float32) says how `weights` holds it (modelEncoding.ts). */
  model: z.object({ spec: modelSpecSchema, weights: bytes({ max: 4 * 2 ** 26 }), encoding: z.enum(MODEL_ENCODINGS).optional() }),
  training: z.object({
    epochs: z.number().int().min(1),
    batchSize: z.number().int().min(1),
    learningRate: z.number().positive(),
    /** FedProx's μ (absent: 0, plain local SGD). */
    proximalMu: z.number().min(0).max(100).optional(),
  }),
  dpsgd: z
    .object({ clip: z.number().positive(), noiseMultiplier: z.number().positive(), sampling: z.enum(['poisson', 'fixed']), delta: z.number() })
    .nullable(),
  ddg: ddgParamsSchema,
  /**
   * Federated evaluation (issue 14 §5): the client appends its bounded metric sums (FEDERATED_METRICS of them,
   * @hushfl/ddp federatedMetrics.ts) to each update, so `ddg.dim` is the model dimension plus those; absent or
   * null: none, and `ddg.dim` is the model dimension.
   */
  evaluation: z
    .object({
      fraction: z.number().gt(0).max(0.5),
      maxExamples: z.number().int().min(1),
      maxLoss: z.number().positive(),
      normShare: z.number().gt(0).lt(1),
    })
    .nullable()
    .optional(),
  /**
   * Adaptive clipping (issue 15 §3): this round's clip C_t of the model update, and the grid noise stddev g and
   * scale h of the clipped count the client appends after its d′ DDG coordinates ((2b − 1)·h + N_Z(0, g²),
   * b = [‖Δ‖ ≤ C_t]), so
   * its SecAgg input has d′ + 1 coordinates. The update is clipped to C_t and scaled onto the fixed plan's
   * clip before encoding. Absent or null: a fixed clip, d′ coordinates.
   */
  adaptiveClip: z
    .object({
      clip: z.number().positive(),
      countStddev: z.number().min(0),
      countScale: z
        .number()
        .int()
        .min(1)
        .max(2 ** 20),
    })
    .nullable()
    .optional(),
  rotationSeed: bytes({ length: 32 }),
  secagg: z.object({
    /** This client's id within the round's SecAgg instance. */
    id: z.number().int().min(1),
    clients: z.array(z.number().int().min(1)),
    neighbours: z.number().int().min(1),
    threshold: z.number().int().min(1),
    /** H(r_S): the coordinator's commitment to its part of the graph seed, opened with the neighbour keys. */
    graphCommitment: bytes({ length: 32 }),
    /** What the round must withstand: each client checks (k, t) against it for n (issue 12 §4). */
    dropoutRate: z.number().min(0).lt(1),
    corruptRate: z.number().min(0).lt(1),
    /** An absolute bound on colluders, replacing corruptRate. */
    maxColluders: z.number().int().min(0).optional(),
  }),
  /** How many contributions (mini-clients) this client is counted for. */
  contributions: z.number().int().min(1),
  /** Milliseconds the client has for training and its first SecAgg message. */
  trainingDeadlineMs: z.number().int().min(0),
});
export type TaskMessage = z.infer<typeof taskMessageSchema>;

export const secaggEnvelopeFromServer = z.object({ roundId: z.string(), message: secaggServerWire });

export const roundEndSchema = z.object({
  roundId: z.string(),
  round: z.number().int(),
  status: z.enum(['completed', 'aborted']),
  /** Whether this client's input is in the released sum. */
  included: z.boolean(),
  reason: z.string().optional(),
  accuracy: z.number().optional(),
  epsilon: z.number().nullable().optional(),
});
export type RoundEnd = z.infer<typeof roundEndSchema>;

export const statusSchema = z.object({
  runId: z.string().nullable(),
  state: z.enum(['idle', 'waiting', 'running', 'paused', 'stopped', 'completed', 'failed']),
  round: z.number().int(),
  rounds: z.number().int(),
  epsilon: z.number().nullable(),
  epsilonBudget: z.number().nullable(),
  delta: z.number().nullable(),
  clientsConnected: z.number().int(),
  /** Set when this client was not selected for the round in progress. */
  selected: z.boolean().optional(),
  /** Why the run ended, or (state 'waiting') why no round can start yet. */
  message: z.string().optional(),
  /** Parties excluded from the rest of the run for misbehaving (issue 13 §1). */
  excluded: z.number().int().optional(),
  /**
   * Of clientsConnected, the simulated devices `hushfl start --demo-devices N` runs on the coordinator's own
   * machine (Node clients in worker threads, each with its own keys and demo shard); operators' status only.
   */
  simulatedDevices: z.number().int().min(0).optional(),
  /** This client is excluded from the run (sent to that client only), with the reason. */
  excludedReason: z.string().optional(),
  /**
   * The data the active run trains on (the hello ack's `dataKey`), sent to a client that joined for other
   * data: it rejoins (a new hello) to get the run's task and shards before it can be selected.
   */
  dataKey: z.string().max(128).optional(),
});
export type Status = z.infer<typeof statusSchema>;

export const byeSchema = z.object({ reason: z.string() });

/** A liveness probe (coordinator → client) and its answer (client → coordinator): the same nonce back. */
export const livenessSchema = z.object({ nonce: z.string().regex(/^[0-9a-f]{16,64}$/) });
export type Liveness = z.infer<typeof livenessSchema>;
