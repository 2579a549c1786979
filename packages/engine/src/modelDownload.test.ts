/**
 * The model on the way down (issue 18 §1): with task.modelEncoding float16 each task carries the global model
 * as binary16 (half the bytes, each weight rounded to nearest), the coordinator keeps float32, and a model
 * float16 cannot hold goes as float32 that round.
 */
import { chachaRandomWords } from '@hushfl/ddp';
import { decodeModelWeights, f32FromFloat16Bytes, float16Bytes, type TaskMessage } from '@hushfl/protocol';
import { describe, expect, it } from 'vitest';
import { planDdg } from './ddgPlan.ts';
import { NO_FEDOPT_STATE } from './fedOpt.ts';
import { runInMemory, VirtualClock } from './inMemory.ts';
import { RunEngine, type RunCommand } from './runEngine.ts';
import { engineTestConfig, fakeClient, recordingTasks } from './testing.ts';

const DIM = 7850;

function seeded(tag: number) {
  const s = new Uint8Array(32);
  s[5] = tag;
  return chachaRandomWords(s);
}

async function run(encoding: 'float32' | 'float16', initial: Float32Array) {
  const config = engineTestConfig({
    rounds: 2,
    minClients: 3,
    selection: { clientsPerRound: 3 },
    task: { model: { kind: 'mlp', hidden: [] }, modelEncoding: encoding },
  });
  const clock = new VirtualClock();
  const engine = new RunEngine(
    {
      run: { id: `run-${encoding}`, name: config.name, createdAt: 0, dim: DIM },
      config,
      plan: planDdg(config, DIM),
      weights: initial.slice(),
      optimizerState: NO_FEDOPT_STATE,
      completedRound: -1,
    },
    { now: clock.now, random: seeded(1), seeds: seeded(2) },
  );
  const tasks: TaskMessage[] = [];
  const commands: RunCommand[] = [];
  const clients = Array.from({ length: 3 }, (_, i) => {
    const fake = fakeClient({ update: (r) => Float32Array.from({ length: DIM }, (_, k) => 0.003 * Math.sin(0.41 * k + i + r)) });
    return {
      clientId: `client-${i}`,
      miniClients: 1,
      make: recordingTasks(fake, tasks),
    };
  });
  const result = await runInMemory({ engine, clock, clients, observe: (c) => commands.push(c) });
  const releases = commands.filter((c): c is Extract<RunCommand, { kind: 'release' }> => c.kind === 'release');
  return { result, tasks, releases };
}

describe('the model download encoding', () => {
  const initial = Float32Array.from({ length: DIM }, (_, k) => 0.05 * Math.cos(0.13 * k));

  it('sends float16 at 2 bytes a weight, each the nearest binary16 of the float32 model the coordinator keeps', async () => {
    const { result, tasks, releases } = await run('float16', initial);
    expect(result.state).toBe('completed');
    expect(releases).toHaveLength(2);
    expect(tasks.length).toBe(6);
    const models = [initial, releases[0]!.weights];
    for (const t of tasks) {
      expect(t.model.encoding).toBe('float16');
      expect(t.model.weights.length).toBe(2 * DIM);
      const model = models[t.round]!;
      expect(Array.from(decodeModelWeights(t.model))).toEqual(Array.from(f32FromFloat16Bytes(float16Bytes(model)!)));
    }
    // The coordinator's model is float32: round 1's release is not on the float16 grid.
    expect(Array.from(releases[0]!.weights)).not.toEqual(Array.from(f32FromFloat16Bytes(float16Bytes(releases[0]!.weights)!)));
    // Bytes down per party: the float16 model is half the float32 one.
    const f32 = await run('float32', initial);
    for (const t of f32.tasks) expect(t.model.weights.length).toBe(4 * DIM);
    const down = (r: typeof releases) => r[0]!.summary.bytesDown;
    expect(f32.releases[0]!.summary.bytesDown - down(releases)).toBeGreaterThanOrEqual(3 * 2 * DIM);
  });

  it('falls back to float32 for a round whose model float16 cannot hold', async () => {
    const huge = initial.slice();
    huge[17] = 1e5;
    const { result, tasks } = await run('float16', huge);
    expect(result.state).toBe('completed');
    const first = tasks.filter((t) => t.round === 0);
    for (const t of first) {
      expect(t.model.encoding).toBe('float32');
      expect(decodeModelWeights(t.model)[17]).toBe(1e5);
    }
  });
});
