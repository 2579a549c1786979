/**
 * The SecAgg+ communication graph (Bell et al. CCS 2020, §3–4): clients sit on a ring in an order drawn from
 * the public round seed, and each is joined to its k/2 nearest on either side — a Harary graph H_{k,n} on a
 * random permutation, so every client has exactly k neighbours. With k >= n−1 it is the complete graph of
 * the original protocol (Bonawitz et al. 2017). Every party derives the same graph from the same seed.
 */
import { SecAggError } from './errors.ts';
import { expandMask, hkdfSha256, utf8 } from './symmetric.ts';

export type NeighbourGraph = ReadonlyMap<number, readonly number[]>;

export function checkClientIds(ids: readonly number[]): number[] {
  const sorted = [...ids].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i++) {
    const id = sorted[i]!;
    if (!Number.isInteger(id) || id < 1 || id > 0xffffffff) throw new SecAggError('bad-parameters', `client id ${id} must be an integer in [1, 2^32)`);
    if (i > 0 && sorted[i - 1] === id) throw new SecAggError('bad-parameters', `duplicate client id ${id}`);
  }
  return sorted;
}

/** A uniformly random permutation of `ids` (Fisher–Yates with exact rejection sampling) from the seed. */
export async function seededPermutation(ids: readonly number[], seed: Uint8Array): Promise<number[]> {
  const key = hkdfSha256(seed, utf8('hushfl/secagg/v1/graph'), 32);
  let words = await expandMask(key, 2 * ids.length + 64, 32);
  let pos = 0;
  const next = async (): Promise<number> => {
    // CTR output is prefix-stable, so a longer expansion continues the same stream.
    if (pos === words.length) words = await expandMask(key, words.length * 2, 32);
    return words[pos++]!;
  };
  const out = [...ids];
  for (let i = out.length - 1; i > 0; i--) {
    const m = i + 1;
    const limit = 4294967296 - (4294967296 % m);
    let w = await next();
    while (w >= limit) w = await next();
    const j = w % m;
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Each client's neighbours (sorted), for the selected client ids, degree k and the public seed. */
export async function neighbourGraph(ids: readonly number[], k: number, seed: Uint8Array): Promise<NeighbourGraph> {
  const sorted = checkClientIds(ids);
  const n = sorted.length;
  if (!Number.isInteger(k) || k < 1) throw new SecAggError('bad-parameters', `neighbours k must be a positive integer, got ${k}`);
  if (seed.length !== 32) throw new SecAggError('bad-parameters', 'the graph seed must be 32 bytes');
  const graph = new Map<number, number[]>();
  if (k >= n - 1) {
    for (const id of sorted)
      graph.set(
        id,
        sorted.filter((x) => x !== id),
      );
    return graph;
  }
  if (k % 2 !== 0) throw new SecAggError('bad-parameters', `a sparse graph needs an even k (each client links k/2 on either side of the ring); got k=${k}`);
  const ring = await seededPermutation(sorted, seed);
  for (let i = 0; i < n; i++) {
    const nb: number[] = [];
    for (let j = 1; j <= k / 2; j++) nb.push(ring[(i + j) % n]!, ring[(i - j + n) % n]!);
    graph.set(
      ring[i]!,
      nb.sort((a, b) => a - b),
    );
  }
  return graph;
}
