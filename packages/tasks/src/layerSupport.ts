/**
 * The layers a model may be made of: the ones FunctionalModel (packages/client functional.ts) runs with
 * per-example gradient norms for DP-SGD (ghostClipping.ts). One source for both the model builder and the check
 * of an uploaded Keras model.json (layersModel.ts), so the two never disagree about what trains.
 */

/** Keras / tfjs-layers class names that train, in the order the docs list them. */
export const SUPPORTED_LAYERS = [
  'InputLayer',
  'Dense',
  'Conv2D',
  'MaxPooling2D',
  'Flatten',
  'Reshape',
  'Embedding',
  'GlobalAveragePooling1D',
  'Activation',
] as const;
export type SupportedLayer = (typeof SUPPORTED_LAYERS)[number];

/** Element-wise activations; 'softmax' only on the last layer, where it is dropped: training reads logits. */
export const SUPPORTED_ACTIVATIONS = ['linear', 'relu', 'tanh', 'sigmoid'] as const;
export type SupportedActivation = (typeof SUPPORTED_ACTIVATIONS)[number];

/** What a layer's config may say (camelCase as tfjs-layers' getConfig() gives it, or snake_case from Keras). */
export type LayerConfig = Record<string, unknown>;

/** Layers with trainable weights. */
const WEIGHTED = ['Dense', 'Conv2D', 'Embedding'];

/** Config keys (camel, snake) that training would silently ignore: it adds no penalty and projects nothing. */
const IGNORED_IN_TRAINING: readonly [string, string][] = [
  ['kernelRegularizer', 'kernel_regularizer'],
  ['biasRegularizer', 'bias_regularizer'],
  ['embeddingsRegularizer', 'embeddings_regularizer'],
  ['activityRegularizer', 'activity_regularizer'],
  ['kernelConstraint', 'kernel_constraint'],
  ['biasConstraint', 'bias_constraint'],
  ['embeddingsConstraint', 'embeddings_constraint'],
];

function pick(cfg: LayerConfig, camel: string, snake: string): unknown {
  return cfg[camel] ?? cfg[snake];
}

function pair(v: unknown): [number, number] | undefined {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number')) return [v[0] as number, v[1] as number];
  return undefined;
}

/** Whether a [h, w] pair (pair() of a config value) is n × n. */
function square(p: [number, number] | undefined, n: number): boolean {
  return p !== undefined && p[0] === n && p[1] === n;
}

/** tfjs-layers' getConfig() says channelsLast, a Keras model.json channels_last. */
function channelsLastProblem(cfg: LayerConfig): string[] {
  const format = pick(cfg, 'dataFormat', 'data_format');
  return format === undefined || format === null || format === 'channels_last' || format === 'channelsLast'
    ? []
    : [`data format ${String(format)} is not supported (only channels_last)`];
}

/**
 * Why a layer cannot train here (empty: it can). `last` says whether it is the model's last layer (the only
 * place a softmax may be).
 */
export function layerProblems(className: string, cfg: LayerConfig, last: boolean): string[] {
  const out: string[] = [];
  if (!(SUPPORTED_LAYERS as readonly string[]).includes(className)) {
    out.push(`layer ${className} is not supported (supported: ${SUPPORTED_LAYERS.join(', ')})`);
    return out;
  }
  const activation = cfg.activation;
  if (activation !== undefined && activation !== null && !(SUPPORTED_ACTIVATIONS as readonly unknown[]).includes(activation)) {
    if (!(activation === 'softmax' && last))
      out.push(`activation ${String(activation)} is not supported (supported: ${SUPPORTED_ACTIVATIONS.join(', ')}, and softmax on the last layer)`);
  }
  if (WEIGHTED.includes(className)) {
    // A frozen layer's weights are not among the model's trainable weights, which the gradients are zipped with.
    if (cfg.trainable === false) out.push('a frozen layer (trainable: false) is not supported');
    for (const [camel, snake] of IGNORED_IN_TRAINING) if (pick(cfg, camel, snake) != null) out.push(`${snake} is not supported (training would ignore it)`);
  }
  if (className === 'Conv2D') {
    if ((cfg.padding ?? 'valid') !== 'valid') out.push(`padding ${String(cfg.padding)} is not supported (only valid)`);
    const strides = pair(cfg.strides ?? 1);
    if (!square(strides, 1)) out.push(`strides ${JSON.stringify(cfg.strides)} are not supported (only 1)`);
    const dilation = pair(pick(cfg, 'dilationRate', 'dilation_rate') ?? 1);
    if (!square(dilation, 1)) out.push('dilated convolutions are not supported');
    if ((cfg.groups ?? 1) !== 1) out.push('grouped convolutions are not supported');
    out.push(...channelsLastProblem(cfg));
  }
  if (className === 'MaxPooling2D') {
    const size = pair(pick(cfg, 'poolSize', 'pool_size') ?? 2);
    const strides = pair(cfg.strides ?? size);
    if (!square(size, 2) || !square(strides, 2)) out.push('only 2×2 max pooling with stride 2 is supported');
    if ((cfg.padding ?? 'valid') !== 'valid') out.push(`padding ${String(cfg.padding)} is not supported (only valid)`);
    out.push(...channelsLastProblem(cfg));
  }
  if (className === 'Flatten') out.push(...channelsLastProblem(cfg));
  if (className === 'GlobalAveragePooling1D') {
    out.push(...channelsLastProblem(cfg));
    if (cfg.keepdims === true) out.push('keepdims is not supported');
  }
  if (className === 'Embedding' && pick(cfg, 'maskZero', 'mask_zero') === true) out.push('mask_zero is not supported (token 0 is an ordinary padding token)');
  return out;
}

/**
 * Each layer's problems (in the order given: the model's layers, first to last), with those of where it stands:
 * an Embedding reads token ids, so it must take the model's input (only an InputLayer before it) — behind another
 * layer it would index by that layer's activations, through which no gradient flows.
 */
export function modelLayerProblems(layers: readonly { readonly className: string; readonly config: LayerConfig }[]): string[][] {
  return layers.map(({ className, config }, i) => {
    const out = layerProblems(className, config, i === layers.length - 1);
    if (className === 'Embedding' && layers.slice(0, i).some((l) => l.className !== 'InputLayer'))
      out.push('an Embedding must be the first layer (it reads the token ids of the input)');
    return out;
  });
}
