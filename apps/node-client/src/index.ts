/**
 * @hushfl/node-client — the Node client program: N FL clients (@hushfl/node) in worker threads that join a
 * coordinator, optionally dropping out of rounds. Used by `hushfl simulate` and the `hushfl-node-client` bin.
 */
export { startClientPool, type ClientPool, type ClientPoolOptions } from './workerPool.ts';
