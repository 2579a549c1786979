/** Test support (not exported): a coordinator on a free loopback port with a temporary data directory. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNodeClient, type NodeClient, type NodeClientOptions } from '@hushfl/node';
import { parseRunConfig, type RunConfigInput } from '@hushfl/protocol';
import { createCoordinator, type Coordinator } from './app.ts';
import type { CoordinatorEvent, RoundSummary } from './runManager.ts';

export const fastDeadlines = { training: 60, shareKeys: 10, maskedInput: 10, consistencyCheck: 10, unmasking: 10 };

export function testConfig(overrides: Partial<RunConfigInput> & Pick<RunConfigInput, 'rounds' | 'minClients'>): RunConfigInput {
  return {
    task: { shards: 40 },
    deadlines: fastDeadlines,
    training: { epochs: 2, batchSize: 16, learningRate: 0.1 },
    ddg: { noise: false, bits: 16 },
    // Test rounds have a few parties: an absolute bound, as γ = 0.1 at 2^-40 needs n >= 15 (issue 12).
    secagg: { maxColluders: 1 },
    ...overrides,
  };
}

export async function startTestCoordinator(config?: RunConfigInput, dataDir = mkdtempSync(join(tmpdir(), 'hushfl-test-'))) {
  const c = await createCoordinator({
    port: 0,
    dataDir,
    logLevel: (process.env.HUSHFL_TEST_LOG as 'warn' | undefined) ?? 'silent',
    operatorToken: 'test-operator-token-0123456789',
    ...(config ? { runConfig: parseRunConfig(config) } : {}),
  });
  const rounds: RoundSummary[] = [];
  const events: CoordinatorEvent[] = [];
  c.manager.on('event', (e: CoordinatorEvent) => {
    events.push(e);
    if (e.type === 'round') rounds.push(e);
  });
  return { c, rounds, events, dataDir };
}

export async function startClients(url: string, n: number, opts: (i: number) => Partial<NodeClientOptions> = () => ({})): Promise<NodeClient[]> {
  const clients: NodeClient[] = [];
  for (let i = 0; i < n; i++) clients.push(await connectNodeClient({ url, name: `t${i}`, ...opts(i) }));
  return clients;
}

export async function stopAll(c: Coordinator, clients: NodeClient[]): Promise<void> {
  for (const cl of clients) await cl.close();
  await c.close();
}
