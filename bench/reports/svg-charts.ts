/**
 * Tiny dependency-free SVG charts for report.html: a CDF (lines), a grouped bar chart and a scatter
 * plot. Each returns one `<svg id="...">` string that renders offline in any browser.
 */

export interface Series {
  name: string;
  color: string;
  points: Array<[x: number, y: number]>;
}

const W = 640;
const H = 320;
const M = { left: 60, right: 150, top: 30, bottom: 45 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

export const PATH_COLORS: Record<string, string> = {
  direct: '#d62728',
  'client-loop': '#ff7f0e',
  backstop: '#2ca02c',
  reference: '#7f7f7f',
  nginx: '#1f77b4',
};

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round tick values covering [lo, hi] (linear), about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function tickLabel(v: number): string {
  if (Math.abs(v) >= 10_000) return `${v / 1000}k`;
  return String(Number(v.toPrecision(4)));
}

interface Scale {
  x(v: number): number;
  y(v: number): number;
  xTicks: number[];
  yTicks: number[];
}

function frame(
  id: string,
  title: string,
  xLabel: string,
  yLabel: string,
  s: Scale,
  body: string,
  legend: Series[],
): string {
  const grid = [
    ...s.yTicks.map(
      (t) =>
        `<line x1="${M.left}" x2="${M.left + PW}" y1="${s.y(t)}" y2="${s.y(t)}" stroke="#e5e5e5"/><text x="${M.left - 6}" y="${s.y(t) + 4}" text-anchor="end">${tickLabel(t)}</text>`,
    ),
    ...s.xTicks.map(
      (t) =>
        `<line x1="${s.x(t)}" x2="${s.x(t)}" y1="${M.top}" y2="${M.top + PH}" stroke="#f0f0f0"/><text x="${s.x(t)}" y="${M.top + PH + 16}" text-anchor="middle">${tickLabel(t)}</text>`,
    ),
  ].join('');
  const keys = legend
    .map(
      (l, i) =>
        `<rect x="${M.left + PW + 14}" y="${M.top + i * 18}" width="12" height="12" fill="${l.color}"/><text x="${M.left + PW + 32}" y="${M.top + i * 18 + 10}">${esc(l.name)}</text>`,
    )
    .join('');
  return (
    `<svg id="${esc(id)}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="11" role="img" aria-label="${esc(title)}">` +
    `<text x="${M.left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>${grid}` +
    `<rect x="${M.left}" y="${M.top}" width="${PW}" height="${PH}" fill="none" stroke="#999"/>${body}${keys}` +
    `<text x="${M.left + PW / 2}" y="${H - 6}" text-anchor="middle">${esc(xLabel)}</text>` +
    `<text transform="translate(14 ${M.top + PH / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text></svg>`
  );
}

function linearScale(xs: number[], ys: number[], yFromZero: boolean): Scale {
  const xLo = Math.min(0, ...xs);
  const xHi = Math.max(...xs, 1e-9);
  const yLo = yFromZero ? 0 : Math.min(...ys);
  const yHi = Math.max(...ys, yLo + 1e-9);
  const xTicks = niceTicks(xLo, xHi);
  const yTicks = niceTicks(yLo, yHi);
  const x1 = Math.max(xHi, xTicks[xTicks.length - 1] ?? xHi);
  const y1 = Math.max(yHi, yTicks[yTicks.length - 1] ?? yHi);
  return {
    x: (v) => M.left + ((v - xLo) / (x1 - xLo || 1)) * PW,
    y: (v) => M.top + PH - ((v - yLo) / (y1 - yLo || 1)) * PH,
    xTicks,
    yTicks,
  };
}

const empty = (id: string, title: string) =>
  `<svg id="${esc(id)}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} 60" width="${W}" height="60" font-family="sans-serif" font-size="12"><text x="10" y="35">${esc(title)}: no data</text></svg>`;

/** Empirical CDFs as step lines: y is the fraction of requests at or under x. */
export function cdfChart(id: string, title: string, xLabel: string, series: Series[]): string {
  const live = series.filter((s) => s.points.length > 0);
  if (live.length === 0) return empty(id, title);
  const s = linearScale(
    live.flatMap((l) => l.points.map((p) => p[0])),
    [0, 1],
    true,
  );
  const body = live
    .map((l) => {
      let d = `M${s.x(l.points[0]?.[0] ?? 0).toFixed(1)},${s.y(0).toFixed(1)}`;
      let prevY = 0;
      for (const [x, y] of l.points) {
        d += ` L${s.x(x).toFixed(1)},${s.y(prevY).toFixed(1)} L${s.x(x).toFixed(1)},${s.y(y).toFixed(1)}`;
        prevY = y;
      }
      return `<path d="${d}" fill="none" stroke="${l.color}" stroke-width="2"/>`;
    })
    .join('');
  return frame(id, title, xLabel, 'fraction of requests', s, body, live);
}

/** Grouped bars: one group per category, one bar per series (point x = category index). */
export function barChart(
  id: string,
  title: string,
  categories: string[],
  xLabel: string,
  yLabel: string,
  series: Series[],
): string {
  const live = series.filter((l) => l.points.length > 0);
  if (live.length === 0 || categories.length === 0) return empty(id, title);
  const yHi = Math.max(...live.flatMap((l) => l.points.map((p) => p[1])), 1);
  const yTicks = niceTicks(0, yHi);
  const y1 = Math.max(yHi, yTicks[yTicks.length - 1] ?? yHi);
  const groupW = PW / categories.length;
  const barW = (groupW * 0.8) / live.length;
  const scale: Scale = {
    x: (i) => M.left + groupW * (i + 0.5),
    y: (v) => M.top + PH - (v / y1) * PH,
    xTicks: [],
    yTicks,
  };
  const bars = live
    .map((l, si) =>
      l.points
        .map(([i, v]) => {
          const x = M.left + groupW * i + groupW * 0.1 + barW * si;
          return `<rect x="${x.toFixed(1)}" y="${scale.y(v).toFixed(1)}" width="${barW.toFixed(1)}" height="${(M.top + PH - scale.y(v)).toFixed(1)}" fill="${l.color}"><title>${esc(`${l.name}: ${v}`)}</title></rect>`;
        })
        .join(''),
    )
    .join('');
  const labels = categories
    .map(
      (c, i) =>
        `<text x="${scale.x(i).toFixed(1)}" y="${M.top + PH + 16}" text-anchor="middle">${esc(c)}</text>`,
    )
    .join('');
  return frame(id, title, xLabel, yLabel, scale, bars + labels, live);
}

/** Dots at (x, y) per series; `failures` draws crosses on the x axis (requests with no y). */
export function scatterChart(
  id: string,
  title: string,
  xLabel: string,
  yLabel: string,
  series: Series[],
  failures: Series[] = [],
): string {
  const live = series.filter((l) => l.points.length > 0);
  if (live.length === 0) return empty(id, title);
  const s = linearScale(
    [...live, ...failures].flatMap((l) => l.points.map((p) => p[0])),
    live.flatMap((l) => l.points.map((p) => p[1])),
    true,
  );
  const dots = live
    .map((l) =>
      l.points
        .map(
          ([x, y]) =>
            `<circle cx="${s.x(x).toFixed(1)}" cy="${s.y(y).toFixed(1)}" r="2.5" fill="${l.color}" fill-opacity="0.7"/>`,
        )
        .join(''),
    )
    .join('');
  const crosses = failures
    .map((l) =>
      l.points
        .map(([x]) => {
          const cx = s.x(x);
          const cy = M.top + PH - 4;
          return `<path d="M${(cx - 3).toFixed(1)},${cy - 3} L${(cx + 3).toFixed(1)},${cy + 3} M${(cx - 3).toFixed(1)},${cy + 3} L${(cx + 3).toFixed(1)},${cy - 3}" stroke="${l.color}"/>`;
        })
        .join(''),
    )
    .join('');
  return frame(id, title, xLabel, yLabel, s, dots + crosses, live);
}
