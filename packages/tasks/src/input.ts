/**
 * What a task's examples are (issue 14 §1): an image H×W×C, tabular columns, or a token sequence. Every
 * example reaches a model as one flat row of `inputSize(input)` float32 values (an image row-major, tokens as
 * their ids), the layout of Dataset.x and of the shard format; a model's output is `classes` logits.
 */
export type TaskInput =
  | { readonly kind: 'image'; readonly height: number; readonly width: number; readonly channels: number }
  | { readonly kind: 'tabular'; readonly columns: readonly TabularColumn[] }
  /** Token ids in [0, vocabulary), `length` per example (padded with 0 or cut). */
  | { readonly kind: 'tokens'; readonly vocabulary: number; readonly length: number };

export type TabularColumn =
  | { readonly name: string; readonly type: 'number' }
  | { readonly name: string; readonly type: 'category'; readonly values: readonly string[] };

/** The shape a model is built for: the task's input and its number of classes. */
export interface ModelShape {
  readonly input: TaskInput;
  readonly classes: number;
}

/** Values per example the input gives the model: H·W·C, a column each (a category one-hot), or the tokens. */
export function inputSize(input: TaskInput): number {
  if (input.kind === 'image') return input.height * input.width * input.channels;
  if (input.kind === 'tokens') return input.length;
  return input.columns.reduce((s, c) => s + (c.type === 'number' ? 1 : c.values.length), 0);
}

/** "image 28×28×1", "tabular (5 columns)", "tokens 128 of 20000". */
export function describeInput(input: TaskInput): string {
  if (input.kind === 'image') return `image ${input.height}×${input.width}×${input.channels}`;
  if (input.kind === 'tokens') return `tokens ${input.length} of ${input.vocabulary}`;
  return `tabular (${input.columns.length} columns)`;
}
