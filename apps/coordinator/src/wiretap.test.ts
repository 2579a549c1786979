/**
 * Issue 14 §5, done-when: no per-client metric reaches the coordinator in the clear. A real coordinator and real
 * Node clients (training on MNIST shards, federated evaluation on) run two rounds while the test taps every
 * client → coordinator Socket.IO packet (a per-socket packet middleware on the client namespace, binary
 * attachments included) and every HTTP request the coordinator's server receives. The clients' own figures —
 * what their runtimes show locally: training loss, accuracy, examples, steps, held-out loss, accuracy and
 * examples — appear in no field of any tapped message, in no binary payload (as float64), and in no URL; the
 * reports carry only the wire schema's keys; the only vectors are the SecAgg masked inputs, and those are
 * masked (uniform in Z_2^B, unlike an encoding). The round's federated accuracy, decoded from the sum, is
 * nevertheless the clients' own accuracies weighted by their examples, up to quantisation (no noise).
 */
import type { IncomingMessage } from 'node:http';
import { unpackWords } from '@hushfl/secagg';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeClient } from '@hushfl/node';
import { metricUnitsPerCoordinate } from '@hushfl/ddp';
import { planDdg, type DdgPlan } from '@hushfl/engine';
import { CLIENT_NAMESPACE, EVENTS, parseRunConfig, reportSchema } from '@hushfl/protocol';
import type { Socket } from 'socket.io';
import type { RoundSummary } from './runManager.ts';
import { loadRunSetup } from './runPersistence.ts';
import { startClients, startTestCoordinator, stopAll, testConfig } from './testing.ts';

const CLIENTS = 4;
const ROUNDS = 2;
const BITS = 16;

interface TappedPacket {
  readonly event: string;
  /** Every JSON value the packet carries (envelopes parsed, `$bin` references left out: they are its layout). */
  readonly json: unknown[];
  /** Every binary part: attachments, and each `$bin` slice of an envelope with the field path it fills. */
  readonly binaries: { readonly path: string; readonly bytes: Uint8Array; readonly type?: string }[];
}

interface TappedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly upgrade: boolean;
}

function isBinary(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array || v instanceof ArrayBuffer;
}

function bytesOf(v: Uint8Array | ArrayBuffer): Uint8Array {
  return v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** A packet as the coordinator receives it: a {json, bin} envelope opened (binary slices named by field), else taken as is. */
function tap(event: string, args: unknown[]): TappedPacket {
  const json: unknown[] = [];
  const binaries: TappedPacket['binaries'] = [];
  for (const arg of args) {
    if (typeof arg === 'function') continue; // the ack callback
    const env = arg as { json?: unknown; bin?: unknown } | null;
    if (env && typeof env === 'object' && typeof env.json === 'string' && isBinary(env.bin)) {
      const bin = bytesOf(env.bin);
      const walk = (v: unknown, path: string, type: string | undefined): unknown => {
        if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`, type));
        if (v && typeof v === 'object') {
          const o = v as Record<string, unknown>;
          if ('$bin' in o && Array.isArray(o.$bin)) {
            const [offset, length] = o.$bin as [number, number];
            binaries.push({ path, bytes: bin.subarray(offset, offset + length), ...(type ? { type } : {}) });
            return '<binary>';
          }
          const t = typeof o.type === 'string' ? o.type : type;
          return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x, path ? `${path}.${k}` : k, t)]));
        }
        return v;
      };
      json.push(walk(JSON.parse(env.json), '', undefined));
      // The whole buffer too: nothing may hide between the slices.
      binaries.push({ path: '<envelope bin>', bytes: bin });
    } else if (isBinary(arg)) binaries.push({ path: '<attachment>', bytes: bytesOf(arg) });
    else json.push(arg);
  }
  return { event, json, binaries };
}

/** Every number in a JSON value, with its path. */
function numbers(v: unknown, path = ''): { path: string; value: number }[] {
  if (typeof v === 'number') return [{ path, value: v }];
  if (Array.isArray(v)) return v.flatMap((x, i) => numbers(x, `${path}[${i}]`));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => numbers(x, path ? `${path}.${k}` : k));
  return [];
}

/** Does the 8-byte little-endian float64 of `x` occur in `bytes` (at any offset)? */
function containsFloat64(bytes: Uint8Array, x: number): boolean {
  const needle = new Uint8Array(new Float64Array([x]).buffer);
  outer: for (let i = 0; i + 8 <= bytes.length; i++) {
    for (let k = 0; k < 8; k++) if (bytes[i + k] !== needle[k]) continue outer;
    return true;
  }
  return false;
}

/** A client's own figures of each round, as its runtime shows them on the device (LocalReport / its records). */
function ownFigures(client: NodeClient) {
  return client.runtime.metrics.rounds
    .filter((r) => r.status === 'completed')
    .map((r) => ({
      round: r.round,
      roundId: r.roundId,
      trainLoss: r.trainLoss!,
      trainAccuracy: r.trainAccuracy!,
      examples: r.examples!,
      steps: r.steps!,
      heldOutLoss: r.heldOutLoss!,
      heldOutAccuracy: r.heldOutAccuracy!,
      heldOutExamples: r.heldOutExamples!,
    }));
}

describe('wire tap: no per-client metric reaches the coordinator in the clear (issue 14 §5)', () => {
  const packets: TappedPacket[] = [];
  const requests: TappedRequest[] = [];
  let clients: NodeClient[] = [];
  let rounds: RoundSummary[] = [];
  let plan: DdgPlan;
  let evaluation: ReturnType<typeof parseRunConfig>['evaluation'];
  let runId = '';
  let roundsApi: Record<string, unknown>[] = [];
  let metricsFile: { rounds: { federated: unknown }[] } = { rounds: [] };
  let participants: { round: number; clientId: string; status: string }[] = [];
  let reloaded: Awaited<ReturnType<typeof loadRunSetup>>['rounds'] = [];
  let stop: () => Promise<void> = async () => {};

  beforeAll(async () => {
    // kStddevs 8: headroom enough that no coordinate of the sum wraps around 2^B (a wrap would shift every metric
    // total by 2^B·γ/√d′ in coordinate units, about 5 examples here: docs/PRIVACY.md "Modular wraps").
    const config = testConfig({
      rounds: ROUNDS,
      minClients: CLIENTS,
      selection: { clientsPerRound: CLIENTS },
      ddg: { noise: false, bits: BITS, kStddevs: 8 },
    });
    const parsed = parseRunConfig(config);
    plan = planDdg(parsed, 50_890);
    evaluation = parsed.evaluation;
    const started = await startTestCoordinator(config);
    const { c } = started;
    rounds = started.rounds;
    // Every packet every client sends, before any handler of the gateway sees it.
    c.io.of(CLIENT_NAMESPACE).on('connection', (socket: Socket) => {
      socket.use(([event, ...args], next) => {
        packets.push(tap(String(event), args));
        next();
      });
    });
    // Every HTTP request (shard downloads) and WebSocket upgrade the server receives.
    c.app.server.on('request', (req: IncomingMessage) => requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, upgrade: false }));
    c.app.server.on('upgrade', (req: IncomingMessage) => requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, upgrade: true }));
    clients = await startClients(c.url, CLIENTS);
    await c.manager.whenIdle();
    // The last round-end may still be on its way to a client: wait until every runtime has closed every round.
    for (let t = 0; t < 100 && !clients.every((cl) => cl.runtime.metrics.rounds.filter((r) => r.status === 'completed').length >= ROUNDS); t++)
      await new Promise((r) => setTimeout(r, 50));
    runId = c.sqlite!.runs()[0]!.id;
    const res = await c.app.inject({ method: 'GET', url: `/api/runs/${runId}/rounds`, headers: { authorization: 'Bearer test-operator-token-0123456789' } });
    roundsApi = res.json();
    metricsFile = JSON.parse(readFileSync(c.manager.metricsPath(runId), 'utf8'));
    reloaded = (await loadRunSetup(c.store, c.sqlite!.run(runId)!)).rounds;
    participants = [...Array(ROUNDS).keys()].flatMap((round) =>
      c.sqlite!.participants(runId, round).map((p) => ({ round, clientId: p.client_id, status: p.status })),
    );
    stop = () => stopAll(c, clients);
  }, 120_000);

  afterAll(async () => {
    await stop();
  });

  it('the run completed with federated evaluation on, and the tap saw the traffic', () => {
    const done = rounds.filter((r) => r.status === 'completed');
    expect(done).toHaveLength(ROUNDS);
    expect(plan.params.dim).toBe(50_890 + 6);
    expect(packets.filter((p) => p.event === EVENTS.secagg).length).toBeGreaterThanOrEqual(CLIENTS * ROUNDS * 4);
    expect(packets.filter((p) => p.event === EVENTS.report).length).toBeGreaterThanOrEqual(CLIENTS * ROUNDS);
    expect(requests.filter((r) => !r.upgrade && r.url.includes('/shards/')).length).toBe(CLIENTS);
    for (const c of clients) {
      const own = ownFigures(c);
      expect(own).toHaveLength(ROUNDS);
      for (const f of own) expect(f.heldOutExamples).toBeGreaterThan(0);
    }
  });

  it('no client’s own figure appears in any field of any packet, in any binary payload, or in any request', () => {
    const own = clients.flatMap(ownFigures);
    // Accuracies are ratios of small integers (17/22, 1/2): one may equal a progress fraction (batch/batches) by
    // coincidence, so ratios are compared with every field but `progress`; losses and counts with every field.
    const ratios = own.flatMap((f) => [f.trainAccuracy, f.heldOutAccuracy]);
    const others = own.flatMap((f) => [f.trainLoss, f.examples, f.steps, f.heldOutLoss, f.heldOutExamples]);
    // Integers up to 16 are ids, epochs and batch numbers in any run this size: only larger ones (example and
    // step counts here) and non-integers can tell a client's figure from protocol structure.
    const telling = (v: number) => !Number.isInteger(v) || v > 16;
    const tellingRatios = ratios.filter(telling);
    const tellingOthers = others.filter(telling);
    expect(tellingOthers.length).toBeGreaterThanOrEqual(own.length * 5);
    const fractional = [...tellingRatios, ...tellingOthers].filter((v) => !Number.isInteger(v));
    const near = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
    for (const p of packets) {
      for (const { path, value } of p.json.flatMap((j) => numbers(j))) {
        const candidates = /(^|\.)progress$/.test(path) ? tellingOthers : [...tellingRatios, ...tellingOthers];
        for (const v of candidates) expect(near(value, v), `${p.event} ${path} = ${value} is a client's own figure`).toBe(false);
      }
      // The whole binary parts (each envelope's buffer holds all its slices).
      for (const b of p.binaries.filter((x) => x.path === '<envelope bin>' || x.path === '<attachment>'))
        for (const v of fractional) expect(containsFloat64(b.bytes, v), `${p.event} ${b.path} holds ${v}`).toBe(false);
    }
    for (const r of requests) {
      // No request carries a body (no content-length, no transfer-encoding: RFC 9112 §6.3), and no URL a figure.
      expect(r.headers['content-length'] ?? '0').toBe('0');
      expect(r.headers['transfer-encoding']).toBeUndefined();
      // The URLs are the protocol's: a shard the coordinator assigned (its index is the coordinator's, not data), or the socket.
      if (r.upgrade) expect(r.url).toMatch(/^\/socket\.io\/\?EIO=4&transport=websocket$/);
      else {
        expect(r.method).toBe('GET');
        expect(r.url).toMatch(/^\/api\/tasks\/[a-z0-9-]+\/shards\/\d+$/);
      }
      for (const v of fractional) expect(r.url.includes(String(v))).toBe(false);
    }
  });

  it('only the wire protocol’s events, and reports with only the wire schema’s keys', () => {
    const allowed = new Set<string>([EVENTS.hello, EVENTS.ready, EVENTS.report, EVENTS.secagg, EVENTS.liveness]);
    for (const p of packets) expect(allowed.has(p.event), p.event).toBe(true);
    const reportKeys = new Set(Object.keys(reportSchema.shape));
    for (const p of packets.filter((x) => x.event === EVENTS.report)) {
      expect(p.binaries).toHaveLength(0);
      for (const r of p.json as Record<string, unknown>[]) {
        expect(reportSchema.safeParse(r).success, JSON.stringify(r)).toBe(true);
        for (const k of Object.keys(r)) expect(reportKeys.has(k), k).toBe(true);
        if (r.train) expect(Object.keys(r.train as object).sort()).toEqual(['backend', 'ms']);
      }
    }
  });

  it('the only vectors sent are the SecAgg masked inputs, one per client and round, and they are masked', () => {
    const big = packets.flatMap((p) => p.binaries.filter((b) => b.path !== '<envelope bin>' && b.bytes.length >= 1024).map((b) => ({ ...b, event: p.event })));
    expect(big.length).toBe(CLIENTS * ROUNDS);
    for (const b of big) {
      expect(b.event).toBe(EVENTS.secagg);
      expect(b.type).toBe('masked-input');
      expect(b.path).toBe('message.masked');
      // Packed at B bits a coordinate (issue 18 §1), not in 32-bit words.
      expect(b.bytes.length).toBe(Math.ceil((plan.dimPadded * BITS) / 8));
      // Masked: the words are uniform in Z_2^B (χ² over the top 4 bits, 15 degrees of freedom; p < 10⁻⁷ above 60).
      // An unmasked encoding concentrates around 0 (the grid is sized for the sum of all parties in 2^B).
      const words = unpackWords(b.bytes, plan.dimPadded, BITS);
      const bins = new Array<number>(16).fill(0);
      let max = 0;
      for (const w of words) {
        if (w > max) max = w;
        bins[w >>> (BITS - 4)]!++;
      }
      expect(max).toBeLessThan(2 ** BITS);
      const expected = words.length / 16;
      const chi2 = bins.reduce((s, n) => s + (n - expected) ** 2 / expected, 0);
      expect(chi2).toBeLessThan(60);
    }
    // No other binary is longer than a key, signature or share box.
    const others = packets.flatMap((p) => p.binaries.filter((b) => b.path !== '<envelope bin>' && b.bytes.length < 1024));
    for (const b of others) expect(b.bytes.length).toBeLessThanOrEqual(256);
  });

  it('the round’s federated accuracy is the clients’ own held-out accuracies weighted by their examples (no noise)', () => {
    const units = metricUnitsPerCoordinate(plan.params.clip, evaluation);
    for (const summary of rounds.filter((r) => r.status === 'completed')) {
      const included = new Set(participants.filter((p) => p.round === summary.round && p.status === 'finished').map((p) => p.clientId));
      expect(included.size).toBe(CLIENTS);
      const own = clients.filter((c) => included.has(c.clientId)).map((c) => ownFigures(c).find((f) => f.round === summary.round)!);
      const examples = own.reduce((s, f) => s + f.heldOutExamples, 0);
      const correct = own.reduce((s, f) => s + f.heldOutAccuracy * f.heldOutExamples, 0);
      const lossSum = own.reduce((s, f) => s + f.heldOutLoss * f.heldOutExamples, 0);
      const trainExamples = own.reduce((s, f) => s + f.examples, 0);
      const trainCorrect = own.reduce((s, f) => s + f.trainAccuracy * f.examples, 0);
      const f = summary.federated!;
      // Quantisation only: about γ·√n/2 per coordinate of the sum (variance ≤ γ²/4 per party); 6 of those.
      const sd = (plan.params.gamma * Math.sqrt(CLIENTS)) / 2;
      expect(Math.abs(f.examples - examples)).toBeLessThan(6 * sd * units.count);
      expect(Math.abs(f.correct - correct)).toBeLessThan(6 * sd * units.count);
      expect(Math.abs(f.lossSum - lossSum)).toBeLessThan(6 * sd * units.loss);
      // Σ correct / Σ examples moves by at most (|Δcorrect| + |Δexamples|) / Σ examples.
      expect(Math.abs(f.accuracy! - correct / examples)).toBeLessThan((12 * sd * units.count) / examples);
      // Training accuracy: the trained models on the training splits (each under N_max = 1000 examples).
      expect(Math.abs(f.trainExamples - trainExamples)).toBeLessThan(6 * sd * units.count);
      expect(Math.abs(f.trainAccuracy! - trainCorrect / trainExamples)).toBeLessThan((12 * sd * units.count) / trainExamples);
      // The coordinator's held-out accuracy is beside it, and in the same range for this shared task.
      expect(summary.accuracy).not.toBeNull();
    }
  });

  it('the federated figures are persisted: the operator API’s rounds and server_metrics.json', () => {
    const done = rounds.filter((r) => r.status === 'completed');
    for (const s of done) {
      const row = roundsApi.find((r) => r.round === s.round && r.state === 'completed')!;
      expect(row.federated_accuracy).toBe(s.federated!.accuracy);
      expect(row.federated_examples).toBe(s.federated!.examples);
      expect(row.federated_train_accuracy).toBe(s.federated!.trainAccuracy);
      expect(row.federated_loss_sum).toBe(s.federated!.lossSum);
    }
    expect(metricsFile.rounds.map((r) => r.federated)).toEqual(done.map((s) => s.federated));
    // And read back as the round records a resumed run starts from.
    expect(reloaded!.filter((r) => r.status === 'completed').map((r) => r.federated)).toEqual(done.map((s) => s.federated));
  });
});
