/** A real coordinator on a free loopback port for browser suites, with a temporary data directory. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCoordinator, type Coordinator, type CoordinatorEvent, type RoundSummary } from '@hushfl/coordinator';
import { parseRunConfig, type RunConfigInput } from '@hushfl/protocol';

export const OPERATOR_TOKEN = 'e2e-operator-token-0123456789abcdef';

export async function startCoordinator(config?: Partial<RunConfigInput> & Pick<RunConfigInput, 'rounds' | 'minClients'>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'hushfl-e2e-'));
  const c: Coordinator = await createCoordinator({
    port: 0,
    dataDir,
    logLevel: 'error',
    operatorToken: OPERATOR_TOKEN,
    ...(config
      ? {
          runConfig: parseRunConfig({
            task: { shards: 200 },
            training: { epochs: 2, batchSize: 16, learningRate: 0.1 },
            deadlines: { training: 120, shareKeys: 20, maskedInput: 30, consistencyCheck: 20, unmasking: 20 },
            ddg: { noise: false, bits: 16 },
            // A few tabs per round: an absolute bound, as γ = 0.1 at 2^-40 needs n >= 15 (issue 12).
            secagg: { maxColluders: 1 },
            ...config,
          }),
        }
      : {}),
  });
  const rounds: RoundSummary[] = [];
  c.manager.on('event', (e: CoordinatorEvent) => {
    if (e.type === 'round') rounds.push(e);
  });
  return { c, rounds, dataDir };
}

/** Records the longest main-thread task (Long Tasks API) from the moment `window.__resetLongest()` is called. */
export const LONG_TASK_PROBE = () => {
  const w = window as unknown as { __longest: number; __resetLongest: () => void };
  w.__longest = 0;
  w.__resetLongest = () => (w.__longest = 0);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) w.__longest = Math.max(w.__longest, e.duration);
  }).observe({ type: 'longtask', buffered: false });
};
