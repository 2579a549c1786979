/** A site's own examples become shards by LocalExamples' checks, each error naming the example. */
import { describe, expect, it } from 'vitest';
import { decodeShard, LocalDataError, MNIST_TASK, SPAM_TASK, type TaskDescription } from '@hushfl/tasks';
import { type ExampleImage, type ExampleRow, shardsFromExamples } from './examples.ts';

const SIDE = 28;
const digit = (label: string | number, value: number, extra: Partial<ExampleImage> = {}): ExampleImage => ({
  label,
  width: SIDE,
  height: SIDE,
  pixels: new Array<number>(SIDE * SIDE).fill(value),
  ...extra,
});

const flowers: TaskDescription = {
  ...MNIST_TASK,
  name: 'flowers',
  input: {
    kind: 'tabular',
    columns: [
      { name: 'petal length', type: 'number' },
      { name: 'colour', type: 'category', values: ['red', 'white'] },
    ],
  },
  classes: ['setosa', 'virginica'],
  preprocessing: [],
};

function errorOf(f: () => unknown): LocalDataError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(LocalDataError);
    return e as LocalDataError;
  }
  throw new Error('expected a LocalDataError');
}

describe('shardsFromExamples', () => {
  it('takes images as number arrays, typed arrays or RGBA ImageData, labels as class names or numbers, and deals them into shards', () => {
    const rgba = new Uint8ClampedArray(SIDE * SIDE * 4);
    for (let p = 0; p < SIDE * SIDE; p++) rgba.set([90, 90, 90, 255], p * 4);
    const images = [
      digit(7, 200),
      digit('3', 10),
      { label: 1, width: SIDE, height: SIDE, pixels: new Uint8Array(SIDE * SIDE).fill(5) },
      { label: 0, width: SIDE, height: SIDE, pixels: rgba },
    ];
    const { shards, summary } = shardsFromExamples(MNIST_TASK, { task: 'mnist', images }, 2);
    expect(summary).toMatchObject({ task: 'mnist', count: 4, perShard: [2, 2] });
    expect(summary.histogram).toEqual([1, 1, 0, 1, 0, 0, 0, 1, 0, 0]);
    const [a, b] = shards.map((s) => decodeShard(s));
    // Dealt in turn: examples 0 and 2 in the first shard, 1 and 3 in the second; RGBA to gray by luma.
    expect(Array.from(a!.labels)).toEqual([7, 1]);
    expect(Array.from(b!.labels)).toEqual([3, 0]);
    expect(b!.x[SIDE * SIDE]).toBeCloseTo(90 / 255, 6);
    expect(a!.x[0]).toBeCloseTo(200 / 255, 6);
  });

  it('refuses what does not fit, naming the example: size, values per pixel, pixel values, labels', () => {
    const withAt = (i: number, bad: ExampleImage) => [digit(1, 0), digit(2, 0), digit(3, 0)].map((d, k) => (k === i ? bad : d));
    expect(errorOf(() => shardsFromExamples(MNIST_TASK, { images: withAt(1, { ...digit(2, 0), width: 32, height: 32 }) }, 1)).message).toBe(
      'images[1]: the image is 32×32 pixels; the mnist task needs 28×28 (width×height): resize it or leave it out',
    );
    expect(errorOf(() => shardsFromExamples(MNIST_TASK, { images: withAt(2, { ...digit(3, 0), pixels: new Array<number>(1024).fill(1) }) }, 1)).message).toBe(
      'images[2]: 1024 values for 28×28 pixels: give 1 (gray), 3 (RGB) or 4 (RGBA) values a pixel, or say how many in `channels`',
    );
    const floats = { ...digit(3, 0), pixels: new Array<number>(SIDE * SIDE).fill(0.5), name: 'scan-17' };
    const e = errorOf(() => shardsFromExamples(MNIST_TASK, { images: withAt(0, floats) }, 1));
    expect(e.message).toBe('scan-17: pixel value 0.5 at index 0 is not an integer from 0 to 255');
    expect(e.file).toBe('scan-17');
    expect(errorOf(() => shardsFromExamples(MNIST_TASK, { images: withAt(0, digit('seven', 0)) }, 1)).message).toBe(
      "images[0]: 'seven' is not one of the mnist task's classes: '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'",
    );
  });

  it('refuses examples for another task, of the wrong kind, too few for the shards, or of no known shape', () => {
    expect(errorOf(() => shardsFromExamples(MNIST_TASK, { task: 'spam', texts: [] }, 1)).message).toBe(
      "this site's examples are for the spam task, but this run trains the mnist task",
    );
    expect(errorOf(() => shardsFromExamples(MNIST_TASK, { texts: [{ label: '1', text: 'one' }] }, 1)).message).toBe(
      'texts[0]: the mnist task takes images, not text',
    );
    expect(errorOf(() => shardsFromExamples(MNIST_TASK, { images: [digit(1, 0)] }, 2)).message).toBe(
      "this site's examples: 1 example cannot give each of this tab's 2 mini-clients one: pick at least 2",
    );
    expect(errorOf(() => shardsFromExamples(MNIST_TASK, { pictures: [] } as never, 1)).message).toBe(
      "this site's examples: give one of images, texts, rows (arrays) or csv (a string)",
    );
  });

  it('takes texts for a token task', () => {
    const { shards, summary } = shardsFromExamples(
      SPAM_TASK,
      {
        texts: [
          { label: 'spam', text: 'Subject: win\n\nwin money now' },
          { label: 'ham', text: 'Subject: lunch\n\nat noon?' },
        ],
      },
      1,
    );
    expect(summary.count).toBe(2);
    expect(decodeShard(shards[0]!).n).toBe(2);
  });

  it('takes rows or CSV text for a tabular task, a row that does not fit named by its index', () => {
    const rows: ExampleRow[] = [
      { 'petal length': 1.4, colour: 'red', label: 'setosa' },
      { 'petal length': '5.1', colour: 'white', label: 'virginica', note: 'ignored' },
    ];
    const fromRows = shardsFromExamples(flowers, { rows }, 1);
    const fromCsv = shardsFromExamples(flowers, { csv: 'petal length,colour,label\n1.4,red,setosa\n5.1,white,virginica\n' }, 1);
    expect(Array.from(decodeShard(fromRows.shards[0]!).x)).toEqual(Array.from(decodeShard(fromCsv.shards[0]!).x));
    expect(Array.from(decodeShard(fromRows.shards[0]!).x)).toEqual([Math.fround(1.4), 1, 0, Math.fround(5.1), 0, 1]);
    expect(errorOf(() => shardsFromExamples(flowers, { rows: [rows[0]!, { 'petal length': 'tall', colour: 'red', label: 'setosa' }] }, 1)).message).toBe(
      "rows[1] row 2, column 'petal length': 'tall' is not a number",
    );
    expect(errorOf(() => shardsFromExamples(flowers, { rows: [{ colour: 'red', label: 'setosa' }] }, 1)).message).toBe(
      "rows[0]: no value for the column 'petal length' (the flowers task needs 'petal length', 'colour', 'label')",
    );
    // A label under another column name, and a field with a comma quoted on the way through.
    const kinds = { ...flowers, classes: ['a, b', 'c'] };
    const labelled = shardsFromExamples(kinds, { rows: [{ 'petal length': 1, colour: 'red', kind: 'a, b' }], labelColumn: 'kind' }, 1);
    expect(labelled.summary.histogram).toEqual([1, 0]);
  });
});
