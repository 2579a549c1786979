/**
 * `hushfl secagg-sim`: one SecAgg+ round with real cryptography, every party in this process, clients
 * dropping where drop.json says. Prints the unmasked sum (which equals the plain sum of the included inputs)
 * or exits 3 when recovery is impossible.
 */
import { readFileSync } from 'node:fs';
import { DROP_POINTS, chooseSecAggParams, simulateSecAggRound, type DropPoint } from '@hushfl/secagg';
import { UsageError, atLeastOne, type FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';

const flags = {
  inputs: { kind: 'string', required: true, help: 'JSON file {"bits": B, "vectors": {"<id>": [v, …], …}}' },
  drop: { kind: 'string', help: 'JSON file {"<id>": "after-advertise" | "after-share" | "after-masked-input" | "during-unmask" | "before-advertise"}' },
  neighbors: { kind: 'int', help: 'neighbours k per client (default: chosen from n)', ...atLeastOne },
  threshold: { kind: 'int', help: 'Shamir threshold t, k/2 < t <= k (default: chosen from n)', ...atLeastOne },
  'max-colluders': {
    kind: 'int',
    help: 'colluders C the clients require (k, t) to withstand, C < 2t − k (default 0: the mechanics only; see hushfl secagg-params)',
    range: '>= 0',
    ok: (v: number) => v >= 0,
  },
  seed: { kind: 'string', help: "the coordinator's graph value r_S, 64 hex digits (default: random); the graph also mixes every client's random contribution" },
  json: { kind: 'bool', help: 'print JSON' },
} as const satisfies FlagSpecs;

function readJson(path: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--${flag}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--${flag}: ${path} is not valid JSON (${(e as Error).message})`);
  }
}

function parseInputs(doc: unknown): { bits: number; vectors: Map<number, Uint32Array>; dim: number } {
  if (typeof doc !== 'object' || doc === null) throw new UsageError('--inputs must hold a JSON object {"bits", "vectors"}');
  const { bits, vectors } = doc as { bits?: unknown; vectors?: unknown };
  if (!Number.isInteger(bits) || (bits as number) < 1 || (bits as number) > 32)
    throw new UsageError(`--inputs: "bits" must be an integer in [1, 32], got ${JSON.stringify(bits)}`);
  if (typeof vectors !== 'object' || vectors === null || Array.isArray(vectors))
    throw new UsageError('--inputs: "vectors" must be an object mapping client ids to arrays');
  const entries = Object.entries(vectors as Record<string, unknown>);
  if (entries.length < 3) throw new UsageError(`--inputs: SecAgg needs at least 3 parties, got ${entries.length}`);
  const limit = 2 ** (bits as number);
  let dim = -1;
  const out = new Map<number, Uint32Array>();
  for (const [key, vec] of entries) {
    const id = Number(key);
    if (!/^\d+$/.test(key) || !Number.isInteger(id) || id < 1 || id > 0xffffffff)
      throw new UsageError(`--inputs: client id "${key}" must be a positive integer below 2^32`);
    if (!Array.isArray(vec) || vec.length === 0) throw new UsageError(`--inputs: client ${key}'s vector must be a non-empty array`);
    if (dim === -1) dim = vec.length;
    if (vec.length !== dim) throw new UsageError(`--inputs: client ${key}'s vector has ${vec.length} values, the first had ${dim}`);
    const bad = vec.findIndex((v) => !Number.isInteger(v) || v < 0 || v >= limit);
    if (bad >= 0) throw new UsageError(`--inputs: client ${key}'s value ${JSON.stringify(vec[bad])} at index ${bad} is outside [0, 2^${bits})`);
    out.set(id, Uint32Array.from(vec as number[]));
  }
  return { bits: bits as number, vectors: out, dim };
}

function parseDrops(doc: unknown, ids: Set<number>): Map<number, DropPoint> {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new UsageError('--drop must hold a JSON object mapping client ids to drop points');
  const drops = new Map<number, DropPoint>();
  for (const [key, point] of Object.entries(doc as Record<string, unknown>)) {
    const id = Number(key);
    if (!ids.has(id)) throw new UsageError(`--drop: client ${key} is not in the inputs`);
    if (!DROP_POINTS.includes(point as DropPoint))
      throw new UsageError(`--drop: client ${key}'s drop point must be one of ${DROP_POINTS.join(', ')}; got ${JSON.stringify(point)}`);
    drops.set(id, point as DropPoint);
  }
  return drops;
}

export const secaggSimCommand: Command<typeof flags> = {
  name: 'secagg-sim',
  summary: 'run one SecAgg+ round in-process with real crypto and chosen dropouts',
  flags,
  async run(f) {
    const { bits, vectors, dim } = parseInputs(readJson(f.inputs!, 'inputs'));
    const ids = [...vectors.keys()].sort((a, b) => a - b);
    const drops = f.drop ? parseDrops(readJson(f.drop, 'drop'), new Set(ids)) : new Map<number, DropPoint>();
    let graphValue: Uint8Array | undefined;
    if (f.seed !== undefined) {
      if (!/^[0-9a-fA-F]{64}$/.test(f.seed)) throw new UsageError(`--seed must be 64 hex digits (32 bytes), got '${f.seed}'`);
      graphValue = Uint8Array.from(f.seed.match(/../g)!.map((b) => parseInt(b, 16)));
    }
    // The clients check (k, t) against C and this round's actual dropout fraction (SecAggClient.create).
    const requirement = { dropoutRate: drops.size / ids.length, maxColluders: f['max-colluders'] ?? 0 };
    let chosen: ReturnType<typeof chooseSecAggParams>;
    try {
      chosen = chooseSecAggParams(ids.length, { ...requirement, dropoutRate: Math.max(0.1, requirement.dropoutRate) });
    } catch (e) {
      throw new UsageError(`--max-colluders: ${(e as Error).message}`);
    }
    const neighbours = f.neighbors ?? chosen.neighbours;
    const threshold = f.threshold ?? (f.neighbors !== undefined ? Math.floor(Math.min(neighbours, ids.length - 1) / 2) + 1 : chosen.threshold);
    const started = performance.now();
    const r = await simulateSecAggRound({
      config: { roundId: 'secagg-sim', clients: ids, bits, dim, neighbours, threshold },
      ...(graphValue ? { graphValue } : {}),
      inputs: vectors,
      drops,
      requirement,
    }).catch((e: Error & { code?: string }) => {
      if (e.code === 'bad-parameters') throw new UsageError(`--neighbors/--threshold: ${e.message}`);
      throw e;
    });
    const dropped = Object.fromEntries([...drops].map(([id, point]) => [String(id), point]));
    const timingsMs = { total: performance.now() - started, ...r.timingsMs };
    const params = { clients: ids.length, neighbours: Math.min(neighbours, ids.length - 1), threshold, bits, dim };
    if (r.error) {
      return {
        json: { error: r.error.message, clientId: r.error.clientId, dropped, params, timingsMs },
        text: `SecAgg could not recover: ${r.error.message}`,
        code: 3,
      };
    }
    const sum = Array.from(r.sum!);
    return {
      json: { sum, included: r.included, dropped, droppedAtStage: r.dropped, params, timingsMs },
      text: [
        `sum of ${r.included!.length} clients (k=${params.neighbours}, t=${threshold}, ${bits} bits, d=${dim}) in ${timingsMs.total.toFixed(0)} ms`,
        `included: ${r.included!.join(', ')}`,
        `sum: [${sum.slice(0, 16).join(', ')}${sum.length > 16 ? ', …' : ''}]`,
      ].join('\n'),
    };
  },
};
