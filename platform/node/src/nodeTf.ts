/** TensorFlow.js for Node clients: the WASM backend from node_modules (CPU as the fallback). */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

let ready: Promise<string> | undefined;

export function initNodeTf(): Promise<string> {
  ready ??= (async () => {
    const require = createRequire(import.meta.url);
    setWasmPaths(`${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`);
    // Emscripten's Node glue installs process-wide handlers that rethrow every uncaught error (printing the
    // whole minified module); the coordinator has its own error handling, so remove them again.
    const before = { uncaughtException: process.listeners('uncaughtException'), unhandledRejection: process.listeners('unhandledRejection') };
    try {
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return 'wasm';
      }
    } catch {
      // CPU below
    } finally {
      for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
        for (const l of process.listeners(event as never) as ((...a: unknown[]) => void)[]) {
          if (!(before[event] as unknown[]).includes(l)) process.removeListener(event as never, l);
        }
      }
    }
    await tf.setBackend('cpu');
    await tf.ready();
    return 'cpu';
  })();
  return ready;
}
