/** GET /api/node: the process answering, its part in a cluster and its memory (what `hushfl loadtest` reports per node). */
import type { NodeInfo } from '@hushfl/protocol';

const MB = 1024 * 1024;

export function memoryMb(): { rssMb: number; heapUsedMb: number } {
  const m = process.memoryUsage();
  return { rssMb: Math.round((m.rss / MB) * 10) / 10, heapUsedMb: Math.round((m.heapUsed / MB) * 10) / 10 };
}

/** One machine: no cluster name, always the leader. */
export function localNodeInfo(store: NodeInfo['store'], sessions: number): NodeInfo {
  return { node: null, leader: true, takeovers: 0, store, sessions, ...memoryMb() };
}
