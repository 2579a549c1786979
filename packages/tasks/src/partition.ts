/**
 * Splitting a labelled pool into client shards: IID (a seeded shuffle cut into equal parts) or non-IID by
 * label with Dirichlet(α) class proportions per shard (Hsu, Qi & Brown 2019): for each class, shares over
 * the shards are drawn from Dir(α·1) and the class's examples are cut accordingly. Small α: each shard
 * sees few classes. Natural: whole authors per shard (the way data is split across real devices, as LEAF's
 * per-writer splits do — Caldas et al. 2018), authors shuffled and each given to the shard with the fewest
 * examples so far. The partition is public and reproducible from its seed (ChaCha20 stream).
 */
import { chachaRandomWords, shuffleInPlace, type RandomWords } from '@hushfl/ddp';
import type { PartitionSpec } from '@hushfl/protocol';

function seedBytes(seed: number, tag: string): Uint8Array {
  const s = new Uint8Array(32);
  new DataView(s.buffer).setUint32(0, seed >>> 0, true);
  const t = new TextEncoder().encode(tag).slice(0, 28);
  s.set(t, 4);
  return s;
}

/** A uniform double in (0, 1) from 53 random bits. */
function uniform(rw: RandomWords): number {
  for (;;) {
    const v = ((rw.next() >>> 5) * 67108864 + (rw.next() >>> 6)) / 9007199254740992;
    if (v > 0) return v;
  }
}

function normal(rw: RandomWords): number {
  return Math.sqrt(-2 * Math.log(uniform(rw))) * Math.cos(2 * Math.PI * uniform(rw));
}

/** Gamma(shape, 1) by Marsaglia & Tsang (2000), with the shape < 1 boost. */
function gamma(rw: RandomWords, shape: number): number {
  if (shape < 1) return gamma(rw, shape + 1) * uniform(rw) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rw);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = uniform(rw);
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/**
 * Cuts the example indices [0, labels.length) into `shards` disjoint shards. `authors` (natural partitions
 * only) gives each example's author id.
 */
export function partitionIndices(labels: Uint8Array, shards: number, spec: PartitionSpec, seed: number, minPerShard = 1, authors?: Uint32Array): Uint32Array[] {
  if (!Number.isInteger(shards) || shards < 1 || shards > labels.length) throw new RangeError(`cannot cut ${labels.length} examples into ${shards} shards`);
  const rw = chachaRandomWords(seedBytes(seed, `partition/${spec.kind}`));
  if (spec.kind === 'natural') return naturalPartition(shards, rw, authors, labels.length);
  if (spec.kind === 'iid') {
    const idx = Uint32Array.from({ length: labels.length }, (_, i) => i);
    shuffleInPlace(idx, rw);
    return Array.from({ length: shards }, (_, s) => idx.slice(Math.floor((s * idx.length) / shards), Math.floor(((s + 1) * idx.length) / shards)));
  }
  const classes = Math.max(...labels) + 1;
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (const [i, l] of labels.entries()) byClass[l]!.push(i);
  for (const list of byClass) shuffleInPlace(list, rw);
  // Redraw (a bounded number of times) until every shard has at least minPerShard examples.
  let best: number[][] = [];
  for (let attempt = 0; attempt < 100; attempt++) {
    const parts: number[][] = Array.from({ length: shards }, () => []);
    for (const list of byClass) {
      const g = Array.from({ length: shards }, () => gamma(rw, spec.alpha));
      const total = g.reduce((a, b) => a + b, 0);
      let start = 0;
      let acc = 0;
      for (let s = 0; s < shards; s++) {
        acc += g[s]! / total;
        const end = s === shards - 1 ? list.length : Math.round(acc * list.length);
        for (let i = start; i < end; i++) parts[s]!.push(list[i]!);
        start = Math.max(start, end);
      }
    }
    best = parts;
    if (parts.every((p) => p.length >= minPerShard)) break;
  }
  return best.map((p) => Uint32Array.from(p));
}

function naturalPartition(shards: number, rw: RandomWords, authors: Uint32Array | undefined, n: number): Uint32Array[] {
  if (!authors || authors.length !== n) throw new RangeError('a natural partition needs the author of every example');
  const byAuthor = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const list = byAuthor.get(authors[i]!);
    if (list) list.push(i);
    else byAuthor.set(authors[i]!, [i]);
  }
  if (byAuthor.size < shards) throw new RangeError(`the data has ${byAuthor.size} authors, too few for ${shards} shards`);
  const groups = [...byAuthor.values()];
  shuffleInPlace(groups, rw);
  // Largest authors first onto the emptiest shard (LPT scheduling): shards as even as whole authors allow.
  groups.sort((a, b) => b.length - a.length);
  const parts: number[][] = Array.from({ length: shards }, () => []);
  const sizes = new Float64Array(shards);
  for (const g of groups) {
    let s = 0;
    for (let j = 1; j < shards; j++) if (sizes[j]! < sizes[s]!) s = j;
    for (const i of g) parts[s]!.push(i);
    sizes[s] = sizes[s]! + g.length;
  }
  return parts.map((p) => Uint32Array.from(p).sort());
}
