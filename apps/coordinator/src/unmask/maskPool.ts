/**
 * Unmasking's heavy step in parallel (issue 17 §2): regenerating every mask a round removes (AES-CTR, which
 * is seekable: expandWordsAt) split by coordinate ranges across worker threads; each thread returns its
 * range's total Σ sign·PRG(seed), which is added into the sum there. Ranges start on AES block boundaries.
 * Small jobs stay in process, where a thread's start-up and the copies would cost more than they save.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { addInPlace, inProcessMasks, type MaskApplier, type MaskTerm } from '@hushfl/secagg';

/** Below this many keystream words in all (terms × dimension) a round is unmasked in process. */
export const MIN_PARALLEL_WORDS = 1 << 22;

export interface SliceJob {
  readonly id: number;
  /** The terms' 32-byte seeds, concatenated. */
  readonly seeds: Uint8Array;
  readonly signs: Int8Array;
  readonly start: number;
  readonly count: number;
  readonly bits: number;
}

export type SliceResult = { readonly id: number; readonly slice: Uint32Array } | { readonly id: number; readonly error: string };

/** Mask terms as one seed buffer (32 bytes each) and their signs: how a slice job carries them to a thread or a node. */
export function packTerms(terms: readonly MaskTerm[]): { seeds: Uint8Array; signs: Int8Array } {
  const seeds = new Uint8Array(32 * terms.length);
  const signs = new Int8Array(terms.length);
  terms.forEach((t, i) => {
    seeds.set(t.seed, 32 * i);
    signs[i] = t.sign;
  });
  return { seeds, signs };
}

/** packTerms undone; RangeError when the seeds and signs disagree in number. */
export function unpackTerms(seeds: Uint8Array, signs: Int8Array): MaskTerm[] {
  if (seeds.length !== 32 * signs.length) throw new RangeError(`an unmasking job with ${seeds.length} seed bytes for ${signs.length} signs`);
  return Array.from(signs, (sign, i) => ({ seed: seeds.subarray(32 * i, 32 * i + 32), sign: sign === 1 ? 1 : -1 }));
}

/** The ranges of [0, dim) for `parts` threads, each starting on a 4-word (AES block) boundary. */
export function sliceRanges(dim: number, parts: number): { start: number; count: number }[] {
  const blocks = Math.ceil(dim / 4);
  const out: { start: number; count: number }[] = [];
  for (let p = 0; p < parts; p++) {
    const start = 4 * Math.floor((p * blocks) / parts);
    const end = Math.min(dim, 4 * Math.floor(((p + 1) * blocks) / parts));
    if (end > start) out.push({ start, count: end - start });
  }
  return out;
}

export class MaskPool implements MaskApplier {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve(s: Uint32Array): void; reject(e: Error): void }>();
  private nextId = 0;

  constructor(
    /** Worker threads (default: the available parallelism). */
    readonly threads = Math.max(1, availableParallelism()),
    private readonly minParallelWords = MIN_PARALLEL_WORDS,
  ) {}

  private spawn(): void {
    while (this.workers.length < this.threads) {
      const w = new Worker(new URL('./worker.mjs', import.meta.url));
      w.unref();
      w.on('message', (r: SliceResult) => {
        const p = this.pending.get(r.id);
        if (!p) return;
        this.pending.delete(r.id);
        if ('error' in r) p.reject(new Error(`unmasking worker: ${r.error}`));
        else p.resolve(r.slice);
      });
      w.on('error', (e) => {
        // A dead thread fails what it held; the pool starts a fresh one for the next round.
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          p.reject(e);
        }
        this.workers.splice(this.workers.indexOf(w), 1);
      });
      this.workers.push(w);
    }
  }

  async apply(sum: Uint32Array, terms: readonly MaskTerm[], bits: number): Promise<void> {
    if (this.threads <= 1 || terms.length * sum.length < this.minParallelWords) return inProcessMasks.apply(sum, terms, bits);
    this.spawn();
    const { seeds, signs } = packTerms(terms);
    const ranges = sliceRanges(sum.length, this.workers.length);
    const slices = await Promise.all(
      ranges.map(
        ({ start, count }, i) =>
          new Promise<Uint32Array>((resolve, reject) => {
            const id = this.nextId++;
            this.pending.set(id, { resolve, reject });
            this.workers[i]!.postMessage({ id, seeds, signs, start, count, bits } satisfies SliceJob);
          }),
      ),
    );
    for (let i = 0; i < ranges.length; i++) addInPlace(sum.subarray(ranges[i]!.start, ranges[i]!.start + ranges[i]!.count), slices[i]!, bits);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
  }
}
