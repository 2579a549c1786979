/** The run config the dashboard's editor starts with: a run an operator can start as is. */
export const EXAMPLE_CONFIG = `# A run of MNIST with SecAgg+ and distributed discrete Gaussian noise.
name: mnist-ddg
task: { name: mnist, model: { kind: mlp, hidden: [64] }, partition: { kind: iid }, shards: 100 }
# demo: the coordinator serves shards of the task's dataset; local: each person brings their own (docs/TASKS.md)
data: demo
rounds: 10
selection: { clientsPerRound: 6 }
# n_min: the fewest parties (connections, each with its own keys) a released round holds; mini-clients do not count
minClients: 4
training: { epochs: 2, batchSize: 16, learningRate: 0.1 }
ddg: { bits: 16, clip: 1.0, epsilon: 8, delta: 1.0e-5 }
# 6 per round is too few for γ = 10 % colluders at 2^-40 (that needs n >= 15): at most 1 colluder instead
secagg: { dropoutRate: 0.1, maxColluders: 1 }
`;
