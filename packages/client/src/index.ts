/**
 * @hushfl/client — the FL client runtime (training, DP-SGD, DDG encoding, SecAgg) shared by the browser page's
 * Worker and Node worker threads. Task code (data, models, evaluation) lives in @hushfl/tasks.
 */
export * from './train.ts';
export * from './functional.ts';
export * from './ghostClipping.ts';
export * from './gaussian.ts';
export * from './runtime.ts';
export * from './trainer.ts';
export { SyntheticTrainer } from './syntheticTrainer.ts';
export * from './backendFallback.ts';
export * from './inMemoryRound.ts';
export * from './session.ts';
export * from './httpError.ts';
export * from './report.ts';
