/**
 * Choosing the TensorFlow.js backend for training: WebGPU when `navigator.gpu.requestAdapter()` gives an
 * adapter, then WebGL, WASM and CPU; `?backend=` forces one. Runs inside the training Worker.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

export const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

interface GpuNavigator {
  gpu?: { requestAdapter(): Promise<unknown | null> };
}

async function register(name: BackendName): Promise<boolean> {
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
      wasm.setWasmPaths(new URL('/tfjs-wasm/', self.location.origin).toString());
      // The threaded build hands its pthread Workers the Emscripten factory as factory.toString(), which the
      // minified bundle breaks (ReferenceError in every pthread Worker); training already runs in a dedicated
      // Worker, so use the single-threaded SIMD build.
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      return true;
    }
    case 'cpu':
      return true;
  }
}

/** The first backend of the order (or the forced one) that initialises; its name. */
export async function selectBackend(forced: string | null): Promise<string> {
  const order: readonly BackendName[] = forced ? [forced as BackendName] : BACKENDS;
  if (forced && !BACKENDS.includes(forced as BackendName)) throw new Error(`unknown backend '${forced}': use one of ${BACKENDS.join(', ')}`);
  for (const name of order) {
    try {
      if (!(await register(name))) continue;
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // try the next backend
    }
  }
  if (forced) throw new Error(`backend '${forced}' is not available in this browser`);
  await tf.setBackend('cpu');
  return 'cpu';
}
