/** Evaluation of a released global model on the task's held-out split (TensorFlow.js, WASM in Node). */
import type { ModelSpec } from '@hushfl/protocol';
import { buildModel, type Dataset, evaluate, getFlatWeights, setFlatWeights } from '@hushfl/tasks';

export class ModelEvaluator {
  private model: ReturnType<typeof buildModel> | null;

  constructor(
    spec: ModelSpec,
    private readonly test: Dataset,
  ) {
    this.model = buildModel(spec);
  }

  /** The weights of the model as built: a new run's initial global model. */
  weights(): Promise<Float32Array> {
    if (!this.model) throw new Error('the evaluator was disposed');
    return getFlatWeights(this.model);
  }

  async evaluate(weights: Float32Array): Promise<{ loss: number; accuracy: number }> {
    if (!this.model) throw new Error('the evaluator was disposed');
    setFlatWeights(this.model, weights);
    return evaluate(this.model, this.test);
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}
