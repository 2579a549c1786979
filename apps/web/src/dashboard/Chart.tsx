/** A small uPlot line chart: one x series (rounds) and named y series. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
  dash?: number[];
}

export function Chart({ title, x, series, yLabel, testId }: { title: string; x: number[]; series: Series[]; yLabel: string; testId: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const plot = new uPlot(
      {
        title,
        width: Math.max(280, el.current.clientWidth),
        height: 220,
        scales: { x: { time: false } },
        axes: [{ label: 'round' }, { label: yLabel }],
        series: [
          { label: 'round' },
          ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, ...(s.dash ? { dash: s.dash } : {}), points: { show: true } })),
        ],
      },
      [x, ...series.map((s) => s.values)] as uPlot.AlignedData,
      el.current,
    );
    return () => plot.destroy();
  }, [title, x, series, yLabel]);
  return <div className="chart" ref={el} data-testid={testId} data-points={x.length} />;
}
