/**
 * @hushfl/protocol — the wire between coordinator and clients (versioned schemas), the run configuration,
 * the DDG plan of a run and the pure round engine.
 */
export * from './binary.ts';
export * from './envelope.ts';
export * from './config.ts';
export * from './messages.ts';
export * from './secaggWire.ts';
export * from './ddgPlan.ts';
export * from './roundEngine.ts';
export * from './poissonSelection.ts';
