/**
 * bench/speedup.svg, written as SVG text: speedup over the loop against task duration, both axes
 * logarithmic, one line per system, dashed the limit that the workers set (a speedup of `limit`, their number).
 */

export interface Series {
  readonly label: string;
  readonly color: string;
  readonly dashed?: boolean;
  /** x: task duration in µs; y: speedup. */
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface ChartOptions {
  readonly title: string;
  readonly subtitle: string;
  /** Where the dashed limit is drawn (the number of workers). */
  readonly limit: number;
}

const WIDTH = 900;
const HEIGHT = 480;
const PLOT = { left: 70, right: 590, top: 62, bottom: 410 };
const X_MIN = 1;
const X_MAX = 10_000;

export function speedupSvg(series: readonly Series[], options: ChartOptions): string {
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter((y) => y > 0 && Number.isFinite(y));
  const yMin = niceFloor(Math.min(0.5, ...ys) * 0.8);
  const yMax = Math.max(options.limit * 1.5, ...ys.map((y) => y * 1.2));
  const x = (us: number) => PLOT.left + ((Math.log10(us) - Math.log10(X_MIN)) / (Math.log10(X_MAX) - Math.log10(X_MIN))) * (PLOT.right - PLOT.left);
  const y = (v: number) => PLOT.bottom - ((Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (PLOT.bottom - PLOT.top);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${PLOT.left}" y="24" font-size="16" font-weight="bold">${esc(options.title)}</text>`,
    `<text x="${PLOT.left}" y="44" fill="#555555">${esc(options.subtitle)}</text>`,
  );
  // Grid and axes.
  for (const us of [1, 10, 100, 1000, 10_000]) {
    const px = r(x(us));
    out.push(`<line x1="${px}" y1="${PLOT.top}" x2="${px}" y2="${PLOT.bottom}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${px}" y="${PLOT.bottom + 18}" text-anchor="middle">${us >= 1000 ? `${us / 1000} ms` : `${us} µs`}</text>`);
  }
  for (const tick of yTicks(yMin, yMax)) {
    const py = r(y(tick));
    out.push(`<line x1="${PLOT.left}" y1="${py}" x2="${PLOT.right}" y2="${py}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${PLOT.left - 8}" y="${py + 4}" text-anchor="end">${tick}x</text>`);
  }
  out.push(
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#333333"/>`,
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 42}" text-anchor="middle">duration of one task (log scale)</text>`,
    `<text x="18" y="${(PLOT.top + PLOT.bottom) / 2}" text-anchor="middle" transform="rotate(-90 18 ${(PLOT.top + PLOT.bottom) / 2})">speedup: loop time / parallel time (log scale)</text>`,
  );
  // The loop (1x) and the limit of the workers.
  const one = r(y(1));
  const limit = r(y(options.limit));
  out.push(
    `<line x1="${PLOT.left}" y1="${one}" x2="${PLOT.right}" y2="${one}" stroke="#000000" stroke-width="1"/>`,
    `<text x="${r(x(300))}" y="${one + 16}">the loop (1x)</text>`,
    `<line x1="${PLOT.left}" y1="${limit}" x2="${PLOT.right}" y2="${limit}" stroke="#000000" stroke-width="1.5" stroke-dasharray="7 5"/>`,
    `<text x="${PLOT.left + 6}" y="${limit - 6}">${options.limit}x: the limit of ${options.limit} workers</text>`,
  );
  // One line per system.
  for (const s of series) {
    const points = s.points.filter((p) => p.y > 0 && Number.isFinite(p.y)).map((p) => `${r(x(p.x))},${r(y(p.y))}`);
    if (points.length === 0) continue;
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    out.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2.2"${dash}/>`);
    for (const point of points) {
      const [px, py] = point.split(',');
      out.push(`<circle cx="${px}" cy="${py}" r="3.2" fill="${s.color}"/>`);
    }
  }
  // Legend.
  const lx = PLOT.right + 22;
  out.push(`<text x="${lx}" y="${PLOT.top + 4}" font-weight="bold">${options.limit} workers each</text>`);
  series.forEach((s, i) => {
    const ly = PLOT.top + 26 + i * 22;
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 26}" y2="${ly}" stroke="${s.color}" stroke-width="2.2"${dash}/>`,
      `<circle cx="${lx + 13}" cy="${ly}" r="3.2" fill="${s.color}"/>`,
      `<text x="${lx + 34}" y="${ly + 4}">${esc(s.label)}</text>`,
    );
  });
  out.push('</svg>', '');
  return out.join('\n');
}

/** 1-2-5 ticks between lo and hi. */
function yTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let decade = Math.floor(Math.log10(lo)); decade <= Math.ceil(Math.log10(hi)); decade++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** decade).toPrecision(1));
      if (v >= lo * 0.999 && v <= hi) ticks.push(v);
    }
  }
  return ticks;
}

/** The largest 1-2-5 value at or below v. */
function niceFloor(v: number): number {
  const decade = 10 ** Math.floor(Math.log10(v));
  for (const m of [5, 2, 1]) if (m * decade <= v) return Number((m * decade).toPrecision(1));
  return decade;
}

function r(v: number): number {
  return Math.round(v * 10) / 10;
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
