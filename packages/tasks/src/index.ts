/**
 * @hushfl/tasks — what a federated task is made of, kept out of the client runtime so tasks can be added
 * without touching it: the dataset type and shard format, partitions, the models (TensorFlow.js layers,
 * flat weight vectors), evaluation, the demo data of the built-in tasks, the registry of task descriptions, and text tokenization.
 */
export * from './data.ts';
export * from './idx.ts';
export * from './demoTask.ts';
export * from './input.ts';
export * from './layerSupport.ts';
export * from './layersModel.ts';
export * from './localExamples.ts';
export * from './model.ts';
export * from './partition.ts';
export * from './registry.ts';
export * from './split.ts';
export * from './text.ts';
