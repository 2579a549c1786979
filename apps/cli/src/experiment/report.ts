/** Renders the utility experiment as a Markdown table and an SVG chart (accuracy against ε, error bars). */
import type { UtilityResult } from './utility.ts';

/** The strategy every mechanism used (issue 15 §4): one choice for no DP, central DP and DDG alike. */
function strategyLine(config: Record<string, unknown>): string {
  const s = config.server as { optimizer: string; learningRate: number; beta1: number; beta2: number; tau: number } | undefined;
  const mu = (config.training as { proximalMu?: number } | undefined)?.proximalMu ?? 0;
  if (!s) return `Server: FedAvg, η = ${config.serverLearningRate ?? 1}; the same for every mechanism.`;
  const params =
    s.optimizer === 'fedavg'
      ? `η = ${s.learningRate}`
      : s.optimizer === 'fedavgm'
        ? `η = ${s.learningRate}, β1 = ${s.beta1}`
        : `η = ${s.learningRate}, β1 = ${s.beta1}, β2 = ${s.beta2}, τ = ${s.tau}`;
  return `Server optimizer ${s.optimizer} (${params})${mu > 0 ? `, FedProx μ = ${mu}` : ''}; the same for every mechanism.`;
}

export function markdownTable(results: readonly UtilityResult[], config: Record<string, unknown>): string {
  const epsilons = [...new Set(results.filter((r) => r.epsilon !== null).map((r) => r.epsilon!))].sort((a, b) => a - b);
  const none = results.find((r) => r.mechanism === 'none');
  const rows: string[] = [];
  const cell = (r: UtilityResult | undefined) => (r ? `${(r.accuracy * 100).toFixed(1)} ± ${(r.accuracyStd * 100).toFixed(1)}` : '—');
  rows.push(`| mechanism | ${epsilons.map((e) => `ε = ${e}`).join(' | ')} |`);
  rows.push(`|---|${epsilons.map(() => '---').join('|')}|`);
  rows.push(`| central DP (Gaussian) | ${epsilons.map((e) => cell(results.find((r) => r.mechanism === 'central' && r.epsilon === e))).join(' | ')} |`);
  const bits = [...new Set(results.filter((r) => r.mechanism === 'ddg').map((r) => r.bits!))].sort((a, b) => a - b);
  for (const b of bits)
    rows.push(`| DDG, ${b} bits | ${epsilons.map((e) => cell(results.find((r) => r.mechanism === 'ddg' && r.bits === b && r.epsilon === e))).join(' | ')} |`);
  return [
    `Test accuracy (%) on ${config.task ?? 'mnist'}, mean ± std over ${results[0]?.seeds ?? 0} seeds; no DP: ${cell(none)}.`,
    `${config.clientsPerRound} of ${config.population} clients per round (q = ${config.sampleRate}; ${config.partition ?? 'iid'} partition), ${config.rounds} rounds, clip ${config.clip}, δ = ${config.delta}, model ${JSON.stringify(config.model)} (d = ${config.dim}).`,
    strategyLine(config),
    '',
    ...rows,
    '',
  ].join('\n');
}

const COLORS = ['#1b1f24', '#3a7bd5', '#e08e0b', '#2aa876', '#d64545', '#7a5af5', '#888'];

export function svgChart(results: readonly UtilityResult[]): string {
  const W = 640;
  const H = 400;
  const pad = { l: 60, r: 170, t: 30, b: 50 };
  const epsilons = [...new Set(results.filter((r) => r.epsilon !== null).map((r) => r.epsilon!))].sort((a, b) => a - b);
  const lines: { label: string; points: UtilityResult[] }[] = [{ label: 'central DP', points: results.filter((r) => r.mechanism === 'central') }];
  for (const b of [...new Set(results.filter((r) => r.mechanism === 'ddg').map((r) => r.bits!))].sort((a, b) => a - b)) {
    lines.push({ label: `DDG ${b} bits`, points: results.filter((r) => r.mechanism === 'ddg' && r.bits === b) });
  }
  const none = results.find((r) => r.mechanism === 'none');
  const all = results.map((r) => r.accuracy);
  const yMax = Math.min(1, Math.max(...all) + 0.05);
  const yMin = Math.max(0, Math.min(...all) - 0.05);
  const lx = Math.log(Math.min(...epsilons));
  const hx = Math.log(Math.max(...epsilons));
  // 8 % margin on both sides so points and error bars clear the axis.
  const x = (e: number) => pad.l + (hx === lx ? 0.5 : 0.08 + (0.84 * (Math.log(e) - lx)) / (hx - lx)) * (W - pad.l - pad.r);
  const y = (a: number) => pad.t + (1 - (a - yMin) / (yMax - yMin || 1)) * (H - pad.t - pad.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${pad.l}" y="18" font-size="14">MNIST test accuracy against ε (δ fixed), mean ± std over seeds</text>`,
    `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#333"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#333"/>`,
  ];
  for (const e of epsilons) out.push(`<text x="${x(e)}" y="${H - pad.b + 18}" text-anchor="middle">${e}</text>`);
  out.push(`<text x="${(pad.l + W - pad.r) / 2}" y="${H - 10}" text-anchor="middle">ε (log scale)</text>`);
  for (let i = 0; i <= 4; i++) {
    const a = yMin + ((yMax - yMin) * i) / 4;
    out.push(`<text x="${pad.l - 8}" y="${y(a) + 4}" text-anchor="end">${(a * 100).toFixed(0)} %</text>`);
    out.push(`<line x1="${pad.l}" y1="${y(a)}" x2="${W - pad.r}" y2="${y(a)}" stroke="#eee"/>`);
  }
  if (none) {
    out.push(`<line x1="${pad.l}" y1="${y(none.accuracy)}" x2="${W - pad.r}" y2="${y(none.accuracy)}" stroke="#999" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${pad.l + 6}" y="${y(none.accuracy) - 5}" fill="#666">no DP</text>`);
  }
  lines.forEach((line, i) => {
    const color = COLORS[i % COLORS.length];
    // Spread the lines' error bars a few pixels apart so that overlapping ones stay readable.
    const dx = (i - (lines.length - 1) / 2) * 4;
    const pts = line.points.filter((p) => p.epsilon !== null).sort((a, b) => a.epsilon! - b.epsilon!);
    if (!pts.length) return;
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${x(p.epsilon!)},${y(p.accuracy)}`).join(' ')}"/>`);
    for (const p of pts) {
      out.push(
        `<line x1="${x(p.epsilon!) + dx}" x2="${x(p.epsilon!) + dx}" y1="${y(p.accuracy - p.accuracyStd)}" y2="${y(p.accuracy + p.accuracyStd)}" stroke="${color}"/>`,
      );
      out.push(`<circle cx="${x(p.epsilon!)}" cy="${y(p.accuracy)}" r="3" fill="${color}"/>`);
    }
    out.push(`<rect x="${W - pad.r + 8}" y="${pad.t + 18 * i}" width="10" height="10" fill="${color}"/>`);
    out.push(`<text x="${W - pad.r + 24}" y="${pad.t + 18 * i + 9}">${line.label}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Accuracy against the DDG bit width, one line per ε, with central DP at that ε as a dashed line (issue 16 §1). */
export function bitsChart(results: readonly UtilityResult[]): string {
  const W = 640;
  const H = 400;
  const pad = { l: 60, r: 170, t: 30, b: 50 };
  const ddg = results.filter((r) => r.mechanism === 'ddg');
  const bits = [...new Set(ddg.map((r) => r.bits!))].sort((a, b) => a - b);
  const epsilons = [...new Set(ddg.map((r) => r.epsilon!))].sort((a, b) => a - b);
  const all = results.filter((r) => r.mechanism !== 'none').map((r) => r.accuracy);
  const yMax = Math.min(1, Math.max(...all, 0) + 0.05);
  const yMin = Math.max(0, Math.min(...all, 1) - 0.05);
  const lo = bits[0] ?? 0;
  const hi = bits.at(-1) ?? 1;
  const x = (b: number) => pad.l + (hi === lo ? 0.5 : 0.08 + (0.84 * (b - lo)) / (hi - lo)) * (W - pad.l - pad.r);
  const y = (a: number) => pad.t + (1 - (a - yMin) / (yMax - yMin || 1)) * (H - pad.t - pad.b);
  const task = results[0]?.task ?? 'mnist';
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${pad.l}" y="18" font-size="14">${task} test accuracy against DDG bits per ε (dashed: central DP)</text>`,
    `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#333"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#333"/>`,
  ];
  for (const b of bits) out.push(`<text x="${x(b)}" y="${H - pad.b + 18}" text-anchor="middle">${b}</text>`);
  out.push(`<text x="${(pad.l + W - pad.r) / 2}" y="${H - 10}" text-anchor="middle">bits B</text>`);
  for (let i = 0; i <= 4; i++) {
    const a = yMin + ((yMax - yMin) * i) / 4;
    out.push(`<text x="${pad.l - 8}" y="${y(a) + 4}" text-anchor="end">${(a * 100).toFixed(0)} %</text>`);
    out.push(`<line x1="${pad.l}" y1="${y(a)}" x2="${W - pad.r}" y2="${y(a)}" stroke="#eee"/>`);
  }
  epsilons.forEach((e, i) => {
    const color = COLORS[(i + 1) % COLORS.length];
    const pts = ddg.filter((r) => r.epsilon === e).sort((a, b) => a.bits! - b.bits!);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${x(p.bits!)},${y(p.accuracy)}`).join(' ')}"/>`);
    for (const p of pts) {
      out.push(`<line x1="${x(p.bits!)}" x2="${x(p.bits!)}" y1="${y(p.accuracy - p.accuracyStd)}" y2="${y(p.accuracy + p.accuracyStd)}" stroke="${color}"/>`);
      out.push(`<circle cx="${x(p.bits!)}" cy="${y(p.accuracy)}" r="3" fill="${color}"/>`);
    }
    const central = results.find((r) => r.mechanism === 'central' && r.epsilon === e);
    if (central)
      out.push(`<line x1="${pad.l}" y1="${y(central.accuracy)}" x2="${W - pad.r}" y2="${y(central.accuracy)}" stroke="${color}" stroke-dasharray="6 4"/>`);
    out.push(`<rect x="${W - pad.r + 8}" y="${pad.t + 18 * i}" width="10" height="10" fill="${color}"/>`);
    out.push(`<text x="${W - pad.r + 24}" y="${pad.t + 18 * i + 9}">ε = ${e}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** DDG's modular wraps per round and ε against the coordinator, per bit width and ε (issue 16 §1). */
export function wrapsTable(results: readonly UtilityResult[]): string {
  const ddg = results.filter((r) => r.mechanism === 'ddg');
  if (!ddg.length) return '';
  const epsilons = [...new Set(ddg.map((r) => r.epsilon!))].sort((a, b) => a - b);
  const bits = [...new Set(ddg.map((r) => r.bits!))].sort((a, b) => a - b);
  const rows = [`| DDG: wrapped coordinates per round | ${epsilons.map((e) => `ε = ${e}`).join(' | ')} |`, `|---|${epsilons.map(() => '---').join('|')}|`];
  for (const b of bits)
    rows.push(`| ${b} bits | ${epsilons.map((e) => ddg.find((r) => r.bits === b && r.epsilon === e)?.wrapsPerRound?.toFixed(1) ?? '—').join(' | ')} |`);
  const vs = epsilons
    .map((e) => {
      const c = results.find((r) => r.mechanism === 'central' && r.epsilon === e)?.epsilonVsCoordinator;
      const d = ddg.find((r) => r.epsilon === e)?.epsilonVsCoordinator;
      return `ε = ${e}: ${c?.toFixed(2) ?? '—'} (central), ${d?.toFixed(2) ?? '—'} (DDG)`;
    })
    .join('; ');
  return `${rows.join('\n')}\n\nε against the coordinator, which knows the sample (the same noise without amplification): ${vs}.\n`;
}
