import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRunConfigFile } from './configFile.ts';

const dir = mkdtempSync(join(tmpdir(), 'hushfl-config-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('run configuration files', () => {
  it('reads the shipped example and JSON alike', () => {
    const yaml = loadRunConfigFile(new URL('../../../examples/mnist-ddg.yaml', import.meta.url).pathname);
    expect(yaml).toMatchObject({ name: 'mnist-ddg', rounds: 20, minClients: 8, selection: { clientsPerRound: 10 }, ddg: { bits: 16, epsilon: 8 } });
    const json = loadRunConfigFile(file('run.json', JSON.stringify({ secagg: { maxColluders: 1 }, rounds: 3, minClients: 2, ddg: { noise: false } })));
    expect(json).toMatchObject({ secagg: { maxColluders: 1 }, rounds: 3, minClients: 2, ddg: { noise: false, bits: 16 } });
  });

  it('reads every shipped example, each checked against its task', () => {
    const examples = new URL('../../../examples/', import.meta.url).pathname;
    const names = readdirSync(examples).filter((f) => f.endsWith('.yaml'));
    expect(names).toEqual(expect.arrayContaining(['mnist-ddg.yaml', 'mnist-local.yaml', 'spam-natural.yaml']));
    for (const name of names) expect(() => loadRunConfigFile(join(examples, name)), name).not.toThrow();
    expect(loadRunConfigFile(join(examples, 'mnist-local.yaml')).data).toBe('local');
    expect(loadRunConfigFile(join(examples, 'spam-natural.yaml')).task).toMatchObject({ name: 'spam', partition: { kind: 'natural' } });
  });

  it('names the file and the key of a task config that does not fit its task', () => {
    const bad = file(
      'task.yaml',
      'rounds: 1\nminClients: 3\nselection: { clientsPerRound: 3 }\nddg: { noise: false }\nsecagg: { maxColluders: 0 }\ntask: { name: spam }\n',
    );
    expect(() => loadRunConfigFile(bad)).toThrow(`${bad}: task.model: an mlp over token ids learns nothing`);
    const unknown = file(
      'unknown.yaml',
      'rounds: 1\nminClients: 3\nselection: { clientsPerRound: 3 }\nddg: { noise: false }\nsecagg: { maxColluders: 0 }\ntask: { name: cifar10 }\n',
    );
    expect(() => loadRunConfigFile(unknown)).toThrow(`${unknown}: task.name: unknown task 'cifar10'`);
  });

  it('names the file and every bad field', () => {
    const bad = file('bad.yaml', 'rounds: 0\nminClients: 2\nddg: { bits: 40, epsilon: 1 }\n');
    let message = '';
    try {
      loadRunConfigFile(bad);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(`${bad}: rounds`);
    expect(message).toContain(`${bad}: ddg.bits`);
  });

  it('says when the file is missing or not YAML/JSON', () => {
    expect(() => loadRunConfigFile(join(dir, 'nope.yaml'))).toThrow(/cannot read config .*nope\.yaml: ENOENT/);
    expect(() => loadRunConfigFile(file('broken.json', '{"rounds": '))).toThrow(/is not valid JSON/);
    expect(() => loadRunConfigFile(file('broken.yaml', 'rounds: [1, 2\n'))).toThrow(/is not valid YAML/);
  });
});
