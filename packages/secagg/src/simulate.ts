/**
 * One SecAgg+ round with every party in this process and real cryptography: the server and the clients
 * exchange the protocol's messages in memory, and clients vanish at chosen points. Drives `hushfl
 * secagg-sim`, the property tests and the benchmark with exactly the code the coordinator runs.
 */
import { SecAggClient } from './client.ts';
import { SecAggError } from './errors.ts';
import type { NeighbourGraph } from './graph.ts';
import { freshGraphRandomness, graphCommitment } from './graphSeed.ts';
import type { SecAggClientMessage, SecAggConfig, SecAggServerMessage, SecAggStage } from './messages.ts';
import { SecAggServer } from './server.ts';
import { SECAGG_STAGES, lastMessageBefore, stageCollecting, type DropPoint } from './stages.ts';
import type { SecAggRequirement } from './params.ts';
import type { CryptoSuite } from './suite.ts';
import type { PkiClientOptions } from './identity.ts';

export interface SimulationOptions {
  /** The round's parameters; the graph commitment is made here from `graphValue`. */
  readonly config: Omit<SecAggConfig, 'graphCommitment'>;
  /** r_S (default: fresh random bytes). */
  readonly graphValue?: Uint8Array;
  readonly inputs: ReadonlyMap<number, Uint32Array>;
  /** Clients that stop answering, and where. Those that stop before their masked input is accepted are not in the sum. */
  readonly drops?: ReadonlyMap<number, DropPoint>;
  readonly suite?: CryptoSuite;
  /** What the clients require of (k, t) (SecAggClient.create; default δ = γ = 0.1). */
  readonly requirement?: SecAggRequirement;
  /** PKI mode (identity.ts): each listed client's identity and pinned authority key (SecAggClient.create's `pki`). */
  readonly pki?: ReadonlyMap<number, PkiClientOptions>;
  /** PKI mode on the server: it refuses advertisements without a certificate from this authority. */
  readonly serverAuthorityKey?: Uint8Array;
}

export interface StageTiming {
  /** Server time to close the stage (for unmasking: reconstruction and mask removal). */
  readonly serverMs: number;
  /** Mean time one client spent producing its message for the stage. */
  readonly clientMeanMs: number;
  readonly clientMaxMs: number;
}

export interface SimulationResult {
  readonly sum?: Uint32Array;
  readonly included?: readonly number[];
  readonly error?: SecAggError;
  /** Stage at which each client was counted as dropped by the server. */
  readonly dropped: Readonly<Record<number, SecAggStage>>;
  readonly timingsMs: Readonly<Record<SecAggStage, StageTiming>>;
  /** Typed warnings and refusals seen on the way (none in an honest run). */
  readonly warnings: readonly SecAggError[];
  /** The neighbour graph over U1 the round used (empty when it aborted before AdvertiseKeys closed). */
  readonly graph: NeighbourGraph;
}

export async function simulateSecAggRound(opts: SimulationOptions): Promise<SimulationResult> {
  const graphValue = opts.graphValue ?? freshGraphRandomness();
  const config: SecAggConfig = { ...opts.config, graphCommitment: graphCommitment(opts.config.roundId, graphValue) };
  const drops = opts.drops ?? new Map<number, DropPoint>();
  const server = await SecAggServer.create(config, graphValue, { suite: opts.suite, authorityKey: opts.serverAuthorityKey });
  const clients = new Map<number, SecAggClient>();
  for (const id of config.clients) {
    const input = opts.inputs.get(id);
    if (!input) throw new SecAggError('bad-parameters', `no input for client ${id}`, id);
    clients.set(id, await SecAggClient.create(config, id, input, { suite: opts.suite, requirement: opts.requirement, pki: opts.pki?.get(id) }));
  }
  const stopped = new Set<number>();
  const warnings: SecAggError[] = [];
  const clientTimes = new Map<SecAggStage, number[]>();
  const serverTimes = new Map<SecAggStage, number>();

  const deliver = async (id: number, produce: () => Promise<SecAggClientMessage | undefined>) => {
    if (stopped.has(id)) return;
    const t0 = performance.now();
    const msg = await produce();
    if (!msg) return;
    const stage = stageCollecting(msg.type);
    (clientTimes.get(stage) ?? clientTimes.set(stage, []).get(stage)!).push(performance.now() - t0);
    const refused = await server.receive(msg);
    if (refused) warnings.push(refused);
    const dropPoint = drops.get(id);
    if (dropPoint && lastMessageBefore(dropPoint) === msg.type) stopped.add(id);
  };

  for (const id of [...clients.keys()].sort((a, b) => a - b)) {
    if (drops.get(id) === 'before-advertise') {
      stopped.add(id);
      continue;
    }
    await deliver(id, () => clients.get(id)!.advertise());
  }

  let result: SimulationResult['sum'];
  let included: readonly number[] | undefined;
  let error: SecAggError | undefined;
  for (;;) {
    const stage = server.state as SecAggStage;
    const t0 = performance.now();
    const step = await server.advance();
    serverTimes.set(stage, performance.now() - t0);
    if (step.error) {
      error = step.error;
      break;
    }
    if (step.result) {
      result = step.result.sum;
      included = step.result.included;
      break;
    }
    for (const msg of step.outgoing as SecAggServerMessage[]) {
      await deliver(msg.to, async () => {
        const out = await clients.get(msg.to)!.handle(msg);
        warnings.push(...out.warnings);
        if (out.aborted) {
          warnings.push(out.aborted);
          stopped.add(msg.to);
        }
        return out.outgoing;
      });
    }
  }

  const timingsMs = {} as Record<SecAggStage, StageTiming>;
  for (const stage of SECAGG_STAGES) {
    const times = clientTimes.get(stage) ?? [];
    timingsMs[stage] = {
      serverMs: serverTimes.get(stage) ?? 0,
      clientMeanMs: times.length ? times.reduce((a, b) => a + b, 0) / times.length : 0,
      clientMaxMs: times.length ? Math.max(...times) : 0,
    };
  }
  const graph = new Map(config.clients.map((id) => [id, server.neighboursOf(id)] as const).filter(([, nb]) => nb.length > 0));
  return { sum: result, included, error, dropped: Object.fromEntries(server.dropouts()), timingsMs, warnings, graph };
}
