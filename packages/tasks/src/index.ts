/**
 * @hushfl/tasks — what a federated task is made of, kept out of the client runtime so tasks can be added
 * without touching it: the dataset type and shard format, partitions, the models (TensorFlow.js layers,
 * flat weight vectors), evaluation, and the MNIST task.
 */
export * from './data.ts';
export * from './mnist.ts';
export * from './model.ts';
export * from './partition.ts';
