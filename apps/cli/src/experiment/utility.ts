/**
 * The utility experiment: does DDG cost accuracy? With the same client sampling, local training, clipping
 * and rounds, it trains MNIST federatedly under
 * - no DP (FedAvg of the clipped updates),
 * - central DP: the server adds N(0, z²c²) to the clipped sum, z from the sampled Gaussian accountant,
 * - DDG at each bit width, through the RunEngine (packages/engine) with the real client runtimes in memory
 *   (no sockets), calibrated with the DDG accountant,
 * all to the same (ε, δ). As in Kairouz et al. (2021) and TensorFlow Federated, n clients are drawn uniformly
 * per round from a population N and accounted with sampling rate q = n/N. Selection, clipping and FedAvg are the
 * engine's own functions for every mechanism (one seed, one selection stream: the same clients each round).
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import {
  accountDdg,
  accountDpsgd,
  calibrateDdg,
  chachaRandomWords,
  clipFactor,
  cryptoRandomWords,
  DdpParameterError,
  l2Norm,
  type RandomWords,
} from '@hushfl/ddp';
import { ClientRuntime, GaussianNoise, LocalTrainer, runtimeClient } from '@hushfl/client';
import {
  defaultMaxShortfall,
  type FedOptState,
  fedOptStep,
  NO_FEDOPT_STATE,
  type Party,
  planDdg,
  poissonShortfallProbability,
  RunEngine,
  runInMemory,
  selectParties,
  VirtualClock,
} from '@hushfl/engine';
import { initNodeTf, loadTaskData } from '@hushfl/node';
import { type ModelSpec, type PartitionSpec, parseRunConfig, serverConfigSchema, type ServerConfigInput, serverOptimizerOf } from '@hushfl/protocol';
import { CellClaims } from './cellClaims.ts';
import { centralNoiseMultiplier } from './noiseGap.ts';
import { WrapCounter } from './wrapCounter.ts';
import { buildModel, decodeShard, DemoTask, evaluate, findTask, getFlatWeights, setFlatWeights, taskShape } from '@hushfl/tasks';

/** The grid's mechanisms, in the order their rows are run and reported. */
export const MECHANISMS = ['none', 'central', 'ddg'] as const;
export type Mechanism = (typeof MECHANISMS)[number];

export interface UtilityOptions {
  /** The registry task (default mnist). */
  readonly task?: string;
  readonly clientsPerRound: number;
  readonly population: number;
  readonly rounds: number;
  readonly epsilons: readonly number[];
  readonly bits: readonly number[];
  readonly seeds: number;
  readonly delta?: number;
  readonly clip?: number;
  /** The server's strategy (issue 15 §4), the same for every mechanism: it is post-processing (default FedAvg, η = 1). */
  readonly server?: ServerConfigInput;
  /** FedProx's μ for every mechanism's local training (default 0). */
  readonly proximalMu?: number;
  /**
   * Poisson selection (issue 16 §1): each client of the population joins a round with probability q, for
   * every mechanism alike (the same draws under a seed), and the mean divides by q·N; `clientsPerRound` is then
   * the expected q·N. Absent: n of N uniformly without replacement, accounted with q = n/N (Kairouz et al.).
   */
  readonly sampleRate?: number;
  /** n_min under Poisson selection: DDG's noise is sized for it (default: the most the shortfall rule allows). */
  readonly minClients?: number;
  /** How the population's data is split (default IID; issue 16 §1 also runs Dirichlet α = 0.5). */
  readonly partition?: PartitionSpec;
  /** The model (default: the task's grid model; issue 16 §1 runs a CNN). */
  readonly model?: ModelSpec;
  /** Local training (default: the grid's MNIST settings, or the task's registry defaults), field by field. */
  readonly training?: Partial<{ epochs: number; batchSize: number; learningRate: number }>;
  /**
   * A file of finished cells (JSON lines): cells of the same settings found there are not run again, and
   * each cell is appended as it finishes, so an interrupted grid resumes where it stopped.
   */
  readonly cellsFile?: string;
  /** Run no cell: report the finished ones of cellsFile (a grid in progress); settings with none are left out. */
  readonly reportOnly?: boolean;
  /** Which mechanisms' cells to run (default all three): tuning the baseline runs `none` or `central` alone. */
  readonly mechanisms?: readonly Mechanism[];
  /** Test examples the final model is scored on (default the task's whole test split: 10 000 for MNIST). */
  readonly testExamples?: number;
  /**
   * One of several processes sharing a grid's cells file (both cores): this one runs the missing cells at
   * positions index, index + count, … of the grid's seed-major order, then any other cell no live worker has
   * claimed, from the end (default the only worker).
   */
  readonly worker?: { readonly index: number; readonly count: number };
  readonly onProgress?: (line: string) => void;
}

/** One (mechanism, bits, ε, seed) run of the grid, as the cells file keeps it. */
export interface UtilityCell {
  /** The settings every cell of one grid shares (cellsFile entries of other settings are ignored). */
  readonly settings: string;
  readonly mechanism: Mechanism;
  readonly bits: number | null;
  readonly epsilon: number | null;
  readonly seed: number;
  readonly accuracy: number;
  /** ε against the coordinator, which knows the sample: the same noise accounted without amplification (q = 1). */
  readonly epsilonVsCoordinator: number | null;
  /** DDG: coordinates of the aggregate that wrapped around 2^B, per round (null for the other mechanisms). */
  readonly wrapsPerRound: readonly number[] | null;
  readonly noise: Record<string, number> | null;
  readonly seconds: number;
}

export interface UtilityResult {
  task: string;
  partition: string;
  mechanism: Mechanism;
  bits: number | null;
  epsilon: number | null;
  delta: number;
  accuracy: number;
  /** Standard deviation over seeds (`accuracyStd` is the same figure, kept for older readers). */
  std: number;
  accuracyStd: number;
  seeds: number;
  /** ε against the coordinator (no amplification); null without noise. */
  epsilonVsCoordinator: number | null;
  /** DDG: mean wrapped coordinates per round over the seeds (null for the other mechanisms). */
  wrapsPerRound: number | null;
  /** The noise in force: z (central) or σ/γ on the grid and γ (DDG). */
  noise: Record<string, number> | null;
}

/** MNIST's model in the grid (logistic regression: the utility figures' baseline); other tasks train their default. */
const MNIST_SPEC: ModelSpec = { kind: 'mlp', hidden: [] };
/** MNIST's local training in the grid (the figures' settings); other tasks train with their registry defaults. */
const MNIST_TRAINING = { epochs: 5, batchSize: 5, learningRate: 0.1 };
const SERVER_LR = 1;

function seeded(seed: number, tag: number): RandomWords {
  const s = new Uint8Array(32);
  new DataView(s.buffer).setUint32(0, seed, true);
  s[4] = tag;
  return chachaRandomWords(s);
}

/** The population in a fixed order, each client one contribution; `selectFixed` shuffles what it is given. */
function population(n: number): Party[] {
  return Array.from({ length: n }, (_, i) => ({ clientId: `c${i}`, contributions: 1 }));
}

interface Setting {
  mechanism: Mechanism;
  bits: number | null;
  epsilon: number | null;
}

export async function runUtilityExperiment(
  o: UtilityOptions,
): Promise<{ results: UtilityResult[]; config: Record<string, unknown> & { cellMinutes: number } }> {
  const backend = await initNodeTf();
  const delta = o.delta ?? 1e-5;
  const poisson = o.sampleRate !== undefined;
  const q = o.sampleRate ?? o.clientsPerRound / o.population;
  const n = poisson ? Math.round(q * o.population) : o.clientsPerRound;
  // Under Poisson selection: n_min, the parties DDG's noise is sized for, is the most a first draw stays above
  // with the engine's default limit (δ/T: the experiment's runs have explicit noise, hence no target ε), so the
  // engine never waits; every mechanism divides by the expected q·N.
  const minClients = poisson ? (o.minClients ?? poissonMinClients(o.population, q, delta, o.rounds)) : n;
  const divisor = poisson ? q * o.population : n;
  const selectionConfig = parseRunConfig({
    rounds: o.rounds,
    minClients,
    selection: poisson ? { sampleRate: q, population: o.population } : { clientsPerRound: n },
    ddg: { noise: false },
    secagg: { maxColluders: 1 },
  });
  const taskName = o.task ?? 'mnist';
  const description = findTask(taskName);
  const SPEC = o.model ?? (taskName === 'mnist' ? MNIST_SPEC : description.model);
  const TRAINING = { ...(taskName === 'mnist' ? MNIST_TRAINING : description.training), ...o.training, proximalMu: o.proximalMu ?? 0 };
  const clip = o.clip ?? description.clip;
  const partition = o.partition ?? { kind: 'iid' as const };
  const testExamples = o.testExamples ?? description.data.test;
  const partitionName = partition.kind === 'dirichlet' ? `dirichlet α=${partition.alpha}` : partition.kind;
  const task = new DemoTask(
    description,
    { name: taskName, model: SPEC, modelEncoding: 'float32', partition, shards: o.population, testExamples, seed: 1 },
    loadTaskData(taskName),
  );
  const shards = Array.from({ length: o.population }, (_, i) => decodeShard(task.shardBytes(i)));
  const parties = population(o.population);
  const shardOf = new Map(parties.map((p, i) => [p.clientId, i]));
  const model = buildModel(SPEC, taskShape(description));
  // The baselines train every shard on one model (mini-client i is shard i): the same training, built once.
  const baselineTrainer = new LocalTrainer(shards, backend);
  const dim = (await getFlatWeights(model)).length;
  const server = serverConfigSchema.parse(o.server ?? { learningRate: SERVER_LR });
  const serverStep = serverOptimizerOf(server);
  const settingsKey = JSON.stringify({
    v: 3,
    taskName,
    testExamples,
    SPEC,
    partition,
    population: o.population,
    n,
    q,
    poisson,
    minClients,
    rounds: o.rounds,
    clip,
    delta,
    TRAINING,
    serverStep,
  });
  const mechanisms = new Set<Mechanism>(o.mechanisms ?? MECHANISMS);
  const settings: Setting[] = [
    { mechanism: 'none' as const, bits: null, epsilon: null },
    ...o.epsilons.map((epsilon) => ({ mechanism: 'central' as const, bits: null, epsilon })),
    ...o.epsilons.flatMap((epsilon) => o.bits.map((bits) => ({ mechanism: 'ddg' as const, bits, epsilon }))),
  ].filter((s) => mechanisms.has(s.mechanism));
  const cellKey = (c: { mechanism: Mechanism; bits: number | null; epsilon: number | null; seed: number }) => `${c.mechanism}/${c.bits}/${c.epsilon}/${c.seed}`;
  const done = new Map<string, UtilityCell>();
  for (const cell of o.cellsFile ? readCells(o.cellsFile) : []) if (cell.settings === settingsKey) done.set(cellKey(cell), cell);
  // Seed-major: a grid in progress holds every row at one seed before any at two.
  const plan = Array.from({ length: o.seeds }, (_, i) => settings.map((s) => ({ ...s, seed: i + 1 }))).flat();
  const worker = o.worker ?? { index: 0, count: 1 };
  const missing = (c: (typeof plan)[number]) => !done.has(cellKey(c));
  // Its own share first, then the other workers' cells from the far end (theirs run from the near end), each
  // claimed while it runs: uneven shares end together, and no cell runs twice.
  const own = plan.filter((c, i) => i % worker.count === worker.index && missing(c));
  const claims = o.cellsFile && worker.count > 1 ? new CellClaims(o.cellsFile) : null;
  // Without a shared cells file there is nothing to claim on: its share only.
  const others = claims ? plan.filter((c, i) => i % worker.count !== worker.index && missing(c)).reverse() : [];
  const refreshDone = () => {
    if (o.cellsFile) for (const cell of readCells(o.cellsFile)) if (cell.settings === settingsKey) done.set(cellKey(cell), cell);
  };
  let finished = plan.length - plan.filter((c) => !done.has(cellKey(c))).length;
  let ran = 0;
  let spentSeconds = 0;
  try {
    for (const c of o.reportOnly ? [] : [...own, ...others]) {
      if (claims) {
        refreshDone(); // cells the other workers finished meanwhile
        if (!missing(c) || !claims.claim(cellKey(c))) continue;
        refreshDone(); // its holder may have finished it between the read and the claim
        if (!missing(c)) {
          claims.release(cellKey(c));
          continue;
        }
      }
      const started = performance.now();
      let cell: UtilityCell;
      try {
        cell = await runCell(c, c.seed);
      } catch (e) {
        claims?.release(cellKey(c));
        // A bit width too narrow for this ε (calibrateDdg refuses it): no cell to run, the rest of the grid goes on.
        if (!(e instanceof DdpParameterError && e.param === 'bits')) throw e;
        o.onProgress?.(`[${finished}/${plan.length}] ${c.mechanism} ${c.bits} bits ε=${c.epsilon} seed ${c.seed}: not run, ${e.message}`);
        continue;
      }
      done.set(cellKey(c), cell);
      if (o.cellsFile) appendFileSync(o.cellsFile, `${JSON.stringify(cell)}\n`);
      claims?.release(cellKey(c));
      refreshDone();
      finished = plan.filter((x) => !missing(x)).length;
      ran++;
      spentSeconds += cell.seconds;
      // This process's share so far, averaged: kept cells cost nothing, other workers' are theirs to count.
      const eta = (spentSeconds / ran) * own.filter(missing).length;
      o.onProgress?.(
        `[${finished}/${plan.length}${worker.count > 1 ? `, worker ${worker.index + 1}/${worker.count}` : ''}] ${c.mechanism}${c.bits ? ` ${c.bits} bits` : ''}${c.epsilon ? ` ε=${c.epsilon}` : ''} seed ${c.seed}: accuracy ${(cell.accuracy * 100).toFixed(1)} %` +
          `${cell.wrapsPerRound ? `, ${mean(cell.wrapsPerRound).toFixed(1)} wraps/round` : ''} (${((performance.now() - started) / 1000).toFixed(1)} s; about ${(eta / 60).toFixed(0)} min left of its share)`,
      );
    }
  } finally {
    claims?.releaseAll();
  }
  // Cells other workers on the same file finished meanwhile.
  if (worker.count > 1) refreshDone();
  const results: UtilityResult[] = [];
  /** Minutes the reported cells took to run (whenever they ran). */
  let cellMinutes = 0;
  for (const s of settings) {
    const cells: UtilityCell[] = [];
    for (let seed = 1; seed <= o.seeds; seed++) {
      const kept = done.get(cellKey({ ...s, seed }));
      if (kept) cells.push(kept);
    }
    if (!cells.length) continue;
    cellMinutes += cells.reduce((t, c) => t + c.seconds, 0) / 60;
    const accuracies = cells.map((c) => c.accuracy);
    const m = mean(accuracies);
    const std = Math.sqrt(accuracies.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, accuracies.length - 1));
    const wraps = cells.every((c) => c.wrapsPerRound) ? mean(cells.map((c) => mean(c.wrapsPerRound!))) : null;
    results.push({
      task: taskName,
      partition: partitionName,
      mechanism: s.mechanism,
      bits: s.bits,
      epsilon: s.epsilon,
      delta,
      accuracy: m,
      std,
      accuracyStd: std,
      seeds: cells.length,
      epsilonVsCoordinator: cells[0]!.epsilonVsCoordinator,
      wrapsPerRound: wraps,
      noise: cells[0]!.noise,
    });
  }
  model.dispose();
  baselineTrainer.dispose();
  return {
    results,
    config: {
      task: taskName,
      partition: partitionName,
      model: SPEC,
      dim,
      cellMinutes,
      clientsPerRound: n,
      population: o.population,
      sampleRate: q,
      minClients,
      rounds: o.rounds,
      clip,
      delta,
      training: TRAINING,
      server: serverStep,
      kStddevs: 4,
      beta: Math.exp(-0.5),
      backend,
      testExamples,
      sampling: poisson
        ? `Poisson selection at q = ${q} (about ${n} a round; the same draws for every mechanism), the mean over q·N; DDG's noise sized for n_min = ${minClients}`
        : 'n clients uniformly without replacement per round, accounted with q = n/N (as Kairouz et al. 2021)',
      epsilonVsCoordinator: 'the same noise accounted without amplification (q = 1): the coordinator knows the sample',
    },
  };

  /** One round's parties as the engine draws them (selectParties, the same words): the baselines see the DDG run's samples. */
  function draw(random: RandomWords): Party[] {
    let shortfall: number | null = null;
    for (;;) {
      const sel = selectParties({ config: selectionConfig, delta, epsilonBudget: null, free: parties.slice(), roundShortfall: shortfall, random });
      if (sel.kind === 'selected') return sel.parties;
      if (sel.limit !== undefined) throw new Error(`Poisson selection would wait: a draw falls short of n_min = ${minClients} too often`);
      shortfall = sel.shortfall; // too small a draw: redrawn, as the engine does
    }
  }

  async function runCell(s: Setting, seed: number): Promise<UtilityCell> {
    const started = performance.now();
    const selection = seeded(seed, 1);
    // Every mechanism starts from the same weights under a seed.
    const init = seeded(seed, 2);
    let weights: Float32Array = Float32Array.from({ length: dim }, () => ((init.next() % 2001) - 1000) / 40_000);
    let noise: UtilityCell['noise'] = null;
    let epsilonVsCoordinator: number | null = null;
    let wrapsPerRound: number[] | null = null;
    if (s.mechanism === 'ddg') {
      const cal = calibrateDdg({ epsilon: s.epsilon!, delta, clients: n, minClients, sampleRate: q, rounds: o.rounds, dim, clip, bits: s.bits! });
      noise = { gamma: cal.gamma, localStddev: cal.localStddev, gridStddev: cal.gridStddev };
      epsilonVsCoordinator = accountDdg({
        clip,
        gamma: cal.gamma,
        beta: cal.beta,
        dimPadded: cal.dimPadded,
        clients: minClients,
        localStddev: cal.localStddev,
        sampleRate: 1,
        rounds: o.rounds,
        delta,
      }).epsilon;
      // The whole DDG run goes through the RunEngine — its selection (with the same words as the baselines'),
      // SecAgg+, decoding and the server step — with the real client runtimes in memory.
      const config = parseRunConfig({
        name: `utility-${seed}`,
        rounds: o.rounds,
        selection: selectionConfig.selection,
        minClients,
        task: { name: taskName, model: SPEC, shards: o.population },
        training: TRAINING,
        server,
        ddg: { bits: s.bits!, clip, gamma: cal.gamma, localStddev: cal.localStddev, beta: Math.exp(-0.5), delta },
        // Like the baselines: every example trains, and the DDG dimension is the model's (no metric coordinates).
        evaluation: { fraction: 0 },
        // No dropouts here, so the collusion bound changes no number; an absolute bound lets the small quick runs (10 per round) run.
        secagg: { dropoutRate: 0.1, corruptRate: 0.1, maxColluders: 1 },
      });
      const clock = new VirtualClock();
      const run = { id: `utility-${seed}`, name: config.name, createdAt: 0, dim };
      const engine = new RunEngine(
        { run, config, plan: planDdg(config, dim), weights, optimizerState: NO_FEDOPT_STATE, completedRound: -1 },
        { now: clock.now, random: selection, seeds: cryptoRandomWords() },
      );
      // The plain sum of the parties' encoded inputs (each small enough to centre), to count the coordinates of
      // the aggregate that left [−2^(B−1), 2^(B−1)): the modular wraps.
      const wraps = new WrapCounter(s.bits!);
      const clients = parties.map((p, i) => ({
        clientId: p.clientId,
        miniClients: 1,
        make: runtimeClient(
          (host) => new ClientRuntime(new LocalTrainer([shards[i]!], backend), { ...host, onEncodedInput: (roundId, input) => wraps.add(roundId, input) }),
          (runtime) => runtime.dispose(),
        ),
      }));
      const result = await runInMemory({ engine, clock, clients });
      const aborted = engine.rounds.find((r) => r.status === 'aborted');
      if (result.state !== 'completed' || aborted) throw new Error(`the DDG run did not complete every round: ${aborted?.error ?? result.reason}`);
      weights = engine.weights;
      wrapsPerRound = wraps.perRound();
    } else {
      let z = 0;
      if (s.mechanism === 'central') {
        z = centralNoiseMultiplier(s.epsilon!, delta, q, o.rounds);
        noise = { noiseMultiplier: z };
        epsilonVsCoordinator = accountDpsgd({ sampleRate: 1, noiseMultiplier: z, steps: o.rounds, delta }).epsilon;
      }
      const gauss = new GaussianNoise();
      let state: FedOptState = NO_FEDOPT_STATE;
      for (let round = 0; round < o.rounds; round++) {
        // A fresh copy in the population's order each round, as the engine builds its idle list.
        const chosen = draw(selection);
        const mean = new Float64Array(dim);
        for (const c of chosen) {
          const { delta: update } = await baselineTrainer.train({
            spec: SPEC,
            task: taskName,
            global: weights,
            training: TRAINING,
            dpsgd: null,
            miniClient: shardOf.get(c.clientId)!,
          });
          const scale = clipFactor(l2Norm(update), clip);
          for (let i = 0; i < dim; i++) mean[i]! += update[i]! * scale;
        }
        if (s.mechanism === 'central') for (let i = 0; i < dim; i++) mean[i]! += z * clip * gauss.next();
        for (let i = 0; i < dim; i++) mean[i]! /= divisor;
        ({ weights, state } = fedOptStep(weights, mean, state, serverStep));
      }
    }
    setFlatWeights(model, weights);
    const { accuracy } = await evaluate(model, task.test);
    return {
      settings: settingsKey,
      mechanism: s.mechanism,
      bits: s.bits,
      epsilon: s.epsilon,
      seed,
      accuracy,
      epsilonVsCoordinator,
      wrapsPerRound,
      noise,
      seconds: (performance.now() - started) / 1000,
    };
  }
}

/** The largest n_min whose Poisson first draw falls short with probability at most the engine's default limit. */
function poissonMinClients(population: number, q: number, delta: number, rounds: number): number {
  const limit = defaultMaxShortfall(delta, rounds, null);
  let nMin = Math.round(q * population);
  while (nMin > 3 && poissonShortfallProbability(population, q, nMin) > limit) nMin--;
  if (poissonShortfallProbability(population, q, nMin) > limit)
    throw new RangeError(
      `Poisson selection at q = ${q} from ${population} clients falls short of 3 parties too often (more than ${limit.toExponential(1)} a round): a larger population or q`,
    );
  return nMin;
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

/** The cells a grid has finished (JSON lines; a torn last line from an interrupted write is skipped). */
function readCells(file: string): UtilityCell[] {
  if (!existsSync(file)) return [];
  const out: UtilityCell[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as UtilityCell);
    } catch {
      // an interrupted append
    }
  }
  return out;
}
