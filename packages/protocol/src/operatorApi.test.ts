import { describe, expect, it } from 'vitest';
import { modelHeadersSchema, operatorRoutes, routePath, roundSchema, runParamsSchema, shardParamsSchema } from './operatorApi.ts';

describe('operator API contract', () => {
  it('keeps every public path and method (operators’ scripts call them)', () => {
    expect(Object.values(operatorRoutes).map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/health',
      'GET /api/status',
      'GET /api/join',
      'GET /api/node',
      'GET /api/runs',
      'POST /api/runs',
      'GET /api/runs/:id',
      'GET /api/runs/:id/rounds',
      'GET /api/runs/:id/metrics',
      'GET /api/runs/:id/model',
      'POST /api/runs/:id/pause',
      'POST /api/runs/:id/resume',
      'POST /api/runs/:id/stop',
      'POST /api/forecast',
      'POST /api/invites',
      'GET /api/tasks/:task/shards/:index',
    ]);
    expect(Object.keys(roundSchema.shape)).toEqual([
      'run_id',
      'round',
      'attempt',
      'state',
      'started_at',
      'finished_at',
      'contributions',
      'accuracy',
      'loss',
      'epsilon',
      'epsilon_coordinator',
      'delta_selection',
      'error',
      // Issue 14 §5: federated evaluation, totals over the round's parties.
      'federated_accuracy',
      'federated_loss',
      'federated_examples',
      'federated_correct',
      'federated_loss_sum',
      'federated_train_accuracy',
      'federated_train_loss',
      'federated_train_examples',
      'federated_train_correct',
      'federated_train_loss_sum',
      'excused',
      'clip',
      'clip_fraction',
      'durations',
      'dropped',
      'bytes_up',
      'bytes_down',
      'selected',
      'participants',
      'stages',
    ]);
  });

  it('fills paths with encoded parameters', () => {
    expect(routePath(operatorRoutes.rounds, { id: 'run-1' })).toBe('/api/runs/run-1/rounds');
    expect(routePath(operatorRoutes.shard, { task: 'fashion-mnist', index: 7 })).toBe('/api/tasks/fashion-mnist/shards/7');
    expect(routePath(operatorRoutes.run, { id: '../x y' })).toBe('/api/runs/..%2Fx%20y');
    expect(() => routePath(operatorRoutes.run)).toThrow('parameter id is missing');
  });

  it('validates parameters, naming the field', () => {
    expect(runParamsSchema.parse({ id: 'run-20250101-abc_1' })).toEqual({ id: 'run-20250101-abc_1' });
    const bad = runParamsSchema.safeParse({ id: 'a/b' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]).toMatchObject({ path: ['id'], message: expect.stringMatching(/^must be a run id/) });
    expect(shardParamsSchema.parse({ task: 'spam', index: '12' })).toEqual({ task: 'spam', index: 12 });
    expect(shardParamsSchema.safeParse({ task: 'spam', index: '1.5' }).success).toBe(false);
    expect(shardParamsSchema.safeParse({ task: '../etc', index: '1' }).success).toBe(false);
  });

  it('reads the model headers', () => {
    expect(modelHeadersSchema.parse({ 'x-hushfl-round': '-1', 'x-hushfl-dim': '10', 'x-hushfl-model': '{"kind":"cnn"}' })).toEqual({
      'x-hushfl-round': -1,
      'x-hushfl-dim': 10,
      'x-hushfl-model': { kind: 'cnn', filters: 8, kernel: 5, dense: 0 },
    });
    expect(modelHeadersSchema.safeParse({ 'x-hushfl-round': '1', 'x-hushfl-dim': '10', 'x-hushfl-model': '{nope' }).error?.issues[0]?.message).toBe(
      'must be JSON',
    );
  });
});
