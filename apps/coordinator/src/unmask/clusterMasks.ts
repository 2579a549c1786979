/**
 * Unmasking across a cluster's nodes (issue 17 §2): a round whose masks are many (terms × dimension above
 * `minWords`) is split by coordinate ranges into BullMQ jobs on the cluster's Redis. Every node runs a worker
 * (`startUnmaskWorker`) that regenerates its range's Σ sign·PRG(seed) — AES-CTR is seekable, so a range needs
 * no other — and returns that slice; the leader adds the slices into the sum. A job whose node dies is taken
 * again by another node (BullMQ's stalled-job check); one that is not done in `timeoutMs` is computed here.
 *
 * The jobs carry mask seeds (the pairwise seeds of dropped parties, the self-mask seeds of survivors): secrets
 * of the coordinator, so they travel only between its own nodes, through its own Redis, and are deleted from
 * Redis as soon as a job ends (docs/DEPLOY.md: keep that Redis private).
 */
import { type ConnectionOptions, type Job, Queue, QueueEvents, Worker } from 'bullmq';
import { addInPlace, type MaskApplier, type MaskTerm, maskSlice } from '@hushfl/secagg';
import { packTerms, sliceRanges, unpackTerms } from './maskPool.ts';

export const UNMASK_QUEUE = 'hushfl-unmask';
/** Below this many keystream words in all, one node's own threads are faster than the round trips. */
export const MIN_CLUSTER_WORDS = 1 << 26;

/** BullMQ's connection to a redis:// or rediss:// URL (its blocking calls need no retry limit). */
export function queueConnection(url: string): ConnectionOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/** A range's job as it crosses Redis (JSON: bytes as base64). */
export interface UnmaskJob {
  readonly seeds: string;
  readonly signs: string;
  readonly start: number;
  readonly count: number;
  readonly bits: number;
  /** Epoch ms after which no leader waits for it (a dead leader's round): a worker drops it unopened. */
  readonly deadline: number;
}

const b64 = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
const bytes = (s: string) => {
  const b = Buffer.from(s, 'base64');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
};

export function termsOf(job: UnmaskJob): MaskTerm[] {
  return unpackTerms(bytes(job.seeds), new Int8Array(bytes(job.signs).slice().buffer));
}

/** The worker every node runs: its ranges' mask sums, answered as base64 words. */
export function startUnmaskWorker(connection: ConnectionOptions, o: { prefix: string; concurrency?: number }): Worker<UnmaskJob, string> {
  return new Worker<UnmaskJob, string>(
    UNMASK_QUEUE,
    async (job: Job<UnmaskJob>) => {
      const { start, count, bits, deadline } = job.data;
      if (Date.now() > deadline) throw new Error('stale: its round is no longer waiting for it');
      const slice = await maskSlice(termsOf(job.data), start, count, bits);
      return b64(new Uint8Array(slice.buffer));
    },
    { connection, prefix: o.prefix, concurrency: o.concurrency ?? 1 },
  );
}

export class ClusterMasks implements MaskApplier {
  /** Ranges answered by a node's worker, and ranges computed here after no node answered in time. */
  readonly ranges = { byNodes: 0, here: 0 };

  private constructor(
    private readonly queue: Queue<UnmaskJob, string>,
    private readonly events: QueueEvents,
    private readonly local: MaskApplier,
    private readonly o: { parts: () => Promise<number>; minWords: number; timeoutMs: number },
  ) {}

  static async open(
    connection: ConnectionOptions,
    local: MaskApplier,
    o: { prefix: string; parts?: () => Promise<number>; minWords?: number; timeoutMs?: number; onError?: (e: Error) => void },
  ): Promise<ClusterMasks> {
    // The events stream carries each slice back (as the job's return value): kept short, as no slice is needed
    // once its round has it, and slices of masks are not left lying in Redis.
    const queue = new Queue<UnmaskJob, string>(UNMASK_QUEUE, { connection, prefix: o.prefix, streams: { events: { maxLen: 64 } } });
    const events = new QueueEvents(UNMASK_QUEUE, { connection, prefix: o.prefix });
    if (o.onError) {
      queue.on('error', o.onError);
      events.on('error', o.onError);
    }
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return new ClusterMasks(queue, events, local, {
      // One range per node whose worker is listening (the leader's own among them).
      parts: o.parts ?? (() => queue.getWorkersCount()),
      minWords: o.minWords ?? MIN_CLUSTER_WORDS,
      timeoutMs: o.timeoutMs ?? 120_000,
    });
  }

  /** Applies in progress: close() waits for them (BullMQ's waits must not see their connection closed). */
  private readonly inFlight = new Set<Promise<void>>();

  apply(sum: Uint32Array, terms: readonly MaskTerm[], bits: number): Promise<void> {
    const p = this.applyAcross(sum, terms, bits);
    this.inFlight.add(p);
    const done = () => void this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  private async applyAcross(sum: Uint32Array, terms: readonly MaskTerm[], bits: number): Promise<void> {
    if (terms.length * sum.length < this.o.minWords) return this.local.apply(sum, terms, bits);
    const parts = await this.o.parts().catch(() => 1);
    if (parts <= 1) return this.local.apply(sum, terms, bits);
    const { seeds, signs } = packTerms(terms);
    const common = { seeds: b64(seeds), signs: b64(new Uint8Array(signs.buffer)), bits };
    const ranges = sliceRanges(sum.length, parts);
    const deadline = Date.now() + this.o.timeoutMs;
    let jobs: Job<UnmaskJob, string>[];
    try {
      jobs = await this.queue.addBulk(
        ranges.map((r) => ({
          name: 'slice',
          data: { ...common, start: r.start, count: r.count, deadline },
          // Seeds are secrets: gone from Redis once the job ends, whichever way.
          opts: { removeOnComplete: true, removeOnFail: true, attempts: 2 },
        })),
      );
    } catch {
      return this.local.apply(sum, terms, bits); // Redis unreachable: this node's own threads
    }
    const slices = await Promise.all(
      jobs.map(async (job, i) => {
        const { start, count } = ranges[i]!;
        try {
          const words = bytes(await job.waitUntilFinished(this.events, this.o.timeoutMs));
          if (words.length !== 4 * count) throw new RangeError(`a slice of ${words.length} bytes for ${count} words`);
          this.ranges.byNodes++;
          return new Uint32Array(words.slice().buffer);
        } catch {
          // Not answered in time (every other node busy or gone): this range here, and the job withdrawn.
          await job.remove().catch(() => undefined);
          this.ranges.here++;
          return maskSlice(terms, start, count, bits);
        }
      }),
    );
    for (let i = 0; i < ranges.length; i++) addInPlace(sum.subarray(ranges[i]!.start, ranges[i]!.start + ranges[i]!.count), slices[i]!, bits);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    await Promise.all([this.queue.close(), this.events.close()]);
  }
}
