/**
 * Domain-separated byte strings that bind every derived key, ciphertext and signature to this protocol
 * version, the round and the parties (so nothing can be replayed across rounds or redirected between
 * clients).
 */
import { SecAggError } from './errors.ts';
import type { SecAggConfig } from './messages.ts';
import { validateSecAggParams } from './params.ts';
import { checkClientIds } from './graph.ts';
import { utf8 } from './symmetric.ts';

const V = 'hushfl/secagg/v1';

const ROUND_ID = /^[A-Za-z0-9._:/-]{1,128}$/;

/** Checks the public round parameters; returns the sorted client ids. */
export function validateConfig(config: SecAggConfig): number[] {
  if (typeof config.roundId !== 'string' || !ROUND_ID.test(config.roundId)) {
    throw new SecAggError('bad-parameters', `roundId must be 1–128 characters of [A-Za-z0-9._:/-], got ${JSON.stringify(config.roundId)}`);
  }
  const ids = checkClientIds(config.clients);
  if (!Number.isInteger(config.bits) || config.bits < 1 || config.bits > 32)
    throw new SecAggError('bad-parameters', `bits must be in [1, 32], got ${config.bits}`);
  if (!Number.isInteger(config.dim) || config.dim < 1 || config.dim > 2 ** 28)
    throw new SecAggError('bad-parameters', `dim must be in [1, 2^28], got ${config.dim}`);
  if (!(config.graphCommitment instanceof Uint8Array) || config.graphCommitment.length !== 32)
    throw new SecAggError('bad-parameters', 'graphCommitment must be 32 bytes');
  validateSecAggParams(ids.length, config.neighbours, config.threshold);
  return ids;
}

const pair = (u: number, v: number) => (u < v ? `${u}|${v}` : `${v}|${u}`);

/** HKDF info for the AES-256-GCM key of the pair {u, v} (from their c keys). */
export const shareKeyInfo = (roundId: string, u: number, v: number) => utf8(`${V}/share-key|round=${roundId}|pair=${pair(u, v)}`);

/** HKDF info for the pairwise mask seed of {u, v} (from their s keys). */
export const maskSeedInfo = (roundId: string, u: number, v: number) => utf8(`${V}/mask-seed|round=${roundId}|pair=${pair(u, v)}`);

/** Associated data of the share ciphertext from u to v. */
export const shareAad = (roundId: string, from: number, to: number) => utf8(`${V}/share|round=${roundId}|from=${from}|to=${to}|stage=share-keys`);

/**
 * The message a client signs in the consistency check: the round, the graph seed it derived (so neighbours
 * shown different advertiser lists refuse each other) and the sorted survivor set U3.
 */
export const consistencyMessage = (roundId: string, graphSeed: Uint8Array, survivors: readonly number[]) =>
  utf8(
    `${V}/consistency|round=${roundId}|graph=${Array.from(graphSeed, (b) => b.toString(16).padStart(2, '0')).join('')}|survivors=${[...survivors].sort((a, b) => a - b).join(',')}`,
  );
