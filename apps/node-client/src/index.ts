/** @hushfl/node-client — FL clients in Node (Socket.IO + packages/client on TensorFlow.js WASM). */
export { connectNodeClient, type NodeClient, type NodeClientOptions, type VanishPoint } from './nodeClient.ts';
export { initNodeTf } from './nodeTf.ts';
