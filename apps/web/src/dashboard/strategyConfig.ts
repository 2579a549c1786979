/**
 * The dashboard's strategy picker edits the run config's text (issue 15): the server optimizer and its
 * hyperparameters, FedProx's μ and adaptive clipping, set in place in the YAML (comments and the rest kept).
 */
import { defaultServerLearningRate, SERVER_OPTIMIZERS, type ServerOptimizerKind } from '@hushfl/protocol';
import { isMap, parseDocument } from 'yaml';

export { SERVER_OPTIMIZERS };

export interface StrategyChoice {
  readonly optimizer: ServerOptimizerKind;
  readonly learningRate: number;
  readonly proximalMu: number;
  /** Target quantile of adaptive clipping; null for a fixed clip. */
  readonly adaptiveQuantile: number | null;
}

export { defaultServerLearningRate };

/** What the config text chooses now (defaults where it says nothing); null when it does not parse as a mapping. */
export function strategyOf(text: string): StrategyChoice | null {
  const doc = parseDocument(text);
  if (doc.errors.length || !isMap(doc.contents)) return null;
  const c = doc.toJS() as {
    server?: { optimizer?: ServerOptimizerKind; learningRate?: number; momentum?: number };
    training?: { proximalMu?: number };
    ddg?: { adaptiveClip?: { targetQuantile?: number } | null };
  };
  const optimizer = c.server?.optimizer ?? ((c.server?.momentum ?? 0) > 0 ? 'fedavgm' : 'fedavg');
  const adaptive = c.ddg?.adaptiveClip;
  return {
    optimizer,
    learningRate: c.server?.learningRate ?? defaultServerLearningRate(optimizer),
    proximalMu: c.training?.proximalMu ?? 0,
    adaptiveQuantile: adaptive ? (adaptive.targetQuantile ?? 0.5) : null,
  };
}

/** The config text with the strategy written into `server`, `training.proximalMu` and `ddg.adaptiveClip`. */
export function withStrategy(text: string, s: StrategyChoice): string {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(`the config is not valid YAML/JSON: ${doc.errors[0]!.message}`);
  if (!isMap(doc.contents)) throw new Error('the config must be a mapping of keys');
  doc.setIn(['server', 'optimizer'], s.optimizer);
  doc.setIn(['server', 'learningRate'], s.learningRate);
  // FedAvgM's β1 is `momentum` in older configs; another optimizer refuses it.
  if (s.optimizer !== 'fedavgm' && doc.hasIn(['server', 'momentum'])) doc.deleteIn(['server', 'momentum']);
  if (s.proximalMu > 0) doc.setIn(['training', 'proximalMu'], s.proximalMu);
  else if (doc.hasIn(['training', 'proximalMu'])) doc.deleteIn(['training', 'proximalMu']);
  if (s.adaptiveQuantile !== null) doc.setIn(['ddg', 'adaptiveClip', 'targetQuantile'], s.adaptiveQuantile);
  else if (doc.hasIn(['ddg', 'adaptiveClip'])) doc.deleteIn(['ddg', 'adaptiveClip']);
  return doc.toString();
}
