import { el } from './dom.js';

export interface ChartSeries {
  readonly name: string;
  readonly values: readonly (number | null)[];
  /** `s1`…`s4`: the series' colour. */
  readonly className: string;
}

export interface ChartOptions {
  readonly series: readonly ChartSeries[];
  readonly stepMs: number;
  readonly format: (value: number) => string;
}

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 640;
const HEIGHT = 190;
const LEFT = 56;
const RIGHT = 8;
const TOP = 10;
const BOTTOM = 22;

function svg(tag: string, attributes: Record<string, string | number>): SVGElement {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

/** A rounded-up axis maximum: 1, 2, 5 × a power of ten. */
function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

/**
 * Draws a line chart of equally spaced values (oldest first) as inline SVG. Missing values
 * (null) break the line. The summary in the label is what a screen reader announces.
 */
export function lineChart(container: HTMLElement, options: ChartOptions): void {
  const length = Math.max(...options.series.map((series) => series.values.length), 2);
  const finite = options.series.flatMap((series) =>
    series.values.filter((value): value is number => value !== null && Number.isFinite(value)),
  );
  const max = niceMax(Math.max(0, ...finite));
  const x = (index: number) => LEFT + ((WIDTH - LEFT - RIGHT) * index) / (length - 1);
  const y = (value: number) => TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / max);
  const latest = options.series
    .map((series) => {
      const last = [...series.values].reverse().find((value) => value !== null);
      return `${series.name} ${last === undefined || last === null ? 'no data' : options.format(last)}`;
    })
    .join(', ');
  const chart = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img',
    'aria-label': `Now: ${latest}`,
  });
  for (const value of [0, max / 2, max]) {
    chart.appendChild(
      svg('line', { class: 'axis', x1: LEFT, x2: WIDTH - RIGHT, y1: y(value), y2: y(value) }),
    );
    // The middle line is labelled only when its value prints exactly (not 2.5 as "3").
    if (
      value === max / 2 &&
      options.format(value) === options.format(Math.round(value)) &&
      !Number.isInteger(value)
    ) {
      continue;
    }
    const label = svg('text', { x: LEFT - 6, y: y(value) + 4, 'text-anchor': 'end' });
    label.textContent = options.format(value);
    chart.appendChild(label);
  }
  const spanMs = (length - 1) * options.stepMs;
  for (const fraction of [0, 1 / 3, 2 / 3, 1]) {
    const agoMs = spanMs * (1 - fraction);
    const label = svg('text', {
      x: x(fraction * (length - 1)),
      y: HEIGHT - 6,
      'text-anchor': fraction === 0 ? 'start' : fraction === 1 ? 'end' : 'middle',
    });
    label.textContent =
      agoMs === 0
        ? 'now'
        : spanMs < 5 * 60_000
          ? `−${Math.round(agoMs / 1000)} s`
          : `−${Math.round(agoMs / 60_000)} min`;
    chart.appendChild(label);
  }
  for (const series of options.series) {
    let path = '';
    let drawing = false;
    series.values.forEach((value, index) => {
      if (value === null || !Number.isFinite(value)) {
        drawing = false;
        return;
      }
      path += `${drawing ? 'L' : 'M'}${x(index).toFixed(1)},${y(value).toFixed(1)}`;
      drawing = true;
    });
    if (path !== '') chart.appendChild(svg('path', { class: `line ${series.className}`, d: path }));
    // A value with no neighbour makes no line; a dot shows it.
    const present = (index: number) => {
      const value = series.values[index];
      return value !== null && value !== undefined && Number.isFinite(value);
    };
    series.values.forEach((value, index) => {
      if (value === null || !present(index) || present(index - 1) || present(index + 1)) return;
      chart.appendChild(
        svg('circle', { class: `line ${series.className}`, cx: x(index), cy: y(value), r: 2.5 }),
      );
    });
  }
  const legend = el(
    'ul',
    { class: 'legend' },
    ...options.series.map((series) =>
      el('li', {}, el('span', { class: `swatch ${series.className}` }), series.name),
    ),
  );
  container.replaceChildren(chart, legend);
}
