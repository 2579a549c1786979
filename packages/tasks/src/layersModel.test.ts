import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelShape } from './input.ts';
import { SUPPORTED_LAYERS } from './layerSupport.ts';
import { MAX_LAYERS_PARAMS, buildLayersModel, layersTopologyProblems, parseModelJson, summarizeLayersTopology } from './layersModel.ts';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), 'utf8');
const MNIST: ModelShape = { input: { kind: 'image', height: 28, width: 28, channels: 1 }, classes: 10 };
// biome-ignore lint/suspicious/noExplicitAny: the tests edit parsed model.json trees in place, whatever their depth
type Json = Record<string, any>;
const clone = <T>(x: T): T => structuredClone(x);

beforeAll(async () => {
  // @hushfl/tasks picks no backend for its users; its tests use the cpu one (a devDependency).
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
});

describe('parseModelJson', () => {
  it('reads the model.json tensorflowjs_converter writes from Keras 2 and 3, dropping the training config', () => {
    for (const name of ['keras-mnist-cnn.model.json', 'keras3-mnist-cnn-functional.model.json']) {
      const file = JSON.parse(fixture(name));
      const { topology } = parseModelJson(fixture(name));
      const { training_config, ...rest } = file.modelTopology;
      expect(training_config).toBeDefined();
      expect(topology).toEqual(rest);
    }
  });

  it('reads a bare topology and the output of tf.LayersModel.toJSON() (a JSON string of it)', () => {
    const topology = JSON.parse(fixture('keras-mnist-cnn.model.json')).modelTopology.model_config;
    expect(parseModelJson(JSON.stringify(topology)).topology).toEqual(topology);
    expect(parseModelJson(JSON.stringify(JSON.stringify(topology))).topology).toEqual(topology);
    const saved = { modelTopology: { ...topology, keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' }, format: 'layers-model' };
    expect(parseModelJson(JSON.stringify(saved)).topology.class_name).toBe('Sequential');
  });

  it('says what is wrong with a file that is not a layers model', () => {
    expect(() => parseModelJson('{"format": "layers-model", ')).toThrow(/model.json is not JSON/);
    expect(() => parseModelJson('[1, 2]')).toThrow(/must be a JSON object/);
    const graph = JSON.stringify({ format: 'graph-model', generatedBy: '2.15.0', convertedBy: 'TensorFlow.js Converter v4.22.0', modelTopology: { node: [] } });
    expect(() => parseModelJson(graph)).toThrow(/graph model .* cannot train: .*--output_format tfjs_layers_model/);
    // Old converters wrote graph models without a format: the GraphDef's node list gives them away.
    expect(() => parseModelJson(JSON.stringify({ modelTopology: { node: [{ name: 'x', op: 'Placeholder' }] } }))).toThrow(/graph model/);
    expect(() => parseModelJson(JSON.stringify({ weightsManifest: [] }))).toThrow(/no modelTopology/);
    expect(() => parseModelJson(JSON.stringify({ format: 'layers-model', modelTopology: null }))).toThrow(/no modelTopology object/);
    expect(() => parseModelJson(JSON.stringify({ class_name: 'Sequential', config: { name: 's' } }))).toThrow(/no layers list/);
    expect(() => parseModelJson(JSON.stringify({ class_name: 'Dense', config: { units: 3 } }))).toThrow(/not a Sequential or Functional/);
  });

  it('refuses a topology over the run config cap', () => {
    const file = JSON.parse(fixture('keras-mnist-cnn.model.json'));
    file.modelTopology.model_config.config.layers[1].config.padding_note = 'x'.repeat(300 * 1024);
    expect(() => parseModelJson(JSON.stringify(file))).toThrow(/characters of JSON, at most 262,144/);
  });
});

describe('layersTopologyProblems', () => {
  const mnist = () => parseModelJson(fixture('keras-mnist-cnn.model.json')).topology;
  const keras3 = () => parseModelJson(fixture('keras3-mnist-cnn-functional.model.json')).topology;

  it('finds nothing wrong with the converted MNIST CNNs on 28×28×1 images and 10 classes', () => {
    expect(layersTopologyProblems(mnist(), MNIST)).toEqual([]);
    expect(layersTopologyProblems(keras3(), MNIST)).toEqual([]);
    const s = summarizeLayersTopology(mnist());
    expect(s.layers.map((l) => l.className)).toEqual(['InputLayer', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense', 'Dense']);
    expect(s.inputShape).toEqual([28, 28, 1]);
    expect(s.outputShape).toEqual([10]);
    expect(s.params).toBe(3 * 3 * 1 * 32 + 32 + 13 * 13 * 32 * 64 + 64 + 64 * 10 + 10);
  });

  it('names the final units when the task has another number of classes', () => {
    const problems = layersTopologyProblems(mnist(), { ...MNIST, classes: 3 });
    expect(problems).toEqual(["the final units: the last layer 'dense_1' (Dense) outputs 10 values per example, the task has 3 classes"]);
  });

  it('lists every layer that does not train here by name, with the supported layers', () => {
    const { topology } = parseModelJson(fixture('keras-unsupported-layers.model.json'));
    const problems = layersTopologyProblems(topology, MNIST);
    const supported = SUPPORTED_LAYERS.join(', ');
    expect(problems).toEqual([
      "layer 'conv2d' (Conv2D): padding same is not supported (only valid)",
      `layer 'batch_normalization' (BatchNormalization) is not supported (supported: ${supported})`,
      `layer 'lstm' (LSTM) is not supported (supported: ${supported})`,
      `layer 'dropout' (Dropout) is not supported (supported: ${supported})`,
    ]);
    expect(() => buildLayersModel(topology, MNIST)).toThrow(/cannot train here: .*padding same.*BatchNormalization.*LSTM.*Dropout/);
  });

  it('checks the input against the task: an image of another size, a tabular row, token ids', () => {
    expect(layersTopologyProblems(mnist(), { input: { kind: 'image', height: 32, width: 32, channels: 3 }, classes: 10 })).toEqual([
      "the model takes 28×28×1 inputs, the task's are image 32×32×3 (give the model an input of [32, 32, 3] or [3072])",
    ]);
    const tokens = { input: { kind: 'tokens', vocabulary: 4096, length: 128 }, classes: 10 } as const;
    expect(layersTopologyProblems(mnist(), tokens)).toEqual([
      "layer 'conv2d' (Conv2D): a model over token ids must start with an Embedding layer (the ids are categories, not magnitudes)",
      "the model takes 28×28×1 inputs, the task's are tokens 128 of 4096 (give the model an input of [128])",
    ]);
  });

  it('takes a token model that starts with an Embedding covering the vocabulary', () => {
    const bag = (inputDim: number, extra: Json[] = []) => ({
      class_name: 'Sequential',
      config: {
        name: 'bag',
        layers: [
          { class_name: 'InputLayer', config: { batch_input_shape: [null, 128], dtype: 'int32', name: 'tokens' } },
          { class_name: 'Embedding', config: { name: 'embedding', input_dim: inputDim, output_dim: 8, input_length: 128, mask_zero: false } },
          { class_name: 'GlobalAveragePooling1D', config: { name: 'pool', data_format: 'channels_last' } },
          ...extra,
          { class_name: 'Dense', config: { name: 'out', units: 2, activation: 'softmax' } },
        ],
      },
    });
    const spam = { input: { kind: 'tokens', vocabulary: 4096, length: 128 }, classes: 2 } as const;
    expect(layersTopologyProblems(bag(4096), spam)).toEqual([]);
    expect(summarizeLayersTopology(bag(5000)).params).toBe(5000 * 8 + 8 * 2 + 2);
    expect(layersTopologyProblems(bag(1000), spam)).toEqual([
      "layer 'embedding' (Embedding): input_dim 1000 is smaller than the task's vocabulary of 4096: every token id must have a row",
    ]);
    // An Embedding over pixels, or a second one, is refused.
    const onImages = {
      ...spam,
      input: { kind: 'tabular', columns: Array.from({ length: 128 }, (_, i) => ({ name: `c${i}`, type: 'number' as const })) },
    } as const;
    expect(layersTopologyProblems(bag(4096), onImages)).toEqual([
      "layer 'embedding' (Embedding): an Embedding takes token ids, the task's input is tabular (128 columns)",
    ]);
    const m = buildLayersModel(bag(4096), spam);
    const ids = tf.tensor2d(
      Array.from({ length: 2 * 128 }, (_, i) => (i * 37) % 4096),
      [2, 128],
    );
    const y = m.predict(ids) as tf.Tensor;
    expect(y.shape).toEqual([2, 2]);
    tf.dispose([ids, y]);
    m.dispose();
  });

  it('refuses branches and merges, but reads a Functional chain in data-flow order', () => {
    const t = keras3() as Json;
    const layers = t.model_config.config.layers as Json[];
    // The same chain listed out of order is still a chain.
    const shuffled = clone(t);
    shuffled.model_config.config.layers = [layers[0], layers[3], layers[1], layers[5], layers[2], layers[4]];
    expect(layersTopologyProblems(shuffled, MNIST)).toEqual([]);
    expect(summarizeLayersTopology(shuffled).layers.map((l) => l.name)).toEqual(['input_layer', 'conv2d', 'max_pooling2d', 'flatten', 'dense', 'dense_1']);

    // flatten → dense and flatten → dense_b, merged by Add: a residual-style branch.
    const branched = clone(t);
    const bl = branched.model_config.config.layers as Json[];
    const dense = bl[4]!;
    const denseB = clone(dense);
    denseB.name = 'dense_b';
    denseB.config.name = 'dense_b';
    const ref = (name: string) => ({ class_name: '__keras_tensor__', config: { shape: [null, 32], dtype: 'float32', keras_history: [name, 0, 0] } });
    const add = {
      module: 'keras.layers',
      class_name: 'Add',
      config: { name: 'add', trainable: true },
      registered_name: null,
      name: 'add',
      inbound_nodes: [{ args: [[ref('dense'), ref('dense_b')]], kwargs: {} }],
    };
    bl.splice(5, 0, denseB, add);
    bl[7]!.inbound_nodes = [{ args: [ref('add')], kwargs: {} }];
    const problems = layersTopologyProblems(branched, MNIST);
    expect(problems).toContain("layer 'add' (Add) takes 2 inputs (dense, dense_b): only a chain of layers is supported");
    expect(problems).toContain("layer 'flatten' feeds 2 layers (dense, dense_b): only a chain of layers is supported");
    expect(problems.some((p) => p.startsWith("layer 'add' (Add) is not supported"))).toBe(true);

    // Keras 2's nested inbound nodes and two outputs.
    const twoOut = {
      class_name: 'Functional',
      config: {
        name: 'm',
        layers: [
          { name: 'in', class_name: 'InputLayer', config: { batch_input_shape: [null, 784], name: 'in' }, inbound_nodes: [] },
          { name: 'a', class_name: 'Dense', config: { name: 'a', units: 10 }, inbound_nodes: [[['in', 0, 0, {}]]] },
          { name: 'b', class_name: 'Dense', config: { name: 'b', units: 10 }, inbound_nodes: [[['in', 0, 0, {}]]] },
        ],
        input_layers: [['in', 0, 0]],
        output_layers: [
          ['a', 0, 0],
          ['b', 0, 0],
        ],
      },
    };
    expect(layersTopologyProblems(twoOut, MNIST)).toEqual([
      'the model has 2 outputs, only one is supported',
      "layer 'in' feeds 2 layers (a, b): only a chain of layers is supported",
    ]);
  });

  it('caps the parameters, and says what training here ignores', () => {
    const big = clone(mnist()) as Json;
    big.model_config.config.layers[4].config.units = 1000;
    const n = 320 + 5408 * 1000 + 1000 + 1000 * 10 + 10;
    expect(n).toBeGreaterThan(MAX_LAYERS_PARAMS);
    expect(layersTopologyProblems(big, MNIST)).toEqual([`the model has ${n.toLocaleString('en-US')} parameters, at most 5,000,000`]);

    const odd = clone(mnist()) as Json;
    const l = odd.model_config.config.layers;
    l[4].config.kernel_constraint = { class_name: 'MaxNorm', config: { max_value: 1, axis: 0 } };
    l[1].config.trainable = false;
    l[5].config.activation = 'softmax';
    l[4].config.activation = 'softmax';
    expect(layersTopologyProblems(odd, MNIST)).toEqual([
      "layer 'conv2d' (Conv2D): a frozen layer (trainable: false) is not supported",
      "layer 'dense' (Dense): activation softmax is not supported (supported: linear, relu, tanh, sigmoid, and softmax on the last layer)",
      "layer 'dense' (Dense): kernel_constraint is not supported (training would ignore it)",
    ]);
  });

  it('follows the shapes: a Dense on an image, a kernel larger than its input, a model without an input shape', () => {
    const noFlatten = clone(mnist()) as Json;
    noFlatten.model_config.config.layers.splice(3, 1);
    expect(layersTopologyProblems(noFlatten, MNIST)).toEqual([
      "layer 'dense' (Dense) gets a 13×13×32 input: a dense layer here takes a vector, put a Flatten before it",
    ]);
    const hugeKernel = clone(mnist()) as Json;
    hugeKernel.model_config.config.layers[1].config.kernel_size = [29, 29];
    expect(layersTopologyProblems(hugeKernel, MNIST)).toEqual(["layer 'conv2d' (Conv2D) gets a 28×28×1 input: smaller than its 29×29 kernel"]);
    const unbuilt = { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'Dense', config: { name: 'd', units: 10 } }] } };
    expect(layersTopologyProblems(unbuilt, MNIST)).toEqual([
      'the model does not say its input shape: give it an Input layer (keras.Input(shape=…)) or build it before saving',
    ]);
    // Keras 3 keeps a Sequential built without an Input layer's shape as build_input_shape.
    expect(layersTopologyProblems({ ...unbuilt, config: { ...unbuilt.config, build_input_shape: [null, 784] } }, MNIST)).toEqual([]);
    // Keras 2.2 wrote a Sequential's config as the bare layer list.
    const legacy = { class_name: 'Sequential', config: [{ class_name: 'Dense', config: { name: 'd', units: 10, batch_input_shape: [null, 28, 28] } }] };
    expect(layersTopologyProblems(legacy, MNIST)).toEqual(["layer 'd' (Dense) gets a 28×28 input: a dense layer here takes a vector, put a Flatten before it"]);
    const variable = clone(mnist()) as Json;
    variable.model_config.config.layers[0].config.batch_input_shape = [null, null, 28, 1];
    expect(layersTopologyProblems(variable, MNIST)).toEqual(["the model's input shape [null, 28, 1] must be fixed: every dimension a positive number"]);
    const custom = clone(mnist()) as Json;
    custom.model_config.config.layers[4].config.kernel_initializer = { module: 'my_lib', class_name: 'MyInit', config: {}, registered_name: 'Custom>MyInit' };
    expect(layersTopologyProblems(custom, MNIST)).toEqual([
      expect.stringMatching(/^layer 'dense' \(Dense\): kernel_initializer MyInit is not supported \(supported: Zeros, Ones, /),
    ]);
  });
});

describe('buildLayersModel', () => {
  const weightShapes = (name: string) => (JSON.parse(fixture(name)).weightsManifest[0].weights as { shape: number[] }[]).map((w) => w.shape);

  it('builds the converted CNNs over flat rows, in the weight order of the converter’s manifest, emitting logits', () => {
    for (const [name, params] of [
      ['keras-mnist-cnn.model.json', 3 * 3 * 1 * 32 + 32 + 13 * 13 * 32 * 64 + 64 + 64 * 10 + 10],
      ['keras3-mnist-cnn-functional.model.json', 5 * 5 * 1 * 8 + 8 + 12 * 12 * 8 * 32 + 32 + 32 * 10 + 10],
    ] as const) {
      const model = buildLayersModel(parseModelJson(fixture(name)).topology, MNIST);
      expect(model.countParams()).toBe(params);
      expect(model.inputs[0]!.shape).toEqual([null, 784]);
      expect(model.layers[0]!.getClassName()).toBe('Reshape');
      // The converter's .bin shards, once loaded, go in this order: the Reshape put first has no weights.
      expect(model.getWeights().map((w) => w.shape)).toEqual(weightShapes(name));
      const x = tf.randomUniform([2, 784]);
      const y = model.predict(x) as tf.Tensor;
      expect(y.shape).toEqual([2, 10]);
      // Logits, not the topology's softmax probabilities: some are negative, rows do not sum to 1.
      const v = y.dataSync();
      expect(Math.min(...v)).toBeLessThan(0);
      tf.dispose([x, y]);
      model.dispose();
    }
  });

  it('builds the same model twice (fresh variable names), and takes a flat-input MLP as is', () => {
    const { topology } = parseModelJson(fixture('keras-mnist-cnn.model.json'));
    const a = buildLayersModel(topology, MNIST);
    const b = buildLayersModel(topology, MNIST);
    expect(b.countParams()).toBe(a.countParams());
    a.dispose();
    b.dispose();
    const mlp = {
      class_name: 'Sequential',
      config: {
        name: 'mlp',
        layers: [
          { class_name: 'Dense', config: { name: 'hidden', units: 16, activation: 'tanh', batch_input_shape: [null, 784] } },
          { class_name: 'Dense', config: { name: 'logits', units: 10 } },
        ],
      },
    };
    // Keras' names for initializers tfjs-layers spells otherwise, as a class or a bare name.
    Object.assign(mlp.config.layers[0]!.config, { kernel_initializer: { class_name: 'LecunNormal', config: { seed: 3 } }, bias_initializer: 'zeros' });
    Object.assign(mlp.config.layers[1]!.config, { kernel_initializer: 'lecun_uniform' });
    const m = buildLayersModel(mlp, MNIST);
    expect(m.layers.map((l) => l.name)).toEqual(['hidden', 'logits']);
    // tfjs-layers' LeCun initializers are VarianceScaling(1, fan_in) underneath.
    expect(m.layers.map((l) => (l.getConfig().kernelInitializer as { config: { mode: string; distribution: string } }).config)).toMatchObject([
      { mode: 'fanIn', distribution: 'normal' },
      { mode: 'fanIn', distribution: 'uniform' },
    ]);
    expect(m.countParams()).toBe(784 * 16 + 16 + 16 * 10 + 10);
    m.dispose();
    // A closing Activation('softmax') layer is made linear too: logits out.
    mlp.config.layers.push({ class_name: 'Activation', config: { name: 'probabilities', activation: 'softmax' } } as (typeof mlp.config.layers)[number]);
    const withSoftmax = buildLayersModel(mlp, MNIST);
    const y = withSoftmax.predict(tf.randomUniform([4, 784])) as tf.Tensor;
    expect(Math.min(...y.dataSync())).toBeLessThan(0);
    tf.dispose(y);
    withSoftmax.dispose();
  });

  it('reads back what tfjs-layers itself writes (toJSON), to the same model', () => {
    const original = tfl.sequential({
      layers: [
        tfl.layers.reshape({ targetShape: [28, 28, 1], inputShape: [784] }),
        tfl.layers.conv2d({ filters: 4, kernelSize: 5, activation: 'relu' }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 10 }),
      ],
    });
    const { topology } = parseModelJson(original.toJSON() as string);
    expect(layersTopologyProblems(topology, MNIST)).toEqual([]);
    const rebuilt = buildLayersModel(topology, MNIST);
    expect(rebuilt.layers.map((l) => l.getClassName())).toEqual(['Reshape', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense']);
    expect(rebuilt.countParams()).toBe(original.countParams());
    original.dispose();
    rebuilt.dispose();
  });

  it('trains: a few steps of plain TF.js on synthetic digits lower the loss', () => {
    const model = buildLayersModel(parseModelJson(fixture('keras3-mnist-cnn-functional.model.json')).topology, MNIST);
    // Two classes told apart by which half of the image is lit, with noise; labels spread over 10 classes.
    const n = 16;
    const labels = Array.from({ length: n }, (_, i) => (i % 2) * 7);
    const x = tf.tidy(() => {
      const rows = labels.map((c) => {
        const top = tf.concat([tf.ones([14, 28]), tf.zeros([14, 28])]);
        return tf.reshape(c === 0 ? top : tf.reverse(top, 0), [784]);
      });
      return tf.add(tf.stack(rows), tf.randomUniform([n, 784], 0, 0.3));
    });
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
    const optimizer = tf.train.sgd(0.1);
    const loss = () => tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor) as tf.Scalar;
    const before = tf.tidy(() => loss().dataSync()[0]!);
    for (let step = 0; step < 5; step++) optimizer.minimize(loss, true)?.dispose();
    const after = tf.tidy(() => loss().dataSync()[0]!);
    expect(after).toBeLessThan(before * 0.5);
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  });
});
