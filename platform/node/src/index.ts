/**
 * @hushfl/node — the Node platform: TensorFlow.js (WASM) in Node, the MNIST digits from the `mnist` package,
 * and the Node FL client (packages/client's session and runtime over Socket.IO).
 */
export { initNodeTf } from './nodeTf.ts';
export { loadMnistPool } from './mnistPool.ts';
export { connectNodeClient, getBytes, type NodeClient, type NodeClientOptions, type VanishPoint } from './nodeClient.ts';
