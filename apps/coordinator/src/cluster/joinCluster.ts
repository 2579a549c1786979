/**
 * Makes this coordinator a node of a cluster: Socket.IO rooms and broadcasts across nodes through the Redis
 * adapter, the bus the nodes talk over, and the ClusterBackend that leads or forwards (clusterBackend.ts).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createAdapter } from '@socket.io/redis-adapter';
import type { RunConfig } from '@hushfl/protocol';
import { Redis } from 'ioredis';
import type { Server } from 'socket.io';
import type { RunManager } from '../runManager.ts';
import type { Logger } from '../shellTypes.ts';
import type { Store } from '../store.ts';
import { ClusterBus } from './bus.ts';
import { ClusterBackend } from './clusterBackend.ts';
import { DEFAULT_LEASE_MS } from './lease.ts';
import { ClusterMasks, queueConnection, startUnmaskWorker } from '../unmask/clusterMasks.ts';

export interface ClusterNodeOptions {
  /** redis://host:port (the nodes' shared Redis). */
  readonly redis: string;
  /** This node's name (default: host name, pid and a random suffix). */
  readonly nodeId?: string;
  /** The leader lease's ttl (default 10 s): failover takes about 4/3 of it, plus resuming the run. */
  readonly leaseMs?: number;
}

export interface ClusterNode {
  readonly backend: ClusterBackend;
  /** Starts competing for the lease (after the node listens). */
  start(): Promise<void>;
  /** Hands the lease back and disconnects from Redis (after the run manager closed). */
  close(): Promise<void>;
}

export async function joinCluster(
  o: ClusterNodeOptions & { io: Server; manager: RunManager; store: Store; log: Logger; runConfig?: RunConfig },
): Promise<ClusterNode> {
  if (o.store.kind !== 'postgres') throw new Error('a cluster node needs the shared Postgres store: give --store postgres://… with --redis');
  const nodeId = o.nodeId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const bus = await ClusterBus.connect(o.redis, nodeId);
  const pub = new Redis(o.redis, { lazyConnect: true });
  const sub = pub.duplicate();
  for (const r of [pub, sub]) r.on('error', () => undefined);
  try {
    await Promise.all([pub.connect(), sub.connect()]);
  } catch (e) {
    await bus.close();
    pub.disconnect();
    sub.disconnect();
    throw new Error(`cannot reach Redis at ${o.redis}: ${(e as Error).message}`);
  }
  o.io.adapter(createAdapter(pub, sub, { key: 'hushfl-io' }));
  // Unmasking across the nodes (BullMQ on the same Redis): every node works on ranges, the leader's rounds
  // hand them out (unmask/clusterMasks.ts).
  const queueRedis = queueConnection(o.redis);
  const onQueueError = (e: Error) => o.log.warn({ err: e.message }, 'cross-node unmasking: Redis error');
  const unmaskWorker = startUnmaskWorker(queueRedis, { prefix: 'hushfl' });
  unmaskWorker.on('error', onQueueError);
  let masks: ClusterMasks;
  try {
    masks = await ClusterMasks.open(queueRedis, o.manager.maskPool, { prefix: 'hushfl', onError: onQueueError });
  } catch (e) {
    await unmaskWorker.close().catch(() => undefined);
    await bus.close();
    pub.disconnect();
    sub.disconnect();
    throw new Error(`cannot open the unmasking queue on Redis at ${o.redis}: ${(e as Error).message}`);
  }
  o.manager.useMasks(masks);
  const backend = new ClusterBackend({
    manager: o.manager,
    bus,
    io: o.io,
    store: o.store,
    log: o.log,
    leaseMs: o.leaseMs ?? DEFAULT_LEASE_MS,
    ...(o.runConfig ? { runConfig: o.runConfig } : {}),
  });
  return {
    backend,
    start: () => backend.start(),
    close: async () => {
      await backend.close();
      await Promise.all([unmaskWorker.close(), masks.close()]);
      await bus.close();
      pub.disconnect();
      sub.disconnect();
    },
  };
}
