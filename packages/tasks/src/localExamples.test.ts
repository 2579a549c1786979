import { describe, expect, it } from 'vitest';
import { decodeShard } from './data.ts';
import { inputSize } from './input.ts';
import {
  checkImageSize,
  LocalDataError,
  localDataExpectation,
  LocalExamples,
  parseCsv,
  parseLabelsCsv,
  PREVIEW_EXAMPLES,
  type ImageExample,
} from './localExamples.ts';
import { MNIST_TASK, SPAM_TASK, type TaskDescription } from './registry.ts';
import { emailText, tokenize } from './text.ts';

/** A task like MNIST with other images (size, channels), for the conversions. */
const imageTask = (width: number, height: number, channels: number): TaskDescription => ({
  ...MNIST_TASK,
  name: `img${channels}`,
  input: { kind: 'image', width, height, channels },
  classes: ['cat', 'dog'],
});

const tabular: TaskDescription = {
  ...MNIST_TASK,
  name: 'flowers',
  input: {
    kind: 'tabular',
    columns: [
      { name: 'petal length', type: 'number' },
      { name: 'colour', type: 'category', values: ['red', 'white', 'blue'] },
      { name: 'width', type: 'number' },
    ],
  },
  classes: ['setosa', 'virginica'],
  preprocessing: [],
};

const words: TaskDescription = { ...SPAM_TASK, name: 'words', input: { kind: 'tokens', vocabulary: 1000, length: 5 }, preprocessing: [{ op: 'tokenize' }] };

/** The BT.601 luma, computed in floating point (the module uses integers). */
const luma = (r: number, g: number, b: number) => Math.round(0.299 * r + 0.587 * g + 0.114 * b);

/** A width×height RGBA image of one colour. */
function rgba(file: string, label: string, width: number, height: number, [r, g, b, a]: readonly number[]): ImageExample {
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) pixels.set([r!, g!, b!, a!], i * 4);
  return { file, label, width, height, channels: 4, pixels };
}

/** A 28×28 gray image whose pixel p is (p + seed) mod 256. */
function gray(file: string, label: string, seed: number, side = 28): ImageExample {
  const pixels = Uint8Array.from({ length: side * side }, (_, p) => (p + seed) % 256);
  return { file, label, width: side, height: side, channels: 1, pixels };
}

function errorOf(f: () => unknown): LocalDataError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(LocalDataError);
    return e as LocalDataError;
  }
  throw new Error('expected a LocalDataError');
}

describe('local images', () => {
  it('converts RGBA to gray by the BT.601 luma, keeps gray, and stores 8-bit pixels the shard decodes ÷255', () => {
    const ex = new LocalExamples(MNIST_TASK);
    const colours = [
      [255, 255, 255, 255],
      [255, 0, 0, 255],
      [0, 255, 0, 255],
      [0, 0, 255, 128],
      [12, 200, 77, 0],
    ];
    for (const [i, c] of colours.entries()) ex.addImage(rgba(`digits/${i}/a.png`, String(i), 28, 28, c));
    ex.addImage(gray('digits/7/b.png', '7', 3));
    const { shards, summary } = ex.finish();
    expect(shards).toHaveLength(1);
    const d = decodeShard(shards[0]!);
    expect(d).toMatchObject({ n: 6, features: 784, classes: 10 });
    expect(Array.from(d.labels)).toEqual([0, 1, 2, 3, 4, 7]);
    colours.forEach(([r, g, b], i) => {
      const want = luma(r!, g!, b!) / 255;
      for (const p of [0, 391, 783]) expect(d.x[i * 784 + p]).toBeCloseTo(want, 6);
    });
    expect([luma(255, 255, 255), luma(255, 0, 0), luma(0, 255, 0), luma(0, 0, 255)]).toEqual([255, 76, 150, 29]);
    for (const p of [0, 500, 783]) expect(d.x[5 * 784 + p]).toBeCloseTo(((p + 3) % 256) / 255, 6);
    expect(summary).toMatchObject({ task: 'mnist', count: 6, perShard: [6], classes: MNIST_TASK.classes });
    expect(summary.histogram).toEqual([1, 1, 1, 1, 1, 0, 0, 1, 0, 0]);
  });

  it('makes RGB and RGBA task images from gray, RGB and RGBA pixels', () => {
    const rgb = new LocalExamples(imageTask(2, 1, 3));
    rgb.addImage({ file: 'g.png', label: 'cat', width: 2, height: 1, channels: 1, pixels: Uint8Array.of(10, 20) });
    rgb.addImage({ file: 'c.png', label: 'dog', width: 2, height: 1, channels: 3, pixels: Uint8Array.of(1, 2, 3, 4, 5, 6) });
    rgb.addImage({ file: 'a.png', label: 'dog', width: 2, height: 1, channels: 4, pixels: Uint8Array.of(1, 2, 3, 9, 4, 5, 6, 9) });
    const d = decodeShard(rgb.finish().shards[0]!);
    expect(Array.from(d.x, (v) => Math.round(v * 255))).toEqual([10, 10, 10, 20, 20, 20, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);

    const four = new LocalExamples(imageTask(1, 2, 4));
    four.addImage({ file: 'g.png', label: 'cat', width: 1, height: 2, channels: 1, pixels: Uint8Array.of(7, 8) });
    four.addImage({ file: 'c.png', label: 'cat', width: 1, height: 2, channels: 3, pixels: Uint8Array.of(1, 2, 3, 4, 5, 6) });
    four.addImage({ file: 'a.png', label: 'cat', width: 1, height: 2, channels: 4, pixels: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) });
    const e = decodeShard(four.finish().shards[0]!);
    expect(Array.from(e.x, (v) => Math.round(v * 255))).toEqual([7, 7, 7, 255, 8, 8, 8, 255, 1, 2, 3, 255, 4, 5, 6, 255, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('refuses an image of the wrong size, naming the file and both sizes', () => {
    const ex = new LocalExamples(MNIST_TASK);
    const e = errorOf(() => ex.addImage(rgba('digits/3/big.png', '3', 32, 30, [0, 0, 0, 255])));
    expect(e.message).toBe('digits/3/big.png: the image is 32×30 pixels; the mnist task needs 28×28 (width×height): resize it or leave it out');
    expect(e.file).toBe('digits/3/big.png');
    expect(() => checkImageSize(MNIST_TASK, 'x.png', 28, 27)).toThrow('x.png: the image is 28×27 pixels; the mnist task needs 28×28');
    expect(ex.count).toBe(0);
  });

  it('refuses a label that is not a class, naming the file and listing the classes', () => {
    const ex = new LocalExamples(MNIST_TASK);
    const e = errorOf(() => ex.addImage(gray('digits/seven/a.png', 'seven', 0)));
    expect(e.message).toBe("digits/seven/a.png: 'seven' is not one of the mnist task's classes: '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'");
    expect(e.file).toBe('digits/seven/a.png');
    expect(ex.count).toBe(0);
  });

  it('refuses pixels that do not fill the image, and other channel counts', () => {
    const ex = new LocalExamples(MNIST_TASK);
    expect(errorOf(() => ex.addImage({ file: 'a.png', label: '1', width: 28, height: 28, channels: 4, pixels: new Uint8Array(784) })).message).toBe(
      'a.png: 784 values for 28×28 pixels of 4 channels (expected 3136)',
    );
    expect(errorOf(() => ex.addImage({ file: 'b.png', label: '1', width: 28, height: 28, channels: 2 as 1, pixels: new Uint8Array(1568) })).message).toBe(
      'b.png: 2 channels per pixel; expected 1, 3 or 4',
    );
  });

  it('refuses an empty set, saying what the task expects', () => {
    const e = errorOf(() => new LocalExamples(MNIST_TASK).finish(1, 'the folder digits'));
    expect(e.message).toBe(`the folder digits: no examples for the mnist task. ${localDataExpectation(MNIST_TASK)}`);
    expect(e.message).toContain('28×28 pixels');
    expect(e.file).toBeUndefined();
  });

  it('grows past its first allocation without losing an example', () => {
    const ex = new LocalExamples(MNIST_TASK);
    const n = 300;
    for (let i = 0; i < n; i++) ex.addImage(gray(`d/${i % 10}/${i}.png`, String(i % 10), i));
    const d = decodeShard(ex.finish().shards[0]!);
    expect(d.n).toBe(n);
    for (let i = 0; i < n; i++) {
      expect(d.labels[i]).toBe(i % 10);
      expect(d.x[i * 784 + 5]).toBeCloseTo(((5 + i) % 256) / 255, 6);
    }
    expect(ex.finish().summary.histogram).toEqual(Array.from({ length: 10 }, () => n / 10));
  });
});

describe('shards per mini-client and the preview', () => {
  it('deals example i to shard i mod parts', () => {
    const ex = new LocalExamples(MNIST_TASK);
    const n = 11;
    for (let i = 0; i < n; i++) ex.addImage(gray(`d/${i % 10}/${i}.png`, String(i % 10), i * 7));
    const parts = 3;
    const { shards, summary } = ex.finish(parts);
    expect(summary.perShard).toEqual([4, 4, 3]);
    shards.forEach((bytes, p) => {
      const d = decodeShard(bytes);
      expect(d.n).toBe(summary.perShard[p]);
      for (let j = 0; j < d.n; j++) {
        const i = p + j * parts;
        expect(d.labels[j]).toBe(i % 10);
        expect(d.x[j * 784]).toBeCloseTo(((i * 7) % 256) / 255, 6);
      }
    });
    expect(summary.count).toBe(n);
  });

  it('refuses fewer examples than mini-clients', () => {
    const ex = new LocalExamples(MNIST_TASK);
    ex.addImage(gray('a.png', '1', 0));
    ex.addImage(gray('b.png', '2', 0));
    expect(errorOf(() => ex.finish(3, 'the folder d')).message).toBe(
      "the folder d: 2 examples cannot give each of this tab's 3 mini-clients one: pick at least 3",
    );
    expect(() => ex.finish(0)).toThrow(RangeError);
  });

  it('previews a few examples spread over the classes, with their stored pixels', () => {
    const ten = new LocalExamples(MNIST_TASK);
    for (let i = 0; i < 40; i++) ten.addImage(gray(`d/${Math.floor(i / 4)}/${i}.png`, String(Math.floor(i / 4)), i));
    const p = ten.finish().summary.preview;
    expect(p).toHaveLength(PREVIEW_EXAMPLES);
    // ceil(8 / 10) = 1 example of each class, in the order they came: classes 0..7.
    expect(p.map((x) => x.label)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    const first = p[0]!;
    expect(first.kind).toBe('image');
    if (first.kind === 'image') {
      expect(first).toMatchObject({ file: 'd/0/0.png', width: 28, height: 28, channels: 1 });
      expect(Array.from(first.values.subarray(0, 3))).toEqual([0, 1, 2]);
    }
    const two = new LocalExamples(imageTask(1, 1, 1));
    for (let i = 0; i < 12; i++) two.addImage({ file: `${i}.png`, label: i < 9 ? 'cat' : 'dog', width: 1, height: 1, channels: 1, pixels: Uint8Array.of(i) });
    // ceil(8 / 2) = 4 of each class.
    expect(two.finish().summary.preview.map((x) => x.file)).toEqual(['0.png', '1.png', '2.png', '3.png', '9.png', '10.png', '11.png']);
  });
});

describe('local text', () => {
  it("tokenizes each file as the demo corpus is (the spam task's email text first)", () => {
    const ex = new LocalExamples(SPAM_TASK);
    const mail = 'From: a@b.c\nSubject: Cheap pills\nX-Mailer: secret\n\nBuy <b>now</b>, friend';
    ex.addText({ file: 'mail/spam/1.eml', label: 'spam', text: mail });
    ex.addText({ file: 'mail/ham/2.eml', label: 'ham', text: 'Subject: lunch\n\nsee you at noon' });
    const { shards, summary } = ex.finish();
    const d = decodeShard(shards[0]!);
    const input = SPAM_TASK.input as Extract<TaskDescription['input'], { kind: 'tokens' }>;
    expect(d).toMatchObject({ n: 2, features: 128, classes: 2 });
    expect(Array.from(d.x.subarray(0, 128))).toEqual(Array.from(tokenize(emailText(mail), input)));
    expect(Array.from(d.x.subarray(128))).toEqual(Array.from(tokenize(emailText('Subject: lunch\n\nsee you at noon'), input)));
    expect(Array.from(d.labels)).toEqual([1, 0]);
    expect(summary.histogram).toEqual([1, 1]);
    expect(summary.preview[0]).toMatchObject({ kind: 'text', label: 'spam' });
    expect(summary.preview[0]!.kind === 'text' && summary.preview[0]!.text).not.toContain('X-Mailer');
  });

  it('tokenizes plain text for a task without email steps; refuses a file with no words and unknown labels', () => {
    const ex = new LocalExamples(words);
    ex.addText({ file: 'a.txt', label: 'ham', text: 'Subject: one two' });
    expect(Array.from(decodeShard(ex.finish().shards[0]!).x)).toEqual(Array.from(tokenize('Subject: one two', words.input as never)));
    expect(errorOf(() => ex.addText({ file: 'notes/empty.txt', label: 'ham', text: ' \n…!? ' })).message).toBe(
      'notes/empty.txt: no words to train on (the file is empty or has no letters or digits)',
    );
    expect(errorOf(() => ex.addText({ file: 'x/eggs/1.txt', label: 'eggs', text: 'hi' })).message).toBe(
      "x/eggs/1.txt: 'eggs' is not one of the words task's classes: 'ham', 'spam'",
    );
  });

  it('says which kind of data a task takes when given another', () => {
    expect(errorOf(() => new LocalExamples(MNIST_TASK).addText({ file: 'a.txt', label: '1', text: 'x' })).message).toBe(
      'a.txt: the mnist task takes images, not text',
    );
    expect(errorOf(() => new LocalExamples(SPAM_TASK).addImage(gray('a.png', 'spam', 0))).message).toBe('a.png: the spam task takes text, not images');
    expect(errorOf(() => new LocalExamples(MNIST_TASK).addCsv('t.csv', 'a,label\n1,2')).message).toBe('t.csv: the mnist task takes images, not CSV rows');
    expect(errorOf(() => new LocalExamples(tabular).addImage(gray('a.png', 'setosa', 0))).message).toBe('a.png: the flowers task takes CSV rows, not images');
  });
});

describe('local CSV rows', () => {
  it('reads numbers and one-hot categories by the header, ignoring other columns, through quotes, CRLF and a BOM', () => {
    const csv =
      '\uFEFFid,colour,"petal length",label,width\r\n' +
      '1,red,1.5,setosa,2\r\n' +
      '"2, the second",  blue ,"-3e-1",virginica, 0.25\r\n' +
      '\r\n' +
      '3,"white",7,"setosa",1e2\r\n';
    const ex = new LocalExamples(tabular);
    expect(ex.addCsv('flowers.csv', csv)).toBe(3);
    const { shards, summary } = ex.finish();
    const d = decodeShard(shards[0]!);
    expect(d).toMatchObject({ n: 3, features: inputSize(tabular.input), classes: 2 });
    expect(d.features).toBe(5);
    // petal length, colour one-hot (red, white, blue), width.
    expect(Array.from(d.x)).toEqual([1.5, 1, 0, 0, 2, Math.fround(-0.3), 0, 0, 1, 0.25, 7, 0, 1, 0, 100]);
    expect(Array.from(d.labels)).toEqual([0, 1, 0]);
    expect(summary.histogram).toEqual([2, 1]);
    expect(summary.columns).toEqual(['petal length', 'colour', 'width', 'label']);
    expect(summary.preview[0]).toEqual({ kind: 'row', file: 'flowers.csv', label: 'setosa', row: 2, cells: ['1.5', 'red', '2', 'setosa'] });
  });

  it('names the file, the row and the column of every bad cell', () => {
    const header = 'petal length,colour,width,label\n';
    const err = (body: string, text = header + body) => errorOf(() => new LocalExamples(tabular).addCsv('f.csv', text)).message;
    expect(err('', 'petal length,width,label\n1,2,setosa\n')).toBe(
      "f.csv: no column 'colour' (its header has 'petal length', 'width', 'label'); the flowers task needs the columns 'petal length', 'colour', 'width', 'label'",
    );
    expect(err('', 'petal length,colour,width,class\n')).toContain("f.csv: no column 'label'");
    expect(err('1,red,2,setosa\n1,red,x,setosa\n')).toBe("f.csv row 3, column 'width': 'x' is not a number");
    expect(err('1,red,,setosa\n')).toBe("f.csv row 2, column 'width': '' is not a number");
    expect(err('1,red,Infinity,setosa\n')).toBe("f.csv row 2, column 'width': 'Infinity' is not a number");
    expect(err('1,green,2,setosa\n')).toBe("f.csv row 2, column 'colour': 'green' is not one of 'red', 'white', 'blue'");
    expect(err('1,red,2,rose\n')).toBe("f.csv row 2, column 'label': 'rose' is not one of the flowers task's classes: 'setosa', 'virginica'");
    expect(err('1,red,2\n')).toBe('f.csv row 2: 3 fields, the header has 4');
    expect(err('1,"red,2,setosa\n')).toBe('f.csv row 2: a quoted field is not closed (a " is missing)');
    expect(err('1,"red"x,2,setosa\n')).toBe("f.csv row 2: a quoted field must end at a comma or the line's end, found 'x'");
    expect(err('', '\n\n')).toBe('f.csv: the file is empty; it needs a header row and one row per example');
    expect(errorOf(() => new LocalExamples(tabular).finish(1, 'f.csv')).message).toContain(
      'f.csv: no examples for the flowers task. One CSV file with a header row',
    );
  });

  it('parses RFC 4180 records: quoted commas, newlines and "" escapes, blank lines skipped, rows counted from the header', () => {
    const rows: [number, string[]][] = [];
    parseCsv('x.csv', 'a,b\n"1,2","say ""hi""\nthere"\n\n,\nlast,""', (fields, row) => rows.push([row, [...fields]]));
    expect(rows).toEqual([
      [1, ['a', 'b']],
      [2, ['1,2', 'say "hi"\nthere']],
      [3, ['', '']],
      [4, ['last', '']],
    ]);
  });
});

describe('labels CSV', () => {
  it('maps file names (their last path segment) to labels, with or without a header', () => {
    const m = parseLabelsCsv('labels.csv', 'filename,label\nimgs/a.png,3\nb.png, 7 \n"c, d.png",1\n');
    expect([...m]).toEqual([
      ['a.png', '3'],
      ['b.png', '7'],
      ['c, d.png', '1'],
    ]);
    expect([...parseLabelsCsv('l.csv', 'a.png,0\r\n')]).toEqual([['a.png', '0']]);
  });

  it('refuses rows that are not filename,label, a file labelled twice, and an empty file', () => {
    expect(() => parseLabelsCsv('l.csv', 'a.png,1,2\n')).toThrow('l.csv row 1: 3 fields, a labels CSV has two per row: filename,label');
    expect(() => parseLabelsCsv('l.csv', 'a.png,1\nx/a.png,2\n')).toThrow("l.csv row 2: 'a.png' is labelled both '1' and '2'");
    expect(() => parseLabelsCsv('l.csv', 'filename,label\n')).toThrow('l.csv: no rows: a labels CSV has a row filename,label per file');
    expect(() => parseLabelsCsv('l.csv', ' ,1\n')).toThrow('l.csv row 1: the filename is empty');
  });
});

describe('what the page says a task expects', () => {
  it('names the image size and colour, the text, or the columns', () => {
    expect(localDataExpectation(MNIST_TASK)).toMatch(/^Images .* exactly 28×28 pixels, grayscale .* subfolder per class/);
    expect(localDataExpectation(imageTask(32, 16, 3))).toContain('32×16 pixels, RGB');
    expect(localDataExpectation(SPAM_TASK)).toContain('The first 128 words');
    expect(localDataExpectation(tabular)).toBe(
      "One CSV file with a header row, the columns petal length (a number), colour (one of red, white, blue), width (a number) and a 'label' column.",
    );
  });
});
