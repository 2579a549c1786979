/**
 * One client's masked input (Bonawitz et al. 2017, Fig. 4 round 2) at d coordinates, timed alone: k X25519
 * agreements and HKDFs for the pairwise seeds, the k pairwise masks and the self mask expanded (AES-256-CTR) and
 * added mod 2^16, then packed at 16 bits for the wire — the work a round's masked-input stage does per client,
 * without the other n − 1 parties, so that d = 2^20 and n = 1 000 fit in a bench (a whole round there expands
 * n·k masks of 4 MiB). One step after another, where the client overlaps its agreements and keeps four expansions
 * in flight: an upper bound on its time. The browser bench's Worker and the Node scaling suite both run this (`@hushfl/secagg/bench`).
 */
import { addInPlace, defaultSuite, expandWords, hkdfSha256, packWords, subInPlace } from './index.ts';

/** The median ms of `repeats` masked inputs (after one warm-up) with k neighbours at d coordinates. */
export async function timeClientMasking(k: number, d: number, repeats: number): Promise<number> {
  const suite = await defaultSuite();
  const me = await suite.x25519KeyPair();
  const peers = await Promise.all(Array.from({ length: k }, () => suite.x25519KeyPair()));
  const selfSeed = crypto.getRandomValues(new Uint8Array(32));
  const input = Uint32Array.from({ length: d }, (_, j) => j & 0xffff);
  const info = Array.from({ length: k }, (_, v) => new TextEncoder().encode(`bench/${v}`));
  const times: number[] = [];
  for (let i = 0; i < repeats + 1; i++) {
    const t0 = performance.now();
    const acc = input.slice();
    addInPlace(acc, await expandWords(selfSeed, d), 16);
    for (let v = 0; v < k; v++) {
      const shared = await suite.x25519Shared(me.privateKey, peers[v]!.publicKey);
      const words = await expandWords(await hkdfSha256(shared, info[v]!, 32), d);
      if (v % 2 === 0) addInPlace(acc, words, 16);
      else subInPlace(acc, words, 16);
    }
    packWords(acc, 16);
    if (i > 0) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
