/**
 * @hushfl/protocol — the wire between coordinator and clients (versioned schemas), and the run configuration.
 */
export * from './binary.ts';
export * from './envelope.ts';
export * from './config.ts';
export * from './messages.ts';
export * from './operatorApi.ts';
export * from './secaggWire.ts';
export * from './pages.ts';
export * from './modelEncoding.ts';
