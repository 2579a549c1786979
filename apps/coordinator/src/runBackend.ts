/**
 * What the client gateway and the operator API drive: the run manager on one machine, or on a cluster's node
 * the ClusterBackend (cluster/clusterBackend.ts), which hands each call to whichever node leads the run.
 */
import type { Report, Status } from '@hushfl/protocol';
import type { SecAggClientMessage } from '@hushfl/secagg';
import type { OperatorBackend } from './operatorApi.ts';
import type { ClientConnection, CoordinatorEvent } from './shellTypes.ts';
import type { RunData } from './taskCache.ts';

/** The room each client session's socket joins: a leader reaches a client on any node through it. */
export function clientRoom(clientId: string): string {
  return `client:${clientId}`;
}

export interface RunBackend extends OperatorBackend {
  /** A client has its data and may be selected. */
  clientConnected(c: ClientConnection): void;
  clientDisconnected(clientId: string): void;
  /** Resolves, once the round has handled it, to null (taken) or why it was refused. */
  onSecAgg(clientId: string, roundId: string, message: SecAggClientMessage, bytes: number): Promise<string | null>;
  onLiveness(clientId: string, nonce: string): void;
  onReport(clientId: string, report: Report): void;
  status(clientId?: string): Status;
  currentData(): RunData;
  on(event: 'event', listener: (e: CoordinatorEvent) => void): unknown;
  /** A new leader knows no client yet: every ready session is to be announced again (clientConnected). */
  on(event: 'reannounce', listener: () => void): unknown;
}
