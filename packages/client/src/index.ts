/**
 * @hushfl/client — the FL client runtime (training, DP-SGD, DDG encoding, SecAgg) shared by the browser page's
 * Worker and Node worker threads, plus the MNIST task's data and models.
 */
export * from './data.ts';
export * from './partition.ts';
export * from './model.ts';
export * from './train.ts';
export * from './functional.ts';
export * from './ghostClipping.ts';
export * from './gaussian.ts';
export * from './runtime.ts';
export * from './trainer.ts';
export * from './inMemoryRound.ts';
