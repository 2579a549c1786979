import * as tf from '@tensorflow/tfjs-core';
import { it } from 'vitest';
import { buildModel, getFlatWeights } from '@hushfl/tasks';
import { initTestTf, syntheticDigits } from './testing.ts';
import { LocalTrainer } from './trainer.ts';
it('debug', async () => {
  await initTestTf();
  const spec = { kind: 'mlp' as const, hidden: [16] };
  const m = buildModel(spec); const global = await getFlatWeights(m); m.dispose();
  const req = { spec, global, training: { epochs: 1, batchSize: 8, learningRate: 0.1 }, dpsgd: null, miniClient: 0 };
  const engine = tf.engine(); const rk = engine.runKernel; let k = 0; let at = 0;
  engine.runKernel = function (...a: any[]) { if (a[0] !== 'Identity') k++; if (k === at && a[0] !== 'Identity') { console.log('FAIL AT', a[0], new Error().stack?.split('\n').slice(2, 40).filter(l => true).join('\n')); throw new Error('injected'); } return (rk as any).apply(this, a); } as any;
  for (let a = 93; a < 94; a++) {
    const before = tf.memory().numTensors;
    const t = new LocalTrainer([syntheticDigits(20, 3)], 'wasm');
    k = 0; at = a;
    try { await t.train(req); } catch {}
    at = 0; t.dispose();
    const leak = tf.memory().numTensors - before;
    if (leak) console.log(a, 'leaked', leak);
  }
});
