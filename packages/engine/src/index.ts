/**
 * @hushfl/engine — the pure run and round engines (events in, commands out) and what they are made of:
 * selection, the DDG plan of a run, Poisson selection's δ term, FedAvg, the privacy books, round records and
 * server_metrics.json, and the in-memory driver.
 */
export * from './ddgPlan.ts';
export * from './fedavg.ts';
export * from './fedOpt.ts';
export * from './federatedEvaluation.ts';
export * from './forecast.ts';
export * from './inMemory.ts';
export * from './metrics.ts';
export * from './poissonSelection.ts';
export * from './privacy.ts';
export * from './records.ts';
export * from './roundEngine.ts';
export * from './runEngine.ts';
export * from './selection.ts';
