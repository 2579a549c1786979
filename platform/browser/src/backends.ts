/**
 * Choosing the TensorFlow.js backend for training: WebGPU when `navigator.gpu.requestAdapter()` gives an
 * adapter, then WebGL, WASM and CPU; `?backend=` forces the first one. Runs inside the training Worker, which
 * moves down the same order when training fails on a GPU (issue 13 §5, @hushfl/client's backendFallback.ts).
 * The WASM backend loads its .wasm files from `wasmPath` (an absolute URL the page resolved: where its site
 * serves them, same-origin so they load under COEP require-corp).
 */
import { BACKENDS, type BackendName } from '@hushfl/protocol';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

interface GpuNavigator {
  gpu?: { requestAdapter(): Promise<unknown | null> };
}

async function register(name: BackendName, wasmPath: string): Promise<boolean> {
  switch (name) {
    case 'webgpu': {
      const gpu = (navigator as unknown as GpuNavigator).gpu;
      if (!gpu || !(await gpu.requestAdapter())) return false;
      await import('@tensorflow/tfjs-backend-webgpu');
      return true;
    }
    case 'webgl':
      if (typeof OffscreenCanvas === 'undefined') return false;
      await import('@tensorflow/tfjs-backend-webgl');
      return true;
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      wasm.setWasmPaths(wasmPath);
      // Cross-origin isolated (COOP/COEP), the Worker has SharedArrayBuffer and tfjs loads its threaded SIMD
      // build. Its pthread Workers get the Emscripten factory as factory.toString(): the Worker bundles are
      // therefore neither mangled nor compressed (vite.config.ts), or the factory would name our variables.
      return true;
    }
    case 'cpu':
      return true;
  }
}

/** The backend that runs; for WASM, whether tfjs loaded its threaded SIMD build (it needs shared memory). */
export interface SelectedBackend {
  readonly name: string;
  readonly threaded: boolean;
}

async function threadedWasm(name: string): Promise<boolean> {
  if (name !== 'wasm') return false;
  const [simd, threads] = await Promise.all([tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'), tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')]);
  return Boolean(simd && threads);
}

/** Makes `name` the active backend; null when this browser cannot start it. */
export async function startBackend(name: BackendName, wasmPath: string): Promise<SelectedBackend | null> {
  try {
    if (!(await register(name, wasmPath))) return null;
    if (await tf.setBackend(name)) {
      await tf.ready();
      return { name, threaded: await threadedWasm(name) };
    }
  } catch {
    // not available here
  }
  return null;
}

/** The first backend of the order (or the forced one) that initialises. */
export async function selectBackend(forced: string | null, wasmPath: string): Promise<SelectedBackend> {
  const order: readonly BackendName[] = forced ? [forced as BackendName] : BACKENDS;
  if (forced && !BACKENDS.includes(forced as BackendName)) throw new Error(`unknown backend '${forced}': use one of ${BACKENDS.join(', ')}`);
  for (const name of order) {
    const started = await startBackend(name, wasmPath);
    if (started) return started;
  }
  if (forced) throw new Error(`backend '${forced}' is not available in this browser`);
  await tf.setBackend('cpu');
  return { name: 'cpu', threaded: false };
}

/**
 * Leaves a backend that failed in training (backendFallback.ts): its tensors are freed first (the caller
 * disposed the model), then tfjs drops it and its GPU buffers, so it is neither chosen again nor holding memory
 * other tabs on the same GPU need.
 */
export function dropBackend(name: string): void {
  try {
    tf.removeBackend(name);
  } catch {
    // already gone
  }
}
