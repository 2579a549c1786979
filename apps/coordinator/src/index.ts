/** @hushfl/coordinator — the coordinator app (Fastify + Socket.IO) and its parts. */
export { createCoordinator, DEFAULT_MAX_MODEL_DIM, type Coordinator, type CoordinatorOptions } from './app.ts';
export { RunManager, type CoordinatorEvent, type RoundSummary, type ClientConnection } from './runManager.ts';
export { Store } from './store.ts';

export { loadRunConfigFile } from './configFile.ts';
export { checkAllowedOrigins } from './origins.ts';
