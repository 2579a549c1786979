/**
 * The simulator behind `hushfl simulate` and the round-latency benchmark: a coordinator (in-process on a
 * free loopback port, or remote) and N clients as Node worker threads over real Socket.IO. Clients vanish
 * with probability `dropout` at a uniformly chosen point of a round. Because this process holds every
 * simulated client's data anyway, it — and only it — measures the L1/L2/L∞ error of the decoded mean against
 * the plain mean of the clipped updates.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as ioClient } from 'socket.io-client';
import { createCoordinator, type CoordinatorEvent, type RoundSummary } from '@hushfl/coordinator';
import { ApiError, OperatorClient } from '@hushfl/operator-client';
import { OPERATOR_NAMESPACE, type ModelEncoding, type RunConfigInput, serverOptimizerOf } from '@hushfl/protocol';
import { findTask, parseTaskRunConfig } from '@hushfl/tasks';
import { SECAGG_STAGES, type SecAggStage } from '@hushfl/secagg';
import { startClientPool } from '@hushfl/node-client';
import { roundProgressLine } from './progressBar.ts';
import type { Strategy } from '../strategyFlags.ts';
import { RemoteMean } from './remoteMean.ts';

export interface SimulationOptions {
  /** The registry task (default mnist), trained with its default model. */
  readonly task?: string;
  readonly clients: number;
  readonly rounds: number;
  readonly dropout?: number;
  readonly bits?: number;
  /** Target ε; undefined: no DP noise (updates are still quantized and securely aggregated). */
  readonly epsilon?: number;
  /** secagg.maxColluders: an absolute bound on colluders (needed below 15 clients, where γ = 0.1 at 2^-40 has no parameters). */
  readonly maxColluders?: number;
  readonly miniClients?: number;
  readonly workers?: number;
  /** A running coordinator to use instead of starting one; needs its operator token. */
  readonly url?: string;
  readonly token?: string;
  readonly dataDir?: string;
  /** Server optimizer, FedProx and adaptive clipping (strategyFlags.ts). */
  readonly strategy?: Strategy;
  /** How the model travels down (task.modelEncoding; default float32). */
  readonly modelEncoding?: ModelEncoding;
  /** Extra run-config fields (model, training, deadlines…). */
  readonly overrides?: Partial<RunConfigInput>;
  /** Progress lines (stage changes, finished rounds). */
  readonly onProgress?: (line: string, final: boolean) => void;
}

export interface SimulatedRound {
  round: number;
  accuracy: number | null;
  loss: number | null;
  epsilon: number | null;
  contributors: number;
  attempts: number;
  dropped: Record<string, number>;
  durationsMs: Record<string, number>;
  /** Parties selected, and the bytes the coordinator received from and sent to them this attempt. */
  selected: number;
  bytesUp: number;
  bytesDown: number;
  error: { l1: number; l2: number; linf: number } | null;
}

export interface SimulationResult {
  rounds: SimulatedRound[];
  aborted: number;
  outcome: string;
  metricsFile: string | null;
  /** Wall time of each completed round, first stage opening to release (ms). */
  roundWallMs: number[];
}

/** A client the server counted as dropped at or before MaskedInputCollection: its input is not in the sum. */
function droppedBeforeMaskedInput(stage: SecAggStage | undefined): boolean {
  return stage !== undefined && SECAGG_STAGES.indexOf(stage) <= SECAGG_STAGES.indexOf('masked-input');
}

function errorOf(decoded: Float64Array, plain: Float64Array) {
  let l1 = 0;
  let l2 = 0;
  let linf = 0;
  for (let i = 0; i < decoded.length; i++) {
    const e = Math.abs(decoded[i]! - plain[i]!);
    l1 += e;
    l2 += e * e;
    if (e > linf) linf = e;
  }
  return { l1, l2: Math.sqrt(l2), linf };
}

export async function runSimulation(o: SimulationOptions): Promise<SimulationResult> {
  const n = o.clients;
  const mini = o.miniClients ?? 1;
  const dropout = o.dropout ?? 0;
  const contributions = n * mini;
  // SecAgg needs three parties: with two, each learns the other's input from the sum.
  if (!(n >= 3)) throw new RangeError(`simulate needs at least 3 clients (SecAgg needs three parties), got ${n}`);
  // n_min counts parties (simulated clients), never their mini-clients: two standard deviations below the
  // expected surviving parties, at least 3.
  const task = findTask(o.task ?? 'mnist');
  const minClients = dropout > 0 ? Math.max(3, Math.floor(n * (1 - dropout) - 2 * Math.sqrt(n * dropout * (1 - dropout)))) : n;
  const input: RunConfigInput = {
    name: `simulate-${n}x${o.rounds}`,
    rounds: o.rounds,
    selection: { clientsPerRound: contributions },
    minClients,
    // Shards of about a thousand examples (at least one per contribution): rounds of the same size on every task.
    task: {
      name: task.name,
      model: task.model,
      shards: Math.max(contributions, Math.ceil(task.data.train / 1000)),
      ...(o.modelEncoding ? { modelEncoding: o.modelEncoding } : {}),
    },
    deadlines: { training: 600, shareKeys: 60, maskedInput: 120, consistencyCheck: 60, unmasking: 120 },
    training: { ...task.training, ...(o.strategy?.proximalMu !== undefined ? { proximalMu: o.strategy.proximalMu } : {}) },
    ...(o.strategy?.server ? { server: o.strategy.server } : {}),
    ddg: {
      bits: o.bits ?? 16,
      clip: task.clip,
      ...(o.epsilon !== undefined ? { epsilon: o.epsilon } : { noise: false }),
      ...(o.strategy?.adaptiveClip ? { adaptiveClip: o.strategy.adaptiveClip } : {}),
    },
    secagg: { dropoutRate: Math.max(0.1, dropout), ...(o.maxColluders !== undefined ? { maxColluders: o.maxColluders } : {}) },
    maxMiniClients: mini,
    ...o.overrides,
  };
  const config = parseTaskRunConfig(input);
  const progress = o.onProgress ?? (() => {});

  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'hushfl-simulate-'));
  const coordinator = o.url
    ? null
    : await createCoordinator({
        port: 0,
        dataDir,
        logLevel: (process.env.HUSHFL_LOG_LEVEL as 'warn' | undefined) ?? 'error',
        maxMiniClients: mini,
        runConfig: config,
      });
  const url = o.url ?? coordinator!.url;
  const summaries: RoundSummary[] = [];
  const clipped = new Map<string, Map<string, Float32Array[]>>();
  const errors = new Map<string, { l1: number; l2: number; linf: number }>();
  const roundStarted = new Map<string, number>();
  const wall = new Map<string, number>();
  const lastStage = new Map<string, string>();
  let finished: (reason: string) => void = () => {};
  const done = new Promise<string>((r) => (finished = r));

  const onEvent = (e: CoordinatorEvent) => {
    if (e.type === 'stage' && e.phase === 'open') {
      const key = `${e.runId}/r${e.round}/a${e.attempt}`;
      if (e.stage === 'advertise-keys') roundStarted.set(key, Date.now());
      lastStage.set(key, e.stage);
      progress(roundProgressLine(e.round, config.rounds, e.attempt, e.stage, e.stage), false);
    }
    if (e.type === 'round') {
      summaries.push(e);
      const roundId = `${e.runId}/r${e.round}/a${e.attempt}`;
      wall.set(roundId, Date.now() - (roundStarted.get(roundId) ?? Date.now()));
      const byClient = clipped.get(roundId);
      if (e.mean && e.included && byClient) {
        const plain = new Float64Array(e.mean.length);
        let count = 0;
        for (const id of e.included) {
          for (const u of byClient.get(id) ?? []) {
            for (let i = 0; i < plain.length; i++) plain[i]! += u[i]!;
            count++;
          }
        }
        if (count === e.contributors) {
          for (let i = 0; i < plain.length; i++) plain[i]! /= count;
          errors.set(roundId, errorOf(e.mean, plain));
        }
      }
      clipped.delete(roundId);
      const tail = `${e.status}${e.accuracy !== null ? `: accuracy ${(e.accuracy * 100).toFixed(1)} %` : `: ${e.error}`}`;
      progress(
        roundProgressLine(e.round, config.rounds, e.attempt, e.status === 'completed' ? null : (lastStage.get(roundId) ?? 'advertise-keys'), tail),
        true,
      );
      lastStage.delete(roundId);
    }
    if (e.type === 'run' && (e.state === 'completed' || e.state === 'failed' || e.state === 'stopped')) finished(`${e.state}: ${e.reason}`);
  };

  let runId: string | null = null;
  let operator: ReturnType<typeof ioClient> | null = null;
  if (coordinator) {
    coordinator.manager.on('event', onEvent);
    runId = coordinator.manager.activeRunId();
  } else {
    operator = ioClient(new URL(OPERATOR_NAMESPACE, url).toString(), { auth: { token: o.token }, transports: ['websocket'] });
    const api = new OperatorClient({ base: url, token: o.token ?? '', fetch });
    // The remote coordinator keeps the decoded mean to itself; recover it from the public global models
    // (remoteMean.ts). Events are handled in order, each round after its model was fetched.
    let remote: RemoteMean | null = null;
    const fetchModel = async (): Promise<{ round: number; weights: Float32Array } | null> => {
      try {
        return await api.model(runId!);
      } catch (e) {
        if (e instanceof ApiError) return null; // no model yet
        throw e;
      }
    };
    const startRemote = async () => {
      const run = await api.run(runId!);
      remote = new RemoteMean(serverOptimizerOf(run.config.server));
      if (!remote.recoverable) progress(`the run's ${remote.optimizer.optimizer} models do not give back the decoded mean: no error figures`, true);
      const model = await fetchModel();
      if (model) remote.observe(model.round, model.weights);
    };
    let queue = Promise.resolve();
    const inOrder = (handle: () => Promise<void> | void) => {
      queue = queue.then(handle).catch((err: Error) => progress(`could not follow the remote run: ${err.message}`, true));
    };
    operator.on('round', (e: RoundSummary) =>
      inOrder(async () => {
        const model = remote && e.status === 'completed' ? await fetchModel() : null;
        const mean = model && model.round === e.round ? remote!.observe(model.round, model.weights) : null;
        // Who is in the sum: every client that produced an update, less those dropped by MaskedInputCollection.
        const produced = [...(clipped.get(`${e.runId}/r${e.round}/a${e.attempt}`)?.keys() ?? [])];
        const included = produced.filter((id) => !droppedBeforeMaskedInput(e.droppedClients[id]));
        onEvent({ ...e, type: 'round', ...(mean ? { mean, included } : {}) });
      }),
    );
    operator.on('stage', (e: CoordinatorEvent) => inOrder(() => onEvent(e)));
    operator.on('run', (e: CoordinatorEvent) => inOrder(() => onEvent(e)));
    const status = await api.status().catch((e: unknown) => {
      throw e instanceof ApiError && e.status === 401 ? new Error(`the coordinator refused the operator token: ${e.message}`) : e;
    });
    if (status.runId && ['running', 'waiting', 'paused'].includes(status.state)) {
      // A run is in progress (for example npm start's): join it and watch `rounds` rounds of it.
      runId = status.runId;
      await startRemote();
      progress(`joining run ${runId} in progress at ${url}`, true);
      let completedHere = 0;
      operator.on('round', (e: RoundSummary) =>
        inOrder(() => {
          if (e.status === 'completed' && ++completedHere >= o.rounds) finished(`completed: ${completedHere} rounds of run ${runId} watched`);
        }),
      );
    } else {
      const created = await api.createRun(input).catch((e: unknown) => {
        throw e instanceof ApiError ? new Error(`the coordinator refused the run: ${e.message}`) : e;
      });
      runId = created.runId;
      await startRemote();
    }
  }

  const metrics: { clientId: string; metrics: unknown }[] = [];
  const pool = startClientPool({ url, clients: n, miniClients: mini, dropout, workers: o.workers, insecureTls: url.startsWith('https:') }, (m) => {
    if (m.type === 'clipped') {
      const byClient = clipped.get(m.roundId) ?? clipped.set(m.roundId, new Map()).get(m.roundId)!;
      byClient.set(m.clientId, m.clipped);
    } else if (m.type === 'metrics') metrics.push(...m.metrics);
  });
  let outcome: string;
  try {
    await pool.ready;
    outcome = await done;
  } finally {
    await pool.stop();
    operator?.close();
    await coordinator?.close();
  }
  const metricsFile = coordinator ? coordinator.manager.metricsPath(runId!) : null;
  if (metricsFile) {
    const dir = join(metricsFile, '..', 'clients');
    mkdirSync(dir, { recursive: true });
    for (const m of metrics) writeFileSync(join(dir, `${m.clientId}.json`), `${JSON.stringify(m.metrics, null, 2)}\n`);
  }
  const completed = summaries.filter((s) => s.status === 'completed');
  return {
    rounds: completed.map((s) => ({
      round: s.round,
      accuracy: s.accuracy,
      loss: s.loss,
      epsilon: s.epsilon,
      contributors: s.contributors,
      attempts: s.attempt,
      dropped: s.dropped as Record<string, number>,
      durationsMs: s.durationsMs as Record<string, number>,
      selected: s.selected,
      bytesUp: s.bytesUp,
      bytesDown: s.bytesDown,
      error: errors.get(`${s.runId}/r${s.round}/a${s.attempt}`) ?? null,
    })),
    aborted: summaries.length - completed.length,
    outcome,
    metricsFile,
    roundWallMs: completed.map((s) => wall.get(`${s.runId}/r${s.round}/a${s.attempt}`) ?? 0),
  };
}
