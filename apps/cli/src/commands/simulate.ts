/**
 * `hushfl simulate`: a coordinator (in-process on a free loopback port, or remote with --url) and N clients
 * as Node worker threads over real Socket.IO, running real rounds. With --dropout p each selected client
 * vanishes with probability p at a uniformly chosen point of the round. Because this process holds every
 * simulated client's data anyway, it — and only it — reports the L1/L2/L∞ error of the decoded mean against
 * the plain mean of the clipped updates.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { io as ioClient } from 'socket.io-client';
import { createCoordinator, type CoordinatorEvent, type RoundSummary } from '@hushfl/coordinator';
import { OPERATOR_NAMESPACE, parseRunConfig, type RunConfigInput } from '@hushfl/protocol';
import { UsageError, atLeastOne, positive, type FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';
import type { CliIO } from '../io.ts';
import type { WorkerInput, WorkerMessage } from '../simulate/clientWorker.ts';

const flags = {
  task: { kind: 'string', help: 'task (mnist)' },
  clients: { kind: 'int', required: true, help: 'simulated clients', range: 'in [2, 1000]', ok: (v: number) => v >= 2 && v <= 1000 },
  rounds: { kind: 'int', required: true, help: 'rounds', range: 'in [1, 10000]', ok: (v: number) => v >= 1 && v <= 10_000 },
  dropout: { kind: 'number', help: 'probability that a selected client vanishes in a round (default 0)', range: 'in [0, 0.9]', ok: (v: number) => v >= 0 && v <= 0.9 },
  bits: { kind: 'int', help: 'bits of the SecAgg ring (default 16)', range: 'in [1, 32]', ok: (v: number) => v >= 1 && v <= 32 },
  epsilon: { kind: 'number', help: 'target ε (DDG noise); omit for no DP noise (still SecAgg)', ...positive },
  'mini-clients': { kind: 'int', help: 'mini-clients per simulated client (default 1)', range: 'in [1, 16]', ok: (v: number) => v >= 1 && v <= 16 },
  workers: { kind: 'int', help: 'worker threads (default: cores, at most clients)', ...atLeastOne },
  url: { kind: 'string', help: 'use this coordinator instead of starting one' },
  token: { kind: 'string', help: 'operator token of --url (to start and watch the run)' },
  data: { kind: 'string', help: 'data directory of the in-process coordinator (default: a temporary one)' },
  json: { kind: 'bool', help: 'print JSON' },
} as const satisfies FlagSpecs;

export interface SimulatedRound {
  round: number;
  accuracy: number | null;
  loss: number | null;
  epsilon: number | null;
  contributors: number;
  attempts: number;
  dropped: Record<string, number>;
  durationsMs: Record<string, number>;
  error: { l1: number; l2: number; linf: number } | null;
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

function progress(io: CliIO, text: string) {
  if (io.isTTY) io.err(`\r\x1b[2K${text}`);
}

export const simulateCommand: Command<typeof flags> = {
  name: 'simulate',
  summary: 'run real rounds with N Node clients (worker threads) over Socket.IO',
  flags,
  async run(f, io) {
    if ((f.task ?? 'mnist') !== 'mnist') throw new UsageError(`--task must be mnist, got '${f.task}'`);
    if (f.url && !f.token) throw new UsageError('--url needs --token: the operator token that lets the simulator start and watch the run');
    const n = f.clients!;
    const mini = f['mini-clients'] ?? 1;
    const dropout = f.dropout ?? 0;
    const contributions = n * mini;
    // n_min: two standard deviations below the expected survivors, at least 2.
    const minClients = dropout > 0 ? Math.max(2, Math.floor(contributions * (1 - dropout) - 2 * Math.sqrt(contributions * dropout * (1 - dropout)))) : contributions;
    const input: RunConfigInput = {
      name: `simulate-${n}x${f.rounds}`,
      rounds: f.rounds!,
      selection: { clientsPerRound: contributions },
      minClients,
      task: { shards: Math.max(contributions, 10) },
      deadlines: { training: 300, shareKeys: 30, maskedInput: 60, consistencyCheck: 30, unmasking: 30, waitForClients: 600 },
      training: { epochs: 2, batchSize: 16, learningRate: 0.1 },
      ddg: f.epsilon !== undefined ? { bits: f.bits ?? 16, epsilon: f.epsilon } : { bits: f.bits ?? 16, noise: false },
      secagg: { dropoutRate: Math.max(0.1, dropout) },
      maxMiniClients: mini,
    };
    const config = parseRunConfig(input);

    const dataDir = f.data ?? mkdtempSync(join(tmpdir(), 'hushfl-simulate-'));
    const coordinator = f.url ? null : await createCoordinator({ port: 0, dataDir, logLevel: (process.env.HUSHFL_LOG_LEVEL as 'warn') ?? 'error', maxMiniClients: mini, runConfig: config });
    const url = f.url ?? coordinator!.url;
    const summaries: RoundSummary[] = [];
    const clipped = new Map<string, Map<string, Float32Array[]>>();
    const errors = new Map<string, { l1: number; l2: number; linf: number }>();
    let finished: (reason: string) => void = () => {};
    const done = new Promise<string>((r) => (finished = r));

    const onEvent = (e: CoordinatorEvent) => {
      if (e.type === 'stage' && e.phase === 'open') progress(io, `round ${e.round + 1}/${config.rounds} (attempt ${e.attempt}) ▸ ${e.stage}`);
      if (e.type === 'round') {
        summaries.push(e);
        const roundId = `${e.runId}/r${e.round}/a${e.attempt}`;
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
        progress(io, `round ${e.round + 1}/${config.rounds} ${e.status}${e.accuracy !== null ? `: accuracy ${(e.accuracy * 100).toFixed(1)} %` : `: ${e.error}`}\n`);
      }
      if (e.type === 'run' && (e.state === 'completed' || e.state === 'failed' || e.state === 'stopped')) finished(`${e.state}: ${e.reason}`);
    };

    let runId: string | null = null;
    let operator: ReturnType<typeof ioClient> | null = null;
    if (coordinator) {
      coordinator.manager.on('event', onEvent);
      runId = coordinator.manager.activeRunId();
    } else {
      operator = ioClient(new URL(OPERATOR_NAMESPACE, url).toString(), { auth: { token: f.token }, transports: ['websocket'] });
      operator.on('round', (e: RoundSummary) => onEvent({ type: 'round', ...e }));
      operator.on('stage', (e: CoordinatorEvent) => onEvent(e));
      operator.on('run', (e: CoordinatorEvent) => onEvent(e));
      const res = await fetch(new URL('/api/runs', url), { method: 'POST', headers: { authorization: `Bearer ${f.token}`, 'content-type': 'application/json' }, body: JSON.stringify(input) });
      const body = (await res.json()) as { runId?: string; error?: string };
      if (!res.ok) throw new Error(`the coordinator refused the run: ${body.error}`);
      runId = body.runId!;
    }

    const workers: Worker[] = [];
    const workerCount = Math.min(n, f.workers ?? Math.max(1, availableParallelism()));
    const metrics: { clientId: string; metrics: unknown }[] = [];
    const ready: Promise<void>[] = [];
    let first = 0;
    for (let w = 0; w < workerCount; w++) {
      const count = Math.floor(((w + 1) * n) / workerCount) - Math.floor((w * n) / workerCount);
      const data: WorkerInput = { url, clients: count, firstIndex: first, miniClients: mini, dropout, insecureTls: url.startsWith('https:') };
      first += count;
      const worker = new Worker(new URL('../simulate/worker.mjs', import.meta.url), { workerData: data });
      workers.push(worker);
      ready.push(
        new Promise((resolve, reject) => {
          worker.on('message', (m: WorkerMessage) => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'error') reject(new Error(m.message));
            else if (m.type === 'clipped') {
              const byClient = clipped.get(m.roundId) ?? clipped.set(m.roundId, new Map()).get(m.roundId)!;
              byClient.set(m.clientId, m.clipped);
            } else if (m.type === 'metrics') metrics.push(...m.metrics);
          });
          worker.on('error', reject);
        }),
      );
    }
    let outcome: string;
    try {
      await Promise.all(ready);
      outcome = await done;
    } finally {
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              w.once('exit', () => resolve());
              w.postMessage({ type: 'stop' });
              setTimeout(() => void w.terminate(), 10_000).unref();
            }),
        ),
      );
      operator?.close();
      await coordinator?.close();
    }
    const metricsFile = coordinator ? coordinator.manager.metricsPath(runId!) : null;
    if (metricsFile) {
      const dir = join(metricsFile, '..', 'clients');
      mkdirSync(dir, { recursive: true });
      for (const m of metrics) writeFileSync(join(dir, `${m.clientId}.json`), JSON.stringify(m.metrics, null, 2) + '\n');
    }
    const completed = summaries.filter((s) => s.status === 'completed');
    const rounds: SimulatedRound[] = completed.map((s) => ({
      round: s.round,
      accuracy: s.accuracy,
      loss: s.loss,
      epsilon: s.epsilon,
      contributors: s.contributors,
      attempts: s.attempt,
      dropped: s.dropped as Record<string, number>,
      durationsMs: s.durationsMs as Record<string, number>,
      error: errors.get(`${s.runId}/r${s.round}/a${s.attempt}`) ?? null,
    }));
    const json = { rounds, aborted: summaries.length - completed.length, outcome, metricsFile };
    const text = [
      `${n} clients × ${mini} mini-client(s), ${rounds.length}/${config.rounds} rounds (${json.aborted} aborted attempts), ${outcome}`,
      ...rounds.map(
        (r) =>
          `round ${r.round + 1}: accuracy ${r.accuracy === null ? '–' : (r.accuracy * 100).toFixed(1) + ' %'}, ε ${r.epsilon === null ? '∞ (no noise)' : r.epsilon.toFixed(3)}, ` +
          `${r.contributors} contributors${Object.keys(r.dropped).length ? `, dropped ${JSON.stringify(r.dropped)}` : ''}${r.error ? `, ‖error‖₂ ${r.error.l2.toExponential(2)}` : ''}`,
      ),
      metricsFile ? `metrics: ${metricsFile}` : '',
    ].join('\n');
    return { json, text, code: rounds.length === config.rounds || outcome.startsWith('completed') ? 0 : 1 };
  },
};
