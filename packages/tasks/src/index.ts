/**
 * @hushfl/tasks — what a federated task is made of, kept out of the client runtime so tasks can be added
 * without touching it: the dataset type and shard format, partitions, the models (TensorFlow.js layers,
 * flat weight vectors), evaluation, the MNIST task, and the registry of task descriptions.
 */
export * from './data.ts';
export * from './idx.ts';
export * from './mnist.ts';
export * from './model.ts';
export * from './partition.ts';
export * from './registry.ts';
