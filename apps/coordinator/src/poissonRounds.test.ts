/**
 * Poisson client selection end to end: the coordinator waits until a draw is unlikely to fall short of n_min,
 * accounts ε for observers of the models with amplification, ε against itself (it knows the sample) without,
 * and carries the redraw probability into δ.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RdpLedger, ddgRoundRdp } from '@hushfl/ddp';
import type { DdgPlan } from '@hushfl/engine';
import { startClients, startTestCoordinator, stopAll, testConfig } from './testing.ts';

/** P(Bin(n, q) < m), from the binomial pmf. */
function binomialBelow(n: number, q: number, m: number): number {
  let p = 0;
  let choose = 1;
  for (let j = 0; j < m; j++) {
    if (j > 0) choose = (choose * (n - j + 1)) / j;
    p += choose * q ** j * (1 - q) ** (n - j);
  }
  return p;
}

describe('Poisson client selection', () => {
  it('waits for enough clients, amplifies ε only for observers, and adds the redraw risk to δ', async () => {
    const q = 0.7;
    // With 8 single clients a draw falls below n_min = 3 with p = P(Bin(8, 0.7) < 3) ≈ 0.0113; with 7 it is
    // ≈ 0.029 > maxShortfall, so no round may start before all 8 are online.
    const maxShortfall = 0.02;
    expect(binomialBelow(7, q, 3)).toBeGreaterThan(maxShortfall);
    const p = binomialBelow(8, q, 3);
    expect(p).toBeLessThan(maxShortfall);
    const { c, rounds, events } = await startTestCoordinator(
      testConfig({ rounds: 3, minClients: 3, selection: { sampleRate: q, population: 8, maxShortfall }, ddg: { bits: 16, epsilon: 1, delta: 1e-5 } }),
    );
    const clients = await startClients(c.url, 8);
    await c.manager.whenIdle();
    const runId = c.sqlite!.runs()[0]!.id;
    const plan = JSON.parse(c.sqlite!.run(runId)!.ddg) as DdgPlan;
    const metrics = JSON.parse(readFileSync(c.manager.metricsPath(runId), 'utf8'));
    await stopAll(c, clients);

    // Every round started with all 8 clients online, and drew a sample, not all of them.
    const starts = events.filter((e) => e.type === 'round-start');
    expect(starts.length).toBeGreaterThanOrEqual(3);
    const done = rounds.filter((r) => r.status === 'completed');
    expect(done).toHaveLength(3);
    expect(plan.sampleRate).toBe(q);

    const observers = new RdpLedger();
    const coordinator = new RdpLedger();
    done.forEach((r, t) => {
      expect(r.contributors).toBeGreaterThanOrEqual(3);
      const round = {
        clip: plan.params.clip,
        gamma: plan.params.gamma,
        beta: plan.params.beta,
        dimPadded: plan.dimPadded,
        localStddev: plan.params.localStddev,
        clients: r.contributors,
      };
      observers.add(ddgRoundRdp({ ...round, sampleRate: q }).rdp);
      coordinator.add(ddgRoundRdp({ ...round, sampleRate: 1 }).rdp);
      expect(r.epsilon).toBeCloseTo(observers.spent(1e-5).epsilon, 9);
      expect(r.epsilonVsCoordinator).toBeCloseTo(coordinator.spent(1e-5).epsilon, 9);
      // Sampling hides who took part from observers only.
      expect(r.epsilonVsCoordinator!).toBeGreaterThan(r.epsilon!);
      expect(r.deltaSelection).toBeCloseTo(Math.min(1, (t + 1) * p * (1 + Math.exp(r.epsilon!))), 12);
    });
    // The target ε was calibrated for observers and holds for them.
    expect(done.at(-1)!.epsilon!).toBeLessThanOrEqual(1 + 1e-6);
    expect(metrics.privacy.selectionShortfall).toBeCloseTo(3 * p, 12);
    const released = metrics.rounds.filter((r: { status: string }) => r.status === 'completed');
    expect(released.map((r: { epsilonVsCoordinator: number }) => r.epsilonVsCoordinator)).toEqual(done.map((r) => r.epsilonVsCoordinator));
  });
});
