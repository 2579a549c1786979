/** @hushfl/coordinator — the coordinator app (Fastify + Socket.IO) and its parts. */
export { createCoordinator, DEFAULT_MAX_MODEL_DIM, type Coordinator, type CoordinatorOptions } from './app.ts';
export { RunManager, type CoordinatorEvent, type RoundSummary, type ClientConnection } from './runManager.ts';
export { asyncStore, type Store } from './store.ts';
export { SqliteStore } from './sqliteStore.ts';
export { PostgresStore } from './postgresStore.ts';
export { isPostgresUrl, openStore } from './openStore.ts';

export { loadRunConfigFile } from './configFile.ts';
export { checkAllowedOrigins } from './origins.ts';
export { createDatabase, freePort, type LocalServer, startPostgres, startRedis } from './localServers.ts';
