/**
 * The run configuration (a JSON or YAML task file) and its validation. Every error names the field:
 * "ddg.bits: must be at most 32". Defaults are filled in so the rest of the system sees a complete config.
 */
import { MODEL_ENCODINGS } from './modelEncoding.ts';
import { DEFAULT_BETA, DEFAULT_K_STDDEVS, MIN_GRID_STDDEV } from '@hushfl/ddp';
import { SecAggError, checkSecAggParamsMeet, chooseSecAggParams } from '@hushfl/secagg';
import { z } from 'zod';

const seconds = (def: number) =>
  z
    .number()
    .positive()
    .max(24 * 3600)
    .default(def);

/** The largest model topology (model.json's modelTopology) a run config may carry. */
export const MAX_TOPOLOGY_CHARS = 256 * 1024;

export const modelSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('mlp'), hidden: z.array(z.number().int().min(1).max(4096)).max(4).default([64]) }),
  z.object({
    kind: z.literal('cnn'),
    filters: z.number().int().min(1).max(64).default(8),
    kernel: z.number().int().min(2).max(7).default(5),
    dense: z.number().int().min(0).max(1024).default(0),
  }),
  /** Token sequences: an embedding of each token, averaged over the sequence, then dense layers (issue 14 §1). */
  z.object({
    kind: z.literal('embedding'),
    dim: z.number().int().min(1).max(512).default(16),
    hidden: z.array(z.number().int().min(1).max(4096)).max(4).default([]),
  }),
  /**
   * A TensorFlow.js layers model (issue 14 §4): the `modelTopology` of a model.json as tensorflowjs_converter
   * writes it from Keras (or tf.LayersModel.toJSON), made of the layers in packages/tasks layerSupport.ts.
   * Checked against the task (input shape, classes) and the supported layers when the run is created.
   */
  z.object({
    kind: z.literal('layers'),
    topology: z
      .record(z.string(), z.unknown())
      .refine((t) => JSON.stringify(t).length <= MAX_TOPOLOGY_CHARS, `must be at most ${MAX_TOPOLOGY_CHARS} characters of JSON`),
  }),
]);
export type ModelSpec = z.infer<typeof modelSpecSchema>;

export const partitionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('iid') }),
  z.object({ kind: z.literal('dirichlet'), alpha: z.number().positive().max(1e6) }),
  /** Each author's examples in one shard (tasks whose data says who wrote what: `hushfl tasks`). */
  z.object({ kind: z.literal('natural') }),
]);
export type PartitionSpec = z.infer<typeof partitionSchema>;

/** A task's name as runs, routes and messages carry it (the registry's names: `hushfl tasks`). */
export const taskNameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be a task name (hushfl tasks)');

export const taskSchema = z.object({
  /** A task of the registry (`hushfl tasks`); the rest of `task` is checked against it when a run is created. */
  name: taskNameSchema.default('mnist'),
  model: modelSpecSchema.default({ kind: 'mlp', hidden: [64] }),
  partition: partitionSchema.default({ kind: 'iid' }),
  /**
   * How the global model travels to the parties each round (issue 18 §1): `float32`, or `float16` at half the
   * bytes, each weight rounded to nearest (relative error ≤ 2^−11; the coordinator keeps float32 and a model
   * float16 cannot hold goes as float32). bench/REPORT.md gives the bytes and the accuracy beside float32's.
   */
  modelEncoding: z.enum(MODEL_ENCODINGS).default('float32'),
  /** How many disjoint shards the training pool is cut into; each contribution trains on one. */
  shards: z.number().int().min(1).max(10_000).default(100),
  /** Held-out examples the coordinator evaluates the global model on: at most this many (a task's test split may hold fewer). */
  testExamples: z.number().int().min(10).max(5_000).default(1_000),
  /** Seed of the (public) data partition. */
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31)
    .default(1),
});

const selectionSchema = z.union([
  z.object({ clientsPerRound: z.number().int().min(2).max(10_000) }).strict(),
  z
    .object({
      sampleRate: z.number().gt(0).max(1),
      /** N, in contributions: a released sum is divided by the expected sample sampleRate·N, not the realized count. */
      population: z.number().int().min(2).max(1_000_000),
      /**
       * The most a round's first Poisson draw may risk being too small (fewer than n_min parties, and never
       * fewer than three): the coordinator waits for more clients until it is below this. Each round adds
       * (1 + e^ε)·p to δ (poissonSelection.ts). Default: δ / (rounds·(1 + e^ε)) at the target ε, so the
       * redraws at most double δ.
       */
      maxShortfall: z.number().gt(0).max(1).optional(),
    })
    .strict(),
]);

/**
 * Adaptive clipping (issue 15 §3; Andrew, Thakkar, McMahan & Ramaswamy, NeurIPS 2021, Algorithm 1): the clip
 * norm starts at `ddg.clip` and follows the `targetQuantile` of the contributions' update norms through a
 * noisy count of those within it, one extra SecAgg coordinate with its own discrete Gaussian noise:
 * C_{t+1} = C_t·exp(−η_C·(b̄_t − γ)). The count's noise is charged with the update's, as one release a round.
 */
export const adaptiveClipSchema = z
  .object({
    /** γ: the quantile of update norms the clip tracks (0.5: the median, the paper's default). */
    targetQuantile: z.number().gt(0).lt(1).default(0.5),
    /** η_C: the geometric step (the paper uses 0.2). */
    learningRate: z.number().positive().max(10).default(0.2),
    /**
     * σ_b: the standard deviation of the count's noise, in contributions. Default m/20 for m expected a round
     * (§3); a run where that count alone would spend over half the target ε is refused (defaultClipCountNoise).
     */
    countNoise: z.number().positive().optional(),
  })
  .strict();
export type AdaptiveClipConfig = z.infer<typeof adaptiveClipSchema>;

export const ddgConfigSchema = z
  .object({
    /** Adaptive clipping from `clip` (absent: the clip stays fixed). */
    adaptiveClip: adaptiveClipSchema.optional(),
    bits: z.number().int().min(1).max(32).default(16),
    clip: z.number().positive().default(1),
    beta: z.number().min(0).lt(1).default(DEFAULT_BETA),
    kStddevs: z.number().positive().max(20).default(DEFAULT_K_STDDEVS),
    delta: z.number().gt(0).lt(1).default(1e-5),
    /** Target ε over all rounds: calibrates γ and σ. */
    epsilon: z.number().positive().optional(),
    /** Or explicit parameters (localStddev >= gamma/2: the DDG bound's precondition). */
    gamma: z.number().positive().optional(),
    localStddev: z.number().positive().optional(),
    /** false: no DP noise (updates are still quantized and securely aggregated). */
    noise: z.boolean().default(true),
  })
  .superRefine((d, ctx) => {
    const explicit = d.gamma !== undefined || d.localStddev !== undefined;
    if (!d.noise) {
      if (d.epsilon !== undefined || explicit)
        ctx.addIssue({ code: 'custom', message: 'with noise: false, give neither epsilon nor gamma/localStddev', path: ['noise'] });
      return;
    }
    if (d.epsilon !== undefined && explicit)
      ctx.addIssue({ code: 'custom', message: 'give either epsilon or gamma and localStddev, not both', path: ['epsilon'] });
    else if (explicit && (d.gamma === undefined || d.localStddev === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'gamma and localStddev go together', path: [d.gamma === undefined ? 'gamma' : 'localStddev'] });
    } else if (!explicit && d.epsilon === undefined) {
      ctx.addIssue({ code: 'custom', message: 'give a target epsilon, or gamma and localStddev, or set noise: false', path: ['epsilon'] });
    } else if (d.gamma !== undefined && d.localStddev !== undefined && !(d.localStddev / d.gamma >= MIN_GRID_STDDEV)) {
      // The DDG privacy bound (Kairouz, Liu & Steinke 2021, Theorem 1) needs σ/γ ≥ 1/2 per client.
      ctx.addIssue({
        code: 'custom',
        message: `must be at least gamma/2 = ${d.gamma / 2} (localStddev/gamma = ${d.localStddev / d.gamma}): the distributed discrete Gaussian bound holds only when each client's noise has a standard deviation of at least half a grid step`,
        path: ['localStddev'],
      });
    }
  });

/**
 * Where clients get training data (issue 14 §2): `demo`, shards of the task's built-in dataset the
 * coordinator serves (a demo: the coordinator knows every client's data), or `local`, data each person
 * picks on their device, which never leaves it (the coordinator serves none).
 */
export const dataSourceSchema = z.enum(['demo', 'local']).default('demo');

/**
 * Federated evaluation (issue 14 §5): each mini-client holds out `fraction` of its local examples (the same
 * ones every round, never trained on), evaluates the global model it receives on them and sends the sums —
 * loss, correct predictions and examples, and the same three of its training — only as extra coordinates of
 * its DDG-encoded, securely aggregated input, with the model's noise: the coordinator learns totals over each
 * round's parties, never one client's value (docs/PRIVACY.md "Federated evaluation"). `fraction: 0` turns it off.
 */
export const evaluationSchema = z
  .object({
    /** Share of each mini-client's examples held out for evaluation (0: no federated evaluation). */
    fraction: z.number().min(0).max(0.5).default(0.1),
    /** N_max: the most examples a mini-client counts in each split (the metrics' sensitivity). */
    maxExamples: z.number().int().min(1).max(1_000_000).default(1000),
    /** L_max: each example's loss (nats) is clipped to this before it is summed. */
    maxLoss: z.number().positive().max(1000).default(10),
    /** ρ: the metric coordinates get norm ρ·clip, the model update √(1 − ρ²)·clip, so the whole input stays within clip. */
    normShare: z.number().gt(0).max(0.9).default(0.25),
  })
  .strict();
export type EvaluationConfig = z.infer<typeof evaluationSchema>;

/** The server optimizers (issue 15 §1; Reddi et al., "Adaptive Federated Optimization", ICLR 2021, Algorithm 2). */
export const SERVER_OPTIMIZERS = ['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad'] as const;
export type ServerOptimizerKind = (typeof SERVER_OPTIMIZERS)[number];

/**
 * The server's step on each round's released mean (post-processing of the DP release: no privacy cost).
 * `optimizer` defaults to fedavgm when `momentum` is set (the key of configs from before FedOpt) and to fedavg
 * otherwise; `momentum` is FedAvgM's β1 and belongs to no other optimizer. The effective parameters are
 * `serverOptimizerOf(config.server)`.
 */
export const serverConfigSchema = z
  .object({
    optimizer: z.enum(SERVER_OPTIMIZERS).optional(),
    /** η, the server learning rate (default 1 for FedAvg(M), 0.01 for the adaptive ones: Reddi et al.'s range). */
    learningRate: z.number().positive().max(100).optional(),
    /** FedAvgM's heavy-ball momentum (its β1). */
    momentum: z.number().min(0).lt(1).default(0),
    /** β1: the first moment's decay (default 0.9; FedAvgM: `momentum`). */
    beta1: z.number().min(0).lt(1).optional(),
    /** β2: the second moment's decay (FedAdam, FedYogi). */
    beta2: z.number().min(0).lt(1).default(0.99),
    /** τ: the adaptivity (FedAdam, FedYogi, FedAdagrad; v starts at τ²). */
    tau: z.number().positive().max(10).default(1e-3),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.momentum > 0 && s.optimizer !== undefined && s.optimizer !== 'fedavgm')
      ctx.addIssue({ code: 'custom', message: `momentum is FedAvgM's; ${s.optimizer} takes beta1 (and beta2, tau)`, path: ['momentum'] });
    if (s.momentum > 0 && s.beta1 !== undefined && s.beta1 !== s.momentum)
      ctx.addIssue({ code: 'custom', message: `momentum ${s.momentum} and beta1 ${s.beta1} are the same parameter of FedAvgM: give one`, path: ['beta1'] });
  })
  // The completed config names its η: 1 for FedAvg(M), 0.01 for the adaptive optimizers (Reddi et al.'s range).
  .transform((s) => ({ ...s, learningRate: s.learningRate ?? defaultServerLearningRate(s.optimizer ?? (s.momentum > 0 ? 'fedavgm' : 'fedavg')) }));

/** η when a config gives none. */
export function defaultServerLearningRate(o: ServerOptimizerKind): number {
  return o === 'fedavg' || o === 'fedavgm' ? 1 : 0.01;
}

export type ServerConfig = z.infer<typeof serverConfigSchema>;
export type ServerConfigInput = z.input<typeof serverConfigSchema>;

/** The effective server optimizer and its parameters. */
export interface ServerOptimizerParams {
  readonly optimizer: ServerOptimizerKind;
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly tau: number;
}

export function serverOptimizerOf(s: ServerConfig): ServerOptimizerParams {
  const optimizer = s.optimizer ?? (s.momentum > 0 ? 'fedavgm' : 'fedavg');
  const beta1 = s.beta1 ?? (optimizer === 'fedavgm' && s.momentum > 0 ? s.momentum : 0.9);
  return { optimizer, learningRate: s.learningRate, beta1, beta2: s.beta2, tau: s.tau };
}

export const runConfigSchema = z
  .object({
    name: z.string().min(1).max(100).default('mnist'),
    task: taskSchema.prefault({}),
    data: dataSourceSchema,
    rounds: z.number().int().min(1).max(100_000),
    /** Either a fixed number of contributions per round, or Poisson sampling of each client at sampleRate. */
    selection: selectionSchema.default({ clientsPerRound: 10 }),
    /**
     * n_min: the fewest parties (connections with their own keys, never the mini-clients one declares) a round
     * may be released with; noise is calibrated to it. Never below 3 in effect (SecAgg needs three).
     */
    minClients: z.number().int().min(1).max(10_000),
    deadlines: z
      .object({
        /** Local training plus AdvertiseKeys. */
        training: seconds(120),
        shareKeys: seconds(20),
        maskedInput: seconds(60),
        consistencyCheck: seconds(20),
        unmasking: seconds(20),
      })
      .prefault({}),
    server: serverConfigSchema.prefault({}),
    training: z
      .object({
        epochs: z.number().int().min(1).max(100).default(1),
        batchSize: z.number().int().min(1).max(4096).default(32),
        learningRate: z.number().positive().max(10).default(0.1),
        /**
         * FedProx's μ (Li et al., MLSys 2020): the local objective gains (μ/2)·‖w − w_global‖² (0: FedAvg's).
         * The term holds no example, so DP-SGD adds its gradient after clipping and noise (docs/PRIVACY.md).
         */
        proximalMu: z.number().min(0).max(100).default(0),
      })
      .prefault({}),
    dpsgd: z
      .object({
        enabled: z.boolean().default(false),
        clip: z.number().positive().default(1),
        noiseMultiplier: z.number().positive().default(1.1),
        sampling: z.enum(['poisson', 'fixed']).default('poisson'),
        delta: z.number().gt(0).lt(1).default(1e-5),
      })
      .prefault({}),
    ddg: ddgConfigSchema,
    evaluation: evaluationSchema.prefault({}),
    secagg: z
      .object({
        neighbours: z.number().int().min(1).optional(),
        threshold: z.number().int().min(1).optional(),
        dropoutRate: z.number().min(0).lt(1).default(0.1),
        corruptRate: z.number().min(0).lt(1).default(0.1),
        /** At most this many clients collude with the coordinator: replaces γ by an absolute bound (small rounds). */
        maxColluders: z.number().int().min(0).optional(),
      })
      .prefault({}),
    /** Most virtual clients one tab may run (mini-clients). */
    maxMiniClients: z.number().int().min(1).max(256).default(16),
    /** Attempts per round before the run fails. */
    maxAttempts: z.number().int().min(1).max(1000).default(10),
    /**
     * Who may join (issue 13 §2). With `enrollment: true` a new client's hello must carry a single-use join
     * code the operator issued (POST /api/invites, the dashboard, `hushfl invite --count N`): for deployments
     * that know their devices. Identities admitted earlier resume without one.
     */
    access: z
      .object({ enrollment: z.boolean().default(false) })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const perRound = 'clientsPerRound' in c.selection ? c.selection.clientsPerRound : Math.round(c.selection.sampleRate * c.selection.population);
    if (c.minClients > perRound)
      ctx.addIssue({ code: 'custom', message: `must not exceed the expected clients per round (${perRound})`, path: ['minClients'] });
    if ((c.secagg.neighbours === undefined) !== (c.secagg.threshold === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'neighbours and threshold go together',
        path: ['secagg', c.secagg.neighbours === undefined ? 'neighbours' : 'threshold'],
      });
    } else if (c.secagg.neighbours !== undefined && c.secagg.threshold !== undefined) {
      // An override weaker than the minimum for the expected clients per round is refused here (issue 12 §4).
      const { neighbours: k, threshold: t } = c.secagg;
      try {
        checkSecAggParamsMeet(perRound, k, t, c.secagg);
      } catch (e) {
        if (!(e instanceof SecAggError)) throw e;
        // The degree is at fault when even t = k would not do.
        let field = 'threshold';
        try {
          checkSecAggParamsMeet(perRound, k, Math.min(k, perRound - 1), c.secagg);
        } catch {
          field = 'neighbours';
        }
        ctx.addIssue({ code: 'custom', message: e.message, path: ['secagg', field] });
      }
    } else if (perRound >= 3 && !((c.secagg.maxColluders ?? 0) < 0)) {
      // (A negative maxColluders is already refused by its own schema.)
      // No (k, t) meets the guarantee for the expected clients per round: refuse now, not at the first round.
      try {
        chooseSecAggParams(perRound, c.secagg);
      } catch (e) {
        if (!(e instanceof SecAggError)) throw e;
        ctx.addIssue({ code: 'custom', message: e.message, path: ['secagg', c.secagg.maxColluders !== undefined ? 'maxColluders' : 'corruptRate'] });
      }
    }
    if (perRound < 3)
      ctx.addIssue({
        code: 'custom',
        message: `expects ${perRound} clients per round: SecAgg needs at least 3 parties (with 2, each learns the other's update from the sum)`,
        path: ['selection'],
      });
  });

export type RunConfig = z.infer<typeof runConfigSchema>;
export type RunConfigInput = z.input<typeof runConfigSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly issues: readonly { path: string; message: string }[]) {
    super(issues.map((i) => `${i.path || '(config)'}: ${i.message}`).join('; '));
  }
}

/** Validates and completes a run configuration; throws ConfigError naming every bad field. */
export function parseRunConfig(input: unknown): RunConfig {
  const r = runConfigSchema.safeParse(input);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
  }
  return r.data;
}
