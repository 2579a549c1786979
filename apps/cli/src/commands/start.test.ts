/**
 * `hushfl start` as a real process: kill it with SIGKILL in the middle of a round, start it again, and the
 * run resumes from the last completed round — the interrupted round aborted cleanly and re-run.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase, type LocalServer, startPostgres } from '@hushfl/coordinator';
import { api, clients, start } from '../startProcess.testing.ts';

const bin = fileURLToPath(new URL('../../bin/hushfl.mjs', import.meta.url));

// The same restart on each store: the embedded SQLite file, and Postgres (a real server started here) as a
// cluster's nodes share it (issue 17 §1) — what a node taking over a run reads back.
let postgres: LocalServer | null = null;
afterAll(async () => {
  await postgres?.stop();
});

describe.each(['sqlite', 'postgres'])('hushfl start on %s: kill mid-round and resume', (store) => {
  it('resumes from the last completed round and re-runs the interrupted one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hushfl-restart-'));
    let storeArgs: string[] = [];
    if (store === 'postgres') {
      postgres ??= await startPostgres();
      storeArgs = ['--store', await createDatabase(postgres, 'restart')];
    }
    const config = join(dir, 'run.json');
    writeFileSync(
      config,
      JSON.stringify({
        rounds: 4,
        minClients: 6,
        selection: { clientsPerRound: 6 },
        task: { shards: 200 },
        training: { epochs: 2, batchSize: 16, learningRate: 0.1 },
        deadlines: { training: 60, shareKeys: 10, maskedInput: 10, consistencyCheck: 10, unmasking: 10 },
        ddg: { bits: 16, gamma: 2e-4, localStddev: 0.004, delta: 1e-5 },
        secagg: { maxColluders: 1 }, // 6 per round: too few for γ = 0.1 at 2^-40
      }),
    );
    const args = ['--config', config, '--data', join(dir, 'data'), ...storeArgs];
    const first = await start(args);
    expect(first.run).toMatch(/^run-/);
    const runId = first.run!;
    const firstClients = await clients(first.url, 6);
    // Wait until round 1 is in progress, then kill the coordinator outright.
    for (;;) {
      const rounds = await api<{ round: number; state: string }[]>(first.url, `/api/runs/${runId}/rounds`);
      if (rounds.some((r) => r.round >= 1 && r.state === 'running')) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    for (const c of firstClients) await c.close();

    const second = await start(args);
    expect(second.run).toBe(runId);
    const secondClients = await clients(second.url, 6);
    for (;;) {
      const run = await api<{ state: string }>(second.url, `/api/runs/${runId}`);
      if (run.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const run = await api<{ state: string; completed_round: number }>(second.url, `/api/runs/${runId}`);
    const rounds = await api<
      { round: number; attempt: number; state: string; error: string | null; epsilon: number | null; epsilon_coordinator: number | null }[]
    >(second.url, `/api/runs/${runId}/rounds`);
    for (const c of secondClients) await c.close();
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));

    expect(run).toMatchObject({ state: 'completed', completed_round: 3 });
    const interrupted = rounds.find((r) => r.state === 'aborted');
    expect(interrupted).toMatchObject({ attempt: 1, error: expect.stringMatching(/coordinator restarted during the round/) });
    expect(rounds.find((r) => r.round === interrupted!.round && r.state === 'completed')!.attempt).toBeGreaterThan(1);
    for (let r = 0; r < 4; r++) expect(rounds.filter((x) => x.round === r && x.state === 'completed')).toHaveLength(1);
    const metrics = JSON.parse(readFileSync(join(dir, 'data', 'runs', runId, 'server_metrics.json'), 'utf8'));
    expect(metrics.rounds.filter((r: { status: string }) => r.status === 'completed')).toHaveLength(4);
    // Both privacy ledgers carried over the restart: ε grows every released round, and without Poisson
    // sampling the coordinator's ε is the same figure.
    const released = [0, 1, 2, 3].map((r) => rounds.find((x) => x.round === r && x.state === 'completed')!);
    for (let r = 1; r < 4; r++) expect(released[r]!.epsilon!).toBeGreaterThan(released[r - 1]!.epsilon!);
    for (const r of released) expect(r.epsilon_coordinator).toBeCloseTo(r.epsilon!, 9);
  });
});

describe('hushfl start: what it prints', () => {
  it('prints a simulate command that works as printed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hushfl-start-text-'));
    const child = spawn(process.execPath, [bin, 'start', '--port', '0', '--data', dir, '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const text = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          if (/simulate Node clients .*\n/.test(out)) resolve(out);
        });
        child.once('exit', (code) => reject(new Error(`hushfl start exited with ${code}`)));
      });
      expect(text).toMatch(/operator dashboard +http:\/\/127\.0\.0\.1:\d+\/dashboard/);
      const printed = /simulate Node clients +npm run hushfl -- (simulate .*)\n/.exec(text)![1]!;
      const args = printed.replace('--clients 10 --rounds 5', '--clients 3 --rounds 1 --workers 1 --json').split(' ');
      const sim = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      sim.stdout!.on('data', (d) => (out += d));
      sim.stderr!.on('data', (d) => (err += d));
      const code = await new Promise<number | null>((resolve) => sim.once('exit', resolve));
      expect(code, err).toBe(0);
      expect(JSON.parse(out).rounds).toHaveLength(1);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});

describe('hushfl start --demo-devices', () => {
  it('starts simulated devices beside the coordinator: they alone complete a run, and operators see them counted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hushfl-demo-'));
    const config = join(dir, 'run.json');
    writeFileSync(
      config,
      JSON.stringify({
        rounds: 2,
        minClients: 3,
        selection: { sampleRate: 0.8, population: 6, maxShortfall: 0.5 },
        task: { shards: 6 },
        training: { epochs: 1, batchSize: 32, learningRate: 0.1 },
        ddg: { bits: 16, noise: false },
        secagg: { maxColluders: 1 },
      }),
    );
    const s = await start(['--config', config, '--data', join(dir, 'data'), '--demo-devices', '6']);
    try {
      const runId = s.run!;
      const status = await api<{ clientsConnected: number; simulatedDevices?: number }>(s.url, '/api/status');
      expect(status.simulatedDevices).toBe(6);
      expect(status.clientsConnected).toBe(6);
      for (;;) {
        const run = await api<{ state: string }>(s.url, `/api/runs/${runId}`);
        if (run.state !== 'running') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const rounds = await api<{ state: string; accuracy: number }[]>(s.url, `/api/runs/${runId}/rounds`);
      expect(rounds.filter((r) => r.state === 'completed')).toHaveLength(2);
      expect(rounds.at(-1)!.accuracy).toBeGreaterThan(0.5);
    } finally {
      s.child.kill('SIGTERM');
      await new Promise((r) => s.child.once('exit', r));
    }
  }, 120_000);
});
