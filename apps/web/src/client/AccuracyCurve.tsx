/**
 * The global accuracy curve this tab contributed to (issue 16 §2): the coordinator's test accuracy of the model
 * after each round the tab was a party of, filled where its update was in the sum. A small inline SVG: the page
 * stays light.
 */
import type { UiState } from '@hushfl/browser';

const W = 320;
const H = 120;
const PAD = 24;

export function AccuracyCurve({ points, epsilon }: { points: UiState['accuracyCurve']; epsilon: number | null }) {
  if (points.length === 0) return null;
  const sorted = [...points].sort((a, b) => a.round - b.round);
  const first = sorted[0]!.round;
  const last = Math.max(first + 1, sorted.at(-1)!.round);
  const x = (r: number) => PAD + ((r - first) / (last - first)) * (W - 2 * PAD);
  const y = (a: number) => H - PAD - a * (H - 2 * PAD);
  const line = sorted.map((p) => `${x(p.round).toFixed(1)},${y(p.accuracy).toFixed(1)}`).join(' ');
  const latest = sorted.at(-1)!;
  return (
    <div className="card wide" data-testid="accuracy-curve">
      <h2>The federation this tab trains with</h2>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label="global accuracy after each round this tab took part in">
        <line x1={PAD} y1={y(0)} x2={W - PAD} y2={y(0)} stroke="#ccc" />
        <line x1={PAD} y1={y(1)} x2={W - PAD} y2={y(1)} stroke="#eee" />
        <text x={2} y={y(1) + 4} fontSize="9">
          100 %
        </text>
        <text x={2} y={y(0) + 4} fontSize="9">
          0 %
        </text>
        <polyline points={line} fill="none" stroke="#3a7bd5" strokeWidth={2} />
        {sorted.map((p) => (
          <circle key={p.round} cx={x(p.round)} cy={y(p.accuracy)} r={3.5} fill={p.included ? '#3a7bd5' : '#fff'} stroke="#3a7bd5" data-testid="curve-point">
            <title>{`round ${p.round + 1}: ${(p.accuracy * 100).toFixed(1)} %${p.included ? ', this tab’s update in the sum' : ', without this tab'}`}</title>
          </circle>
        ))}
      </svg>
      <p data-testid="curve-summary">
        Global accuracy {(latest.accuracy * 100).toFixed(1)} % after round {latest.round + 1}; this tab was in {sorted.filter((p) => p.included).length} of
        these rounds' sums (filled points). Its data is covered by the run's client-level ε
        {epsilon === null ? ' (no noise spent yet)' : ` = ${epsilon.toFixed(2)}`}, the same bound for every client, drawn into a round or not.
      </p>
    </div>
  );
}
