/**
 * Attacks on liveness over real Socket.IO on loopback (issue 13): each one, reproduced by a client that speaks
 * the protocol itself — the real SecAgg client with a tampered message — beside honest Node clients that
 * train on MNIST. Before issue 13 each ended the run as `failed`; now the attacker is identified, excluded for
 * the rest of the run (in SQLite), costs no counted attempt, and the run completes.
 */
import { describe, expect, it, vi } from 'vitest';
import { flipAllUnmaskShares, poisonShareBoxes } from '@hushfl/engine/testing';
import type { NodeClient } from '@hushfl/node';
import { attacker, startClients, startTestCoordinator, stopAll, testConfig } from './testing.ts';

describe('one bad participant cannot stop a run (issue 13 §1), over Socket.IO', () => {
  it('random share boxes of the right size, every attempt: blamed at the masked inputs, excluded, and the run completes', async () => {
    // maxAttempts 1: before issue 13 the first poisoned attempt failed the run.
    const config = testConfig({ rounds: 2, minClients: 3, selection: { clientsPerRound: 3 }, maxAttempts: 1 });
    const { c, rounds, events } = await startTestCoordinator(config);
    const bad = await attacker(c.url, config, poisonShareBoxes);
    const honest: NodeClient[] = await startClients(c.url, 2);
    // The first attempt has the attacker in it (3 of 3 ready); a third honest client comes once it started.
    await vi.waitFor(() => expect(events.some((e) => e.type === 'round-start')).toBe(true), { timeout: 30_000 });
    expect(events.find((e) => e.type === 'round-start')).toMatchObject({ selected: expect.arrayContaining([bad.clientId]) });
    honest.push(...(await startClients(c.url, 1)));
    await c.manager.whenIdle();
    const runId = c.sqlite!.runs()[0]!.id;
    const run = c.sqlite!.run(runId)!;
    const stored = c.sqlite!.rounds(runId);
    const excluded = c.sqlite!.excludedParties(runId);
    // The coordinator records who reported the attacker's share boxes (the masked-input stage row).
    const closed = c.sqlite!.stageEvents(runId, 0).find((e) => e.stage === 'masked-input' && e.phase === 'closed' && e.attempt === 1);
    bad.close();
    await stopAll(c, honest);

    expect(run.state).toBe('completed');
    expect(rounds.filter((r) => r.status === 'completed').map((r) => r.round)).toEqual([0, 1]);
    const reports = JSON.parse(closed!.detail!).unopenedShareBoxes as Record<string, string[]>;
    expect(Object.keys(reports)).toHaveLength(2);
    expect(Object.values(reports)).toEqual([[bad.clientId], [bad.clientId]]);
    const aborted = stored.filter((r) => r.state === 'aborted');
    expect(aborted).toHaveLength(1);
    expect(aborted[0]!.excused).toMatch(new RegExp(`misbehaving parties accused: ${bad.clientId}`));
    // Blamed before any unmask request: nothing was charged for it.
    expect(aborted[0]!.parties).toBeNull();
    expect(excluded).toEqual([expect.objectContaining({ client_id: bad.clientId, reason: expect.stringMatching(/share boxes to .* did not open/) })]);
    expect(bad.errors).toEqual([]);
  }, 120_000);

  it('flipped bits in its unmask shares: corrected from the other shares, the round released, the liar excluded', async () => {
    // 5 parties: each secret has one more share than the threshold, so one wrong share can be located.
    const config = testConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: 5 }, maxAttempts: 1 });
    const { c, rounds } = await startTestCoordinator(config);
    const bad = await attacker(c.url, config, flipAllUnmaskShares);
    const honest = await startClients(c.url, 4);
    await c.manager.whenIdle();
    const runId = c.sqlite!.runs()[0]!.id;
    const run = c.sqlite!.run(runId)!;
    const excluded = c.sqlite!.excludedParties(runId);
    bad.close();
    await stopAll(c, honest);

    expect([run.state, rounds.map((r) => r.error)]).toEqual(['completed', [null]]);
    expect(rounds.map((r) => [r.status, r.parties])).toEqual([['completed', 5]]);
    expect(excluded).toEqual([expect.objectContaining({ client_id: bad.clientId, reason: expect.stringMatching(/sent wrong unmask shares/) })]);
  }, 120_000);
});
