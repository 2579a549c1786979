/**
 * `hushfl simulate`: worker-thread clients over real Socket.IO; per-round output, the DDG error only the
 * simulator can measure, and ε equal to what `hushfl account ddg` prints for the same parameters.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCoordinator } from '@hushfl/coordinator';
import { loadTaskData } from '@hushfl/node';
import { TASKS } from '@hushfl/tasks';
import { runCli } from '../runCli.testing.ts';

const run = runCli;

describe('hushfl simulate', () => {
  it('runs DDG rounds whose ε is what `hushfl account ddg` prints, and reports the decoding error', async () => {
    const r = await run(
      'simulate',
      '--task',
      'mnist',
      '--clients',
      '8',
      '--max-colluders',
      '1',
      '--rounds',
      '2',
      '--bits',
      '16',
      '--epsilon',
      '30',
      '--workers',
      '2',
      '--json',
    );
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out);
    expect(json.rounds).toHaveLength(2);
    const metrics = JSON.parse(readFileSync(json.metricsFile, 'utf8'));
    const p = metrics.privacy;
    for (const [i, round] of json.rounds.entries()) {
      expect(round.contributors).toBe(8);
      const acc = await run(
        'account',
        'ddg',
        '--clip',
        String(p.clip),
        '--gamma',
        String(p.gamma),
        '--beta',
        String(p.beta),
        '--dim',
        String(metrics.model.dimPadded),
        '--clients',
        '8',
        '--local-stddev',
        String(p.localStddev),
        '--sample-rate',
        '1',
        '--rounds',
        String(i + 1),
        '--delta',
        String(p.delta),
        '--json',
      );
      expect(round.epsilon).toBeCloseTo(JSON.parse(acc.out).epsilon, 10);
      // The decoded mean differs from the plain mean of the clipped updates by the noise: E‖e‖² = d·σ²/n
      // (plus rounding, below 1 % of it here).
      const expected = Math.sqrt((metrics.model.dim * p.localStddev ** 2) / 8);
      expect(round.error.l2).toBeGreaterThan(0.85 * expected);
      expect(round.error.l2).toBeLessThan(1.15 * expected);
      expect(round.error.linf).toBeLessThan(round.error.l2);
      expect(Object.keys(round.durationsMs)).toContain('unmasking');
    }
    expect(json.rounds[1].epsilon).toBeLessThanOrEqual(30);
    // Each simulated client keeps its own metrics (client_metrics equivalent).
    const clientsDir = join(dirname(json.metricsFile), 'clients');
    const files = readdirSync(clientsDir);
    expect(files).toHaveLength(8);
    const one = JSON.parse(readFileSync(join(clientsDir, files[0]!), 'utf8'));
    expect(one.backend).toBe('wasm');
    expect(one.rounds).toHaveLength(2);
    expect(one.rounds[0]).toMatchObject({ status: 'completed', included: true });
    expect(one.rounds[0].trainMs).toBeGreaterThan(0);
  });

  it('with --url, recovers the decoded mean from the public models and reports the same error', async () => {
    const c = await createCoordinator({
      port: 0,
      dataDir: mkdtempSync(join(tmpdir(), 'hushfl-url-')),
      logLevel: 'silent',
      operatorToken: 'url-test-token-0123456789abcdef',
    });
    try {
      const r = await run(
        'simulate',
        '--url',
        c.url,
        '--token',
        c.operatorToken,
        '--clients',
        '4',
        '--max-colluders',
        '1',
        '--rounds',
        '2',
        '--epsilon',
        '30',
        '--workers',
        '1',
        '--json',
      );
      expect(r.code, r.err).toBe(0);
      const json = JSON.parse(r.out);
      expect(json.rounds).toHaveLength(2);
      const runId = c.sqlite!.runs()[0]!.id;
      const metrics = JSON.parse(readFileSync(c.manager.metricsPath(runId), 'utf8'));
      const expected = Math.sqrt((metrics.model.dim * metrics.privacy.localStddev ** 2) / 4);
      for (const round of json.rounds) {
        expect(round.error).not.toBeNull();
        expect(round.error.l2).toBeGreaterThan(0.85 * expected);
        expect(round.error.l2).toBeLessThan(1.15 * expected);
      }
    } finally {
      await c.close();
    }
  });

  it('keeps going when clients vanish at random stages (with the strategy flags: FedYogi, FedProx)', async () => {
    const strategy = ['--server-optimizer', 'fedyogi', '--server-lr', '0.01', '--proximal-mu', '0.05'];
    const r = await run('simulate', '--clients', '8', '--max-colluders', '1', '--rounds', '2', '--dropout', '0.25', '--workers', '2', ...strategy, '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out);
    expect(json.rounds).toHaveLength(2);
    const metrics = JSON.parse(readFileSync(json.metricsFile, 'utf8'));
    expect(metrics.strategy).toEqual({
      server: { optimizer: 'fedyogi', learningRate: 0.01, beta1: 0.9, beta2: 0.99, tau: 0.001 },
      proximalMu: 0.05,
      adaptiveClip: null,
    });
    for (const round of json.rounds) {
      expect(round.epsilon).toBeNull();
      // Without noise the error is rounding (tiny) plus DDG's modular clipping: a coordinate of the rotated sum
      // that leaves the k = 4 standard-deviation range wraps by 2^B·γ. Un-rotation spreads each wrap over every
      // coordinate, so in the first d of the d' coordinates of the mean it has norm 2^B·γ/n·sqrt(d/d').
      const unit = ((2 ** 16 * metrics.privacy.gamma) / round.contributors) * Math.sqrt(metrics.model.dim / metrics.model.dimPadded);
      const wraps = (round.error.l2 / unit) ** 2;
      expect(Math.abs(wraps - Math.round(wraps)), JSON.stringify({ round, unit })).toBeLessThan(0.25);
      expect(round.error.linf).toBeLessThan(unit); // spread out, never a single huge coordinate
    }
  });

  // Issue 14: every built-in task learns well above chance without DP, through real rounds (SecAgg, no noise).
  for (const task of TASKS) {
    it(`--task ${task.name}: three rounds without DP noise learn well above chance (the majority class of its test split)`, async () => {
      const test = loadTaskData(task.name).test;
      const counts = new Array(task.classes.length).fill(0);
      for (const l of test.labels) counts[l]++;
      const chance = Math.max(...counts) / test.n;
      const r = await run('simulate', '--task', task.name, '--clients', '3', '--max-colluders', '0', '--rounds', '3', '--workers', '2', '--json');
      expect(r.code, r.err).toBe(0);
      const rounds = JSON.parse(r.out).rounds as { accuracy: number }[];
      console.log(JSON.stringify({ task: task.name, chance, accuracy: rounds.map((x) => x.accuracy) }));
      // Halfway from chance to perfect, on the coordinator's held-out examples of the task.
      expect(rounds.at(-1)!.accuracy).toBeGreaterThan(chance + (1 - chance) / 2);
    });
  }

  it('--model-encoding float16: the model goes down at 2 bytes a weight and the federation still learns', async () => {
    const r = await run('simulate', '--clients', '3', '--max-colluders', '0', '--rounds', '3', '--workers', '2', '--model-encoding', 'float16', '--json');
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(r.out);
    const metrics = JSON.parse(readFileSync(json.metricsFile, 'utf8'));
    const d = metrics.model.dim as number;
    for (const round of json.rounds as { bytesDown: number; selected: number }[]) {
      const perParty = round.bytesDown / round.selected;
      // The float16 model (2d bytes) plus the round's keys and shares, well under the float32 model alone (4d).
      expect(perParty).toBeGreaterThan(2 * d);
      expect(perParty).toBeLessThan(3 * d);
    }
    expect(json.rounds.at(-1).accuracy).toBeGreaterThan(0.8);
    expect((await run('simulate', '--clients', '4', '--rounds', '1', '--model-encoding', 'bf16')).err).toMatch(
      /--model-encoding must be one of float32, float16, got 'bf16'/,
    );
  });

  it('refuses --url without --token and a task it does not know', async () => {
    expect((await run('simulate', '--clients', '4', '--rounds', '1', '--url', 'http://127.0.0.1:1')).err).toMatch(/--url needs --token/);
    expect((await run('simulate', '--clients', '4', '--rounds', '1', '--task', 'cifar')).err).toMatch(
      /--task must be one of mnist, fashion-mnist, spam, got 'cifar'/,
    );
    expect((await run('simulate', '--clients', '1', '--rounds', '1')).err).toMatch(/--clients must be an integer in \[3, 1000\]/);
    expect((await run('simulate', '--clients', '8', '--rounds', '1')).err).toMatch(/--clients\/--max-colluders: no SecAgg\+ parameters for n = 8/);
  });
});
