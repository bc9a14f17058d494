/** A minimal SVG line chart: enough for the cost curve, no plotting dependency. */

export interface Series { name: string; points: Array<[number, number]>; }

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Logarithmic x axis (documents span two decades). */
  xLog: boolean;
  series: Series[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const PANEL_W = 460;
const PANEL_H = 320;
const MARGIN = { left: 64, right: 16, top: 36, bottom: 48 };

export function renderSvg(panels: Panel[], caption: string): string {
  const width = PANEL_W * panels.length;
  const height = PANEL_H + 28;
  const body = panels.map((panel, i) => `<g transform="translate(${i * PANEL_W},0)">${renderPanel(panel)}</g>`).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
${body}
<text x="${width / 2}" y="${height - 8}" text-anchor="middle" fill="#444">${escape(caption)}</text>
</svg>
`;
}

function renderPanel(panel: Panel): string {
  const all = panel.series.flatMap((s) => s.points);
  const fx = (x: number) => (panel.xLog ? Math.log10(x) : x);
  const xs = all.map(([x]) => fx(x));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const y1 = niceCeil(Math.max(...all.map(([, y]) => y)));
  const plotW = PANEL_W - MARGIN.left - MARGIN.right;
  const plotH = PANEL_H - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + ((fx(x) - x0) / (x1 - x0 || 1)) * plotW;
  const sy = (y: number) => MARGIN.top + plotH - (y / y1) * plotH;
  const parts: string[] = [];
  parts.push(`<text x="${PANEL_W / 2}" y="20" text-anchor="middle" font-size="13" font-weight="bold">${escape(panel.title)}</text>`);
  for (let k = 0; k <= 5; k++) {
    const y = (y1 * k) / 5;
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end">${format(y)}</text>`);
  }
  const xTicks = [...new Set(all.map(([x]) => x))].sort((a, b) => a - b);
  for (const x of xTicks) parts.push(`<text x="${sx(x).toFixed(1)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${format(x)}</text>`);
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#333"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${PANEL_H - 10}" text-anchor="middle">${escape(panel.xLabel)}</text>`);
  parts.push(`<text transform="translate(14,${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(panel.yLabel)}</text>`);
  panel.series.forEach((series, i) => {
    const color = COLORS[i % COLORS.length];
    const sorted = [...series.points].sort((a, b) => a[0] - b[0]);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${sorted.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of sorted) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = MARGIN.top + 8 + i * 15;
    parts.push(`<line x1="${MARGIN.left + 10}" x2="${MARGIN.left + 28}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${MARGIN.left + 32}" y="${ly + 4}">${escape(series.name)}</text>`);
  });
  return parts.join('\n');
}

/** The next 1, 2 or 5 × 10^k at or above v, so the y axis has round labels. */
function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

function format(v: number): string {
  if (v >= 1000) return `${Number((v / 1000).toFixed(1))}k`;
  return String(Number(v.toFixed(v < 10 ? 1 : 0)));
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
