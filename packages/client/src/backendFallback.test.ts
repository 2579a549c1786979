import { describe, expect, it } from 'vitest';
import type { BackendName } from '@hushfl/protocol';
import { type BackendSwitch, describeSwitch, fallbacksAfter, isGpuBackend, retryAllowed, retryMarginMs, trainWithFallback } from './backendFallback.ts';

describe('backend fallback decisions', () => {
  it('falls back from a GPU backend down the order; WASM and CPU are no GPU', () => {
    expect(fallbacksAfter('webgpu')).toEqual(['webgl', 'wasm', 'cpu']);
    expect(fallbacksAfter('webgl')).toEqual(['wasm', 'cpu']);
    expect(fallbacksAfter('cpu')).toEqual([]);
    expect(fallbacksAfter('stub')).toEqual([]);
    expect(['webgpu', 'webgl', 'wasm', 'cpu'].map(isGpuBackend)).toEqual([true, true, false, false]);
  });

  it('a retry keeps a fifth of the deadline, at least 2 s, for encoding and SecAgg', () => {
    expect(retryMarginMs(120_000)).toBe(24_000);
    expect(retryMarginMs(5_000)).toBe(2_000);
    const deadline = { at: 1_000_000, totalMs: 120_000 };
    expect(retryAllowed(deadline, deadline.at - 24_001)).toBe(true);
    expect(retryAllowed(deadline, deadline.at - 24_000)).toBe(false);
    expect(retryAllowed({ at: 10_000, totalMs: 0 }, 8_000)).toBe(false);
    expect(retryAllowed(undefined, 0)).toBe(true);
  });

  it('says which backend failed, why, and where training went', () => {
    const s = { from: 'webgpu', to: 'webgl', error: 'createBuffer failed', retried: true };
    expect(describeSwitch(s)).toBe('WebGPU failed (createBuffer failed): switched to WebGL');
    expect(describeSwitch({ ...s, retried: false })).toMatch(/^WebGPU failed \(createBuffer failed\): switched to WebGL for the next rounds \(too close/);
  });
});

/** A trainer over fake backends: `broken` fail every attempt, `dead` do not initialise. */
function fakeBackends(start: string, broken: string[], dead: string[] = [], clock = { t: 0, perAttempt: 0 }) {
  let backend = start;
  const log: string[] = [];
  const switches: BackendSwitch[] = [];
  const driver = {
    backend: () => backend,
    attempt: async () => {
      log.push(`train ${backend}`);
      clock.t += clock.perAttempt;
      if (broken.includes(backend)) throw new Error(`${backend} lost`);
      return `trained on ${backend}`;
    },
    switchTo: async (to: BackendName, failed: string) => {
      log.push(`switch ${failed}→${to}`);
      if (dead.includes(to)) return false;
      backend = to;
      return true;
    },
    onSwitch: (s: BackendSwitch) => void switches.push(s),
    now: () => clock.t,
  };
  return { driver, log, switches };
}

describe('trainWithFallback', () => {
  it('WebGPU fails: the round is trained again on WebGL, which stays', async () => {
    const { driver, log, switches } = fakeBackends('webgpu', ['webgpu']);
    expect(await trainWithFallback({ at: 60_000, totalMs: 60_000 }, driver)).toBe('trained on webgl');
    expect(log).toEqual(['train webgpu', 'switch webgpu→webgl', 'train webgl']);
    expect(switches).toEqual([{ from: 'webgpu', to: 'webgl', error: 'webgpu lost', retried: true }]);
    expect(driver.backend()).toBe('webgl');
  });

  it('skips a backend that does not initialise, and goes on when the next one fails too', async () => {
    const { driver, log, switches } = fakeBackends('webgpu', ['webgpu', 'wasm'], ['webgl']);
    await expect(trainWithFallback(undefined, driver)).rejects.toThrow('wasm lost');
    // Once per backend: WASM's failure is the round's (nowhere to go from there), never a loop.
    expect(log).toEqual(['train webgpu', 'switch webgpu→webgl', 'switch webgpu→wasm', 'train wasm']);
    expect(switches.map((s) => `${s.from}→${s.to}`)).toEqual(['webgpu→wasm']);

    const chain = fakeBackends('webgpu', ['webgpu', 'webgl']);
    expect(await trainWithFallback(undefined, chain.driver)).toBe('trained on wasm');
    expect(chain.switches.map((s) => `${s.from}→${s.to}`)).toEqual(['webgpu→webgl', 'webgl→wasm']);
  });

  it('a failure on WASM or CPU fails the round as before, without a switch', async () => {
    for (const start of ['wasm', 'cpu']) {
      const { driver, log, switches } = fakeBackends(start, [start]);
      await expect(trainWithFallback(undefined, driver)).rejects.toThrow(`${start} lost`);
      expect(log).toEqual([`train ${start}`]);
      expect(switches).toEqual([]);
    }
  });

  it('too close to the deadline: switches for the next rounds, fails this one without retrying', async () => {
    // Deadline 10 s, margin 2 s: the failed attempt ends at 8.5 s.
    const clock = { t: 0, perAttempt: 8_500 };
    const { driver, log, switches } = fakeBackends('webgpu', ['webgpu'], [], clock);
    await expect(trainWithFallback({ at: 10_000, totalMs: 10_000 }, driver)).rejects.toThrow(
      'webgpu lost (on webgpu; switched to webgl for the next rounds, too late to train this one again)',
    );
    expect(log).toEqual(['train webgpu', 'switch webgpu→webgl']);
    expect(switches).toEqual([{ from: 'webgpu', to: 'webgl', error: 'webgpu lost', retried: false }]);
    expect(driver.backend()).toBe('webgl');
    // The same at 7.9 s: retried.
    const early = fakeBackends('webgpu', ['webgpu'], [], { t: 0, perAttempt: 7_900 });
    expect(await trainWithFallback({ at: 10_000, totalMs: 10_000 }, early.driver)).toBe('trained on webgl');
  });

  it('an attempt that fails after another call switched backends retries on the new one, no second switch', async () => {
    const { driver, log, switches } = fakeBackends('webgpu', []);
    let first = true;
    const racing = {
      ...driver,
      attempt: async () => {
        if (first) {
          first = false;
          // Meanwhile a concurrent call met the failure and moved to WebGL.
          await driver.switchTo('webgl', 'webgpu');
          throw new Error('buffer of a disposed model');
        }
        return driver.attempt();
      },
    };
    expect(await trainWithFallback(undefined, racing)).toBe('trained on webgl');
    expect(log).toEqual(['switch webgpu→webgl', 'train webgl']);
    expect(switches).toEqual([]);
  });
});
