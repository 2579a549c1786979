/**
 * PKI mode through the client runtime (issue 12 §6): runtimes built with an enrolled identity and a pinned
 * authority key take part in a round run by the coordinator's RoundEngine — whose SecAgg server knows
 * nothing of PKI and only forwards the identity proofs — over the real wire schemas. A party without a
 * certificate makes its PKI-mode neighbours abort before they share anything.
 */
import type { RoundSetup } from '@hushfl/engine';
import { roundSetupForTest } from '@hushfl/engine/testing';
import { issueCertificate, webCryptoSuite, type PkiClientOptions } from '@hushfl/secagg';
import { describe, expect, it } from 'vitest';
import { inMemoryClient, runRoundInMemory, type InMemoryClient } from './inMemoryRound.ts';
import { ClientRuntime } from './runtime.ts';
import type { Trainer } from './trainer.ts';

const suite = webCryptoSuite();
const DIM = 10;

/** A trainer whose update is the constant `value` in every coordinate (no model, no data). */
function constantTrainer(value: number): Trainer {
  return {
    miniClients: 1,
    backend: 'none',
    train: async () => ({ delta: new Float32Array(DIM).fill(value), loss: 0, accuracy: 0, examples: 1, steps: 1, ms: 0, dpsgdRdp: null }),
    dispose() {},
  };
}

function setup(parties: readonly string[]): RoundSetup {
  return roundSetupForTest(parties, DIM, {
    runId: 'pki',
    ddg: { dim: DIM, clip: 1, gamma: 2e-4, beta: Math.exp(-0.5), bits: 24, localStddev: 0 },
    deadlinesMs: { 'advertise-keys': 1, 'share-keys': 1, 'masked-input': 1, 'consistency-check': 1, unmasking: 1 },
    minParties: 3,
    rotationSeed: globalThis.crypto.getRandomValues(new Uint8Array(32)),
    graphValue: globalThis.crypto.getRandomValues(new Uint8Array(32)),
  });
}

const authority = await suite.ed25519KeyPair();

async function enrolled(subject: string): Promise<PkiClientOptions> {
  const pair = await suite.ed25519KeyPair();
  const certificate = await issueCertificate(authority, { subject, publicKey: pair.publicKey, notAfter: Date.now() + 86_400_000 }, suite);
  return { authorityKey: authority.publicKey, identity: { privateKey: pair.privateKey, certificate } };
}

async function clients(pki: Record<string, PkiClientOptions | null>, values: Record<string, number>): Promise<Map<string, InMemoryClient>> {
  const out = new Map<string, InMemoryClient>();
  for (const [id, p] of Object.entries(pki)) {
    out.set(
      id,
      inMemoryClient(id, (host) => new ClientRuntime(constantTrainer(values[id]!), host, p ? { pki: p } : {})),
    );
  }
  return out;
}

describe('client runtime in PKI mode', () => {
  it('three enrolled clients: the round is released with the mean of their updates', async () => {
    const values = { a: 0.01, b: 0.02, c: 0.06 };
    const cs = await clients({ a: await enrolled('a'), b: await enrolled('b'), c: await enrolled('c') }, values);
    const outcome = await runRoundInMemory(setup(['a', 'b', 'c']), cs);
    expect(outcome.kind).toBe('released');
    if (outcome.kind !== 'released') return;
    expect([...outcome.included].sort()).toEqual(['a', 'b', 'c']);
    for (const v of outcome.mean) expect(v).toBeCloseTo(0.03, 2);
    for (const c of cs.values()) expect(c.runtime.metrics.rounds[0]).toMatchObject({ status: 'completed', included: true });
  });

  it('a party that is not enrolled: the enrolled ones abort before sharing, and the round is aborted', async () => {
    const cs = await clients({ a: await enrolled('a'), b: await enrolled('b'), c: null }, { a: 0.01, b: 0.02, c: 0.03 });
    const outcome = await runRoundInMemory(setup(['a', 'b', 'c']), cs);
    expect(outcome.kind).toBe('aborted');
    for (const id of ['a', 'b']) {
      expect(cs.get(id)!.runtime.metrics.rounds[0], id).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/aborts: neighbour \d+ fails the PKI check: client \d+ sent no identity certificate/),
      });
    }
  });
});
