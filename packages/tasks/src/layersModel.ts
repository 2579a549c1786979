/**
 * Custom models from a TensorFlow.js layers model (issue 14 §4): the `model.json` tensorflowjs_converter (or
 * tfjs.converters.save_keras_model) writes from a Keras model, or what tf.LayersModel.toJSON / save writes.
 * Only the topology is used: the converter's weights (.bin shards) are not part of a run config in this version,
 * so a run starts from the topology's initializers like the built-in models do.
 *
 * Formats read: Keras 2 (`model_config.config.layers`, or the older bare layer array, `batch_input_shape`,
 * inbound nodes as `[[[name, node, tensor, kwargs]]]`), Keras 3 (`batch_shape`, DTypePolicy objects,
 * `module` / `registered_name` / `build_config`, inbound nodes as `{args, kwargs}` of `__keras_tensor__`s), and
 * tfjs-layers' own toJSON (`class_name`, `config`, `keras_version` at the top).
 *
 * A model trains here when it is a chain of the layers in layerSupport.ts (a Functional model whose layers form
 * a chain is read as the Sequential it is), its input fits the task's flat row and its last layer gives one
 * value per class. The check is pure (no tensors); building it needs tfjs-layers.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { MAX_TOPOLOGY_CHARS } from '@hushfl/protocol';
import { describeInput, inputSize, type ModelShape, type TaskInput } from './input.ts';
import { modelLayerProblems } from './layerSupport.ts';

/** The most parameters (the DDG dimension d) an uploaded model may have: each round moves d values per client. */
export const MAX_LAYERS_PARAMS = 5_000_000;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const fmtShape = (s: readonly number[]) => s.join('×');
const fmtCount = (n: number) => n.toLocaleString('en-US');

/**
 * The topology of a model.json file, ready for a run config's `task.model = { kind: 'layers', topology }`.
 * Accepts the whole file a converter writes (`format: 'layers-model'`, `modelTopology`, `weightsManifest`), a
 * bare topology, or tf.LayersModel.toJSON()'s output. `training_config` (the Keras optimizer and loss) is
 * dropped: the run config says how clients train. Throws with the reason when the text is not such a model.
 */
export function parseModelJson(text: string): { topology: Record<string, unknown> } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`model.json is not JSON: ${(e as Error).message}`);
  }
  // toJSON() returns the topology as a string; a file may hold that string as its whole content.
  if (typeof doc === 'string') return parseModelJson(doc);
  if (!isObject(doc)) throw new Error('model.json must be a JSON object (a TensorFlow.js layers model)');
  const format = doc.format;
  const graphDef = isObject(doc.modelTopology) && Array.isArray(doc.modelTopology.node);
  if (format === 'graph-model' || graphDef)
    throw new Error(
      'this is a TensorFlow.js graph model (format: graph-model), which is frozen for inference and cannot train: ' +
        'convert the Keras model with tensorflowjs_converter --input_format keras --output_format tfjs_layers_model',
    );
  if (format !== undefined && format !== 'layers-model') throw new Error(`unknown model.json format ${JSON.stringify(format)} (expected layers-model)`);
  let topology: unknown;
  if ('modelTopology' in doc) {
    topology = typeof doc.modelTopology === 'string' ? safeParse(doc.modelTopology) : doc.modelTopology;
    if (!isObject(topology)) throw new Error('model.json has no modelTopology object: save the model with its architecture, not its weights only');
  } else if ('class_name' in doc || 'model_config' in doc) topology = doc;
  else throw new Error('model.json has no modelTopology: expected the model.json of tensorflowjs_converter (format: layers-model) or tf.LayersModel.toJSON()');
  const { training_config: _training, ...kept } = topology as Json;
  const read = readTopology(kept);
  if (read.fatal) throw new Error(read.problems.join('; '));
  const chars = JSON.stringify(kept).length;
  if (chars > MAX_TOPOLOGY_CHARS) throw new Error(`the model topology is ${fmtCount(chars)} characters of JSON, at most ${fmtCount(MAX_TOPOLOGY_CHARS)}`);
  return { topology: kept };
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** What the operator sees beside an upload: the layers, and what can be said without knowing the task. */
export interface LayersTopologySummary {
  readonly layers: readonly { readonly name: string; readonly className: string }[];
  /** Per example, without the batch; null when the topology does not say. */
  readonly inputShape: readonly number[] | null;
  /** Per example; null when not computable (an unsupported layer, a shape that does not fit). */
  readonly outputShape: readonly number[] | null;
  readonly params: number | null;
}

/** The layers, input and output shapes and parameter count of a topology; throws when it is not readable. */
export function summarizeLayersTopology(topology: Record<string, unknown>): LayersTopologySummary {
  const read = readTopology(topology);
  if (read.fatal) throw new Error(read.problems.join('; '));
  const layers = read.layers.map(({ name, className }) => ({ name, className }));
  if (!read.input) return { layers, inputShape: null, outputShape: null, params: null };
  const inferred = inferShapes(read.layers, read.input);
  return { layers, inputShape: read.input, outputShape: inferred.output, params: inferred.params };
}

/**
 * Why the topology cannot train on a task of `shape`, every problem listed (empty: it can). Layers are named
 * as Keras named them. Checked: each layer against layerSupport.ts, the topology is a chain, its input shape
 * is the task's (an image's H×W×C or its flat row, a tabular row, or the token sequence), its last layer
 * gives `classes` values, and at most MAX_LAYERS_PARAMS parameters.
 *
 * Token tasks: the first layer must be an Embedding whose input_dim is at least the task's vocabulary, so
 * every token id in [0, vocabulary) has a row (rows past the vocabulary are never looked up: harmless).
 */
export function layersTopologyProblems(topology: Record<string, unknown>, shape: ModelShape): string[] {
  const read = readTopology(topology);
  const out = [...read.problems];
  if (read.fatal) return out;
  const { layers } = read;
  const body = layers.filter((l) => l.className !== 'InputLayer');
  if (body.length === 0) out.push('the model has no layers besides its input');
  for (const [i, ps] of modelLayerProblems(layers).entries()) for (const p of ps) out.push(nameLayer(layers[i]!, p));
  for (const l of body) out.push(...initializerProblems(l));

  const input = shape.input;
  const first = body[0];
  const embeddings = body.filter((l) => l.className === 'Embedding');
  if (input.kind === 'tokens') {
    if (first && first.className !== 'Embedding')
      out.push(`${label(first)}: a model over token ids must start with an Embedding layer (the ids are categories, not magnitudes)`);
    const inputDim = first?.className === 'Embedding' ? first.config.input_dim : undefined;
    if (isPositiveInt(inputDim) && inputDim < input.vocabulary)
      out.push(`${label(first!)}: input_dim ${inputDim} is smaller than the task's vocabulary of ${input.vocabulary}: every token id must have a row`);
  } else for (const e of embeddings) out.push(`${label(e)}: an Embedding takes token ids, the task's input is ${describeInput(input)}`);

  if (!read.input) return out;
  out.push(...inputProblems(read.input, input));
  const inferred = inferShapes(layers, read.input);
  out.push(...inferred.problems);
  const last = body.at(-1);
  if (inferred.output && last) {
    const o = inferred.output;
    if (o.length !== 1)
      out.push(`the model outputs a ${fmtShape(o)} tensor per example, not one value per class: end with Flatten and Dense(${shape.classes})`);
    else if (o[0] !== shape.classes)
      out.push(`the final units: the last ${label(last)} outputs ${o[0]} values per example, the task has ${shape.classes} classes`);
  }
  if (inferred.params !== null && inferred.params > MAX_LAYERS_PARAMS)
    out.push(`the model has ${fmtCount(inferred.params)} parameters, at most ${fmtCount(MAX_LAYERS_PARAMS)}`);
  return out;
}

/**
 * The topology as a tfjs-layers Sequential model for a task of `shape`, with the topology's initial weights
 * (its initializers; a converter's weight shards are not loaded). It takes the task's flat rows: a Reshape
 * (no weights, so the weight order is the topology's) is put first when the topology expects an image H×W×C.
 * A softmax on the last layer becomes linear: the model emits logits, as every task model does (evaluate and
 * training apply the softmax). Throws the problems of layersTopologyProblems when there are any.
 */
export function buildLayersModel(topology: Record<string, unknown>, shape: ModelShape): tfl.LayersModel {
  const problems = layersTopologyProblems(topology, shape);
  if (problems.length) throw new RangeError(`the model cannot train here: ${problems.join('; ')}`);
  const read = readTopology(topology);
  const dims = read.input!;
  const body = read.layers.filter((l) => l.className !== 'InputLayer');
  const layers = body.map((l, i) => ({ className: l.className, config: layerConfigForTfjs(l.config, i === body.length - 1) }));
  const flat = [null, inputSize(shape.input)];
  if (dims.length > 1) {
    const names = new Set(body.map((l) => l.name));
    let name = 'input_reshape';
    for (let k = 1; names.has(name); k++) name = `input_reshape_${k}`;
    layers.unshift({ className: 'Reshape', config: { name, targetShape: [...dims], batchInputShape: flat } });
  } else layers[0]!.config.batchInputShape = flat;
  const config = { name: read.name ?? 'model', layers };
  // The synchronous deserialiser models.modelFromJSON uses, without its weight loading (which is async).
  return tfl.Sequential.fromConfig<tfl.Sequential>(tfl.Sequential, config as unknown as Parameters<typeof tfl.Sequential.fromConfig>[1]);
}

interface TopologyLayer {
  readonly name: string;
  readonly className: string;
  readonly config: Json;
}

interface ReadTopology {
  readonly name?: string;
  /** In order, the input layer (if any) first. */
  readonly layers: TopologyLayer[];
  /** Per example (the batch dimension dropped); undefined when the topology gives none. */
  readonly input?: number[];
  readonly problems: string[];
  /** No layers could be read: nothing else can be checked. */
  readonly fatal: boolean;
}

const MODEL_CLASSES = ['Sequential', 'Functional', 'Model'];

function readTopology(topology: Json): ReadTopology {
  // The converter nests the model under model_config; toJSON() puts it at the top.
  const model = isObject(topology.model_config) ? topology.model_config : topology;
  const className = model.class_name ?? model.className;
  const config = model.config;
  const fail = (p: string): ReadTopology => ({ layers: [], problems: [p], fatal: true });
  if (typeof className !== 'string') return fail('the topology has no model class_name (Sequential or Functional)');
  if (!MODEL_CLASSES.includes(className)) return fail(`the topology's model is a ${className}, not a Sequential or Functional model`);
  const entries = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(entries)) return fail(`the ${className} model's config has no layers list`);
  const layers: TopologyLayer[] = [];
  for (const [i, e] of entries.entries()) {
    const cls = isObject(e) ? (e.class_name ?? e.className) : undefined;
    const cfg = isObject(e) && isObject(e.config) ? e.config : undefined;
    if (typeof cls !== 'string' || !cfg) return fail(`layer ${i} of the model has no class_name and config`);
    const name = typeof cfg.name === 'string' ? cfg.name : typeof e.name === 'string' ? e.name : `#${i}`;
    layers.push({ name, className: cls, config: cfg });
  }
  const name = isObject(config) && typeof config.name === 'string' ? config.name : undefined;
  const problems: string[] = [];
  let ordered = layers;
  if (className !== 'Sequential') {
    const chain = functionalChain(entries as Json[], layers, config as Json);
    // Not a chain: the listed order says nothing about shapes, so they are not followed.
    if (!chain.order) return { ...(name ? { name } : {}), layers, problems: chain.problems, fatal: false };
    ordered = chain.order;
  }
  const input = inputDims(ordered, isObject(config) ? config.build_input_shape : undefined, problems);
  return { ...(name ? { name } : {}), layers: ordered, ...(input ? { input } : {}), problems, fatal: false };
}

/** The names a Keras 2 or 3 structure refers to as tensors, in order: [name, node, tensor, …] or a __keras_tensor__. */
function tensorRefs(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) {
    if (typeof v[0] === 'string' && typeof v[1] === 'number') out.push(v[0]);
    else for (const x of v) tensorRefs(x, out);
  } else if (isObject(v)) {
    if (v.class_name === '__keras_tensor__') {
      const history = isObject(v.config) ? v.config.keras_history : undefined;
      if (Array.isArray(history) && typeof history[0] === 'string') out.push(history[0]);
    } else for (const x of Object.values(v)) tensorRefs(x, out);
  }
  return out;
}

/** The layers of a Functional model in the order data flows, when they form one chain from input to output. */
function functionalChain(entries: readonly Json[], layers: readonly TopologyLayer[], config: Json): { order?: TopologyLayer[]; problems: string[] } {
  const problems: string[] = [];
  // Inbound nodes name the entry's own `name` (Keras writes it beside the config as well as in it).
  const names = entries.map((e, i) => (typeof e.name === 'string' ? e.name : layers[i]!.name));
  const byName = new Map(names.map((n, i) => [n, layers[i]!]));
  const inputs = [...new Set(tensorRefs(config.input_layers))];
  const outputs = [...new Set(tensorRefs(config.output_layers))];
  if (inputs.length !== 1) problems.push(`the model has ${inputs.length} inputs, only one is supported`);
  if (outputs.length !== 1) problems.push(`the model has ${outputs.length} outputs, only one is supported`);
  const consumers = new Map<string, string[]>();
  for (const [i, e] of entries.entries()) {
    const nodes = e.inbound_nodes ?? e.inboundNodes ?? [];
    if (!Array.isArray(nodes)) continue;
    if (nodes.length > 1) problems.push(`${label(layers[i]!)} is applied ${nodes.length} times (a shared layer): only a chain of layers is supported`);
    // A Keras 3 mask refers to the same layer as the input: each source counts once.
    const sources = [...new Set(tensorRefs(nodes))];
    if (sources.length > 1) problems.push(`${label(layers[i]!)} takes ${sources.length} inputs (${sources.join(', ')}): only a chain of layers is supported`);
    for (const s of sources) consumers.set(s, [...(consumers.get(s) ?? []), names[i]!]);
  }
  for (const [s, ts] of consumers)
    if (ts.length > 1) problems.push(`layer '${s}' feeds ${ts.length} layers (${ts.join(', ')}): only a chain of layers is supported`);
  if (problems.length) return { problems };
  const order: TopologyLayer[] = [];
  for (let at: string | undefined = inputs[0]; at !== undefined && order.length <= layers.length; at = consumers.get(at)?.[0]) {
    const layer = byName.get(at);
    if (!layer) return { problems: [`the model refers to a layer '${at}' it does not define`] };
    order.push(layer);
  }
  if (order.length !== layers.length || order.at(-1) !== byName.get(outputs[0]!))
    return { problems: ['the layers do not form one chain from the input to the output'] };
  return { order, problems };
}

/** The input shape per example: an InputLayer's, the first layer's batch_input_shape, or Sequential's build_input_shape. */
function inputDims(layers: readonly TopologyLayer[], buildInputShape: unknown, problems: string[]): number[] | undefined {
  const first = layers[0]?.config;
  const batchShape = first?.batch_input_shape ?? first?.batch_shape ?? first?.batchInputShape ?? buildInputShape;
  if (batchShape === undefined || batchShape === null) {
    problems.push('the model does not say its input shape: give it an Input layer (keras.Input(shape=…)) or build it before saving');
    return undefined;
  }
  if (!Array.isArray(batchShape) || batchShape.length < 2) {
    problems.push(`the model's input shape ${JSON.stringify(batchShape)} is not a batch shape [null, …]`);
    return undefined;
  }
  const dims = batchShape.slice(1);
  if (!dims.every(isPositiveInt)) {
    problems.push(`the model's input shape [${dims.map(String).join(', ')}] must be fixed: every dimension a positive number`);
    return undefined;
  }
  return dims;
}

/** Whether an example of the task, as its flat row, is what the model takes (after at most a Reshape). */
function inputProblems(dims: readonly number[], input: TaskInput): string[] {
  const size = dims.reduce((a, b) => a * b, 1);
  const what = `the model takes ${fmtShape(dims)} inputs, the task's are ${describeInput(input)}`;
  if (input.kind === 'image') {
    const { height: h, width: w, channels: c } = input;
    const ok =
      (dims.length === 1 && size === h * w * c) ||
      (dims.length === 3 && dims[0] === h && dims[1] === w && dims[2] === c) ||
      (dims.length === 2 && c === 1 && dims[0] === h && dims[1] === w);
    return ok ? [] : [`${what} (give the model an input of [${h}, ${w}, ${c}] or [${h * w * c}])`];
  }
  if (input.kind === 'tokens') return dims.length === 1 && dims[0] === input.length ? [] : [`${what} (give the model an input of [${input.length}])`];
  const n = inputSize(input);
  return dims.length === 1 && dims[0] === n ? [] : [`${what} (give the model an input of [${n}])`];
}

const label = (l: TopologyLayer) => `layer '${l.name}' (${l.className})`;

/** A layer's problems from layerSupport.ts, each naming the layer. */
function nameLayer(layer: TopologyLayer, problem: string): string {
  // "layer Dropout is not supported …" reads as "layer 'dropout' (Dropout) is not supported …".
  const lead = `layer ${layer.className} `;
  return problem.startsWith(lead) ? `${label(layer)} ${problem.slice(lead.length)}` : `${label(layer)}: ${problem}`;
}

/**
 * The initializers tfjs-layers has, by the class names Keras writes: Keras spells LeCun "Lecun", Keras 3 names
 * two classes …Initializer, and a config may give a bare name (glorot_uniform).
 */
const INITIALIZERS: Record<string, string> = {
  Zeros: 'Zeros',
  Ones: 'Ones',
  Constant: 'Constant',
  RandomUniform: 'RandomUniform',
  RandomNormal: 'RandomNormal',
  TruncatedNormal: 'TruncatedNormal',
  VarianceScaling: 'VarianceScaling',
  GlorotUniform: 'GlorotUniform',
  GlorotNormal: 'GlorotNormal',
  HeNormal: 'HeNormal',
  HeUniform: 'HeUniform',
  LecunNormal: 'LeCunNormal',
  LecunUniform: 'LeCunUniform',
  LeCunNormal: 'LeCunNormal',
  LeCunUniform: 'LeCunUniform',
  Orthogonal: 'Orthogonal',
  OrthogonalInitializer: 'Orthogonal',
  Identity: 'Identity',
  IdentityInitializer: 'Identity',
};

/** An initializer as { class_name (tfjs-layers' name), config }; the class name as written when tfjs-layers has none such. */
function initializer(v: unknown): { known: boolean; className: string; config: Json } | undefined {
  const written = typeof v === 'string' ? v.replace(/(^|_)(\w)/g, (_, _u, c: string) => c.toUpperCase()) : isObject(v) ? v.class_name : undefined;
  if (typeof written !== 'string') return undefined;
  const config = isObject(v) && isObject(v.config) ? v.config : {};
  const known = Object.hasOwn(INITIALIZERS, written);
  return { known, className: known ? INITIALIZERS[written]! : written, config };
}

function initializerProblems(layer: TopologyLayer): string[] {
  const out: string[] = [];
  for (const [key, v] of Object.entries(layer.config)) {
    if (!key.endsWith('_initializer') || v === null || v === undefined) continue;
    const init = initializer(v);
    if (!init?.known)
      out.push(`${label(layer)}: ${key} ${init?.className ?? JSON.stringify(v)} is not supported (supported: ${Object.keys(INITIALIZERS).join(', ')})`);
  }
  return out;
}

function pairOf(v: unknown, fallback: [number, number]): [number, number] | undefined {
  if (v === undefined || v === null) return fallback;
  if (isPositiveInt(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every(isPositiveInt)) return v as [number, number];
  return undefined;
}

/** Keras' output length of a window of `k` (dilation `d`) sliding by `s` over `n`. */
function windowed(n: number, k: number, s: number, d: number, padding: unknown): number {
  return padding === 'same' ? Math.ceil(n / s) : Math.floor((n - (k - 1) * d - 1) / s) + 1;
}

/**
 * Each layer's output shape from `input`, and the parameters: what Keras computes for these layers. Stops (null
 * output, null params) at a layer it cannot follow, after saying why when the shape does not fit.
 */
function inferShapes(layers: readonly TopologyLayer[], input: readonly number[]): { output: number[] | null; params: number | null; problems: string[] } {
  const problems: string[] = [];
  let shape: number[] = [...input];
  let params = 0;
  const stop = (p?: string) => {
    if (p) problems.push(p);
    return { output: null, params: null, problems };
  };
  for (const [i, layer] of layers.entries()) {
    const c = layer.config;
    const at = `${label(layer)} gets a ${fmtShape(shape)} input`;
    const bias = c.use_bias !== false;
    switch (layer.className) {
      case 'InputLayer':
        if (i !== 0) return stop(`${label(layer)}: an input layer inside the model is not supported`);
        break;
      case 'Activation':
        break;
      case 'Dense': {
        if (!isPositiveInt(c.units)) return stop(`${label(layer)}: units must be a positive integer`);
        if (shape.length !== 1) return stop(`${at}: a dense layer here takes a vector, put a Flatten before it`);
        params += shape[0]! * c.units + (bias ? c.units : 0);
        shape = [c.units];
        break;
      }
      case 'Conv2D': {
        const k = pairOf(c.kernel_size, [0, 0]);
        const s = pairOf(c.strides, [1, 1]);
        const d = pairOf(c.dilation_rate, [1, 1]);
        if (!isPositiveInt(c.filters) || !k || !s || !d || k[0] === 0) return stop(`${label(layer)}: filters and kernel_size must be positive integers`);
        if (shape.length !== 3) return stop(`${at}: a Conv2D takes a height×width×channels image, put a Reshape before it`);
        const [h, w, ch] = shape as [number, number, number];
        const oh = windowed(h, k[0], s[0], d[0], c.padding);
        const ow = windowed(w, k[1], s[1], d[1], c.padding);
        if (oh < 1 || ow < 1) return stop(`${at}: smaller than its ${fmtShape(k)} kernel`);
        params += k[0] * k[1] * ch * c.filters + (bias ? c.filters : 0);
        shape = [oh, ow, c.filters];
        break;
      }
      case 'MaxPooling2D': {
        const p = pairOf(c.pool_size, [2, 2]);
        const s = pairOf(c.strides, p ?? [2, 2]);
        if (!p || !s) return stop(`${label(layer)}: pool_size and strides must be positive integers`);
        if (shape.length !== 3) return stop(`${at}: a MaxPooling2D takes a height×width×channels image`);
        const [h, w, ch] = shape as [number, number, number];
        const oh = windowed(h, p[0], s[0], 1, c.padding);
        const ow = windowed(w, p[1], s[1], 1, c.padding);
        if (oh < 1 || ow < 1) return stop(`${at}: smaller than its ${fmtShape(p)} pool`);
        shape = [oh, ow, ch];
        break;
      }
      case 'Flatten':
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      case 'Reshape': {
        const t = c.target_shape;
        const size = shape.reduce((a, b) => a * b, 1);
        if (!Array.isArray(t) || !t.every((x) => isPositiveInt(x) || x === -1) || t.filter((x) => x === -1).length > 1)
          return stop(`${label(layer)}: target_shape must be positive integers (one may be -1)`);
        const known = (t as number[]).filter((x) => x !== -1).reduce((a, b) => a * b, 1);
        const resolved = (t as number[]).map((x) => (x === -1 ? size / known : x));
        if (!resolved.every(isPositiveInt) || resolved.reduce((a, b) => a * b, 1) !== size)
          return stop(`${at} of ${size} values, which cannot be reshaped to [${t.join(', ')}]`);
        shape = resolved;
        break;
      }
      case 'Embedding': {
        if (!isPositiveInt(c.input_dim) || !isPositiveInt(c.output_dim)) return stop(`${label(layer)}: input_dim and output_dim must be positive integers`);
        if (shape.length !== 1) return stop(`${at}: an Embedding takes a sequence of token ids`);
        // Keras 2 may pin the sequence length; Keras 3 has no input_length.
        const len = c.input_length;
        if (isPositiveInt(len) && len !== shape[0]) return stop(`${label(layer)}: input_length ${len} is not the input's length ${shape[0]}`);
        params += c.input_dim * c.output_dim;
        shape = [shape[0]!, c.output_dim];
        break;
      }
      case 'GlobalAveragePooling1D': {
        if (shape.length !== 2) return stop(`${at}: a GlobalAveragePooling1D takes a steps×features sequence`);
        shape = c.keepdims === true ? [1, shape[1]!] : [shape[1]!];
        break;
      }
      default:
        // Unsupported: layerProblems has said so; what follows cannot be sized.
        return stop();
    }
  }
  return { output: shape, params, problems };
}

/** Layer-level keys that are not the layer's own arguments in tfjs-layers. */
const DROPPED_KEYS = new Set(['batch_input_shape', 'batch_shape', 'input_shape', 'dtype']);

/**
 * A Keras layer config as tfjs-layers' fromConfig takes it: camelCase keys and string values (as its own
 * convertPythonicToTs does, e.g. channels_last → channelsLast, fan_avg → fanAvg), names kept as they are,
 * Keras 3 `module` / `registered_name` dropped. Input shapes are dropped (the builder sets its own) and so is
 * dtype (everything trains in float32, the wire format of the weights; Keras 3 writes a DTypePolicy object).
 */
function layerConfigForTfjs(config: Json, last: boolean): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(config)) {
    if (DROPPED_KEYS.has(k)) continue;
    const init = k.endsWith('_initializer') && v !== null ? initializer(v) : undefined;
    out[camel(k)] = k === 'name' ? v : pythonicToTs(init ? { class_name: init.className, config: init.config } : v);
  }
  if (last && config.activation === 'softmax') out.activation = 'linear';
  return out;
}

function pythonicToTs(v: unknown): unknown {
  if (typeof v === 'string') return camel(v);
  if (Array.isArray(v)) return v.map(pythonicToTs);
  if (!isObject(v)) return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    if ('class_name' in v && (k === 'module' || k === 'registered_name')) continue;
    out[camel(k)] = k === 'name' || k === 'class_name' ? x : pythonicToTs(x);
  }
  return out;
}

const camel = (s: string) => (s.includes('_') && s.length > 1 ? s.replace(/_+(\w|$)/g, (_, c: string) => c.toUpperCase()) : s);
