/**
 * The `clients` table does not grow without bound (issue 13 §2): identities that never finished a round and
 * were last seen longer than the retention ago are deleted with their shard assignments, at start and then
 * periodically. An identity connected now is never pruned; one that finished a round is kept (the rounds it
 * took part in name it).
 */
import type { Logger } from './runManager.ts';
import type { Store } from './store.ts';

export const DEFAULT_CLIENT_RETENTION_MS = 7 * 24 * 3600_000;
export const DEFAULT_PRUNE_INTERVAL_MS = 3600_000;

export interface PruningOptions {
  readonly store: Store;
  /** How long an identity that never finished a round is kept after it was last seen. */
  readonly retentionMs: number;
  /** How often to prune after the first time (at start). */
  readonly intervalMs: number;
  /** The identities connected now. */
  readonly connected: () => Iterable<string>;
  readonly log: Logger;
  /** Called with how many were pruned, each time. */
  readonly onPruned?: (n: number) => void;
  readonly now?: () => number;
}

/** Prunes once; returns the ids deleted. */
export async function pruneClients(o: Omit<PruningOptions, 'intervalMs'>): Promise<string[]> {
  const ids = await o.store.pruneClients((o.now ?? Date.now)() - o.retentionMs, o.connected());
  if (ids.length) o.log.info({ pruned: ids.length, retentionMs: o.retentionMs }, 'pruned client identities that never finished a round');
  o.onPruned?.(ids.length);
  return ids;
}

/** Prunes now and every `intervalMs` (an unref'd timer: it keeps no process alive) until stopped. */
export function startPruning(o: PruningOptions): { stop(): void } {
  const run = () => {
    pruneClients(o).catch((e: Error) => o.log.error({ err: e.stack }, 'pruning client identities failed'));
  };
  run();
  const timer = setInterval(run, o.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
