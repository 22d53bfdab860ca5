// Charts drawn as inline SVG, sized to their container (redrawn when it resizes, so text
// stays legible on a phone). Money comes in as integer micro-dollars.
import { h, s, clear, usdMicros, day } from './ui.js';

// Series colours (.c0 ... .c5, then .c-other), chosen in app.css to stay apart for the
// common kinds of colour blindness, in the light and the dark theme.
export const SERIES_COLOURS = 6;

// Round axis steps: 1, 2 or 5 times a power of ten.
function niceStep(max, ticks) {
  const rough = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  for (const m of [1, 2, 5, 10]) {
    if (m * magnitude >= rough) return m * magnitude;
  }
  return 10 * magnitude;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

// Stacked columns over days. days = ['YYYY-MM-DD', ...], every day of the range, in order;
// series = [{text, name() -> node, colour: 'c0'|'c-other', total_micros, calls,
// values: Map(date -> {amount_micros, calls})}], the
// first at the bottom of each column. A single series draws plain columns. `label` names the
// chart ("Spend per day by key"); its accessible name sums it up in words, and the legend
// and the data table (seriesTable) carry the rest.
export function stackedDayChart({ days, series, label }) {
  const figure = h('figure', { class: 'chart' });
  const stacked = series.length > 1;
  const dayTotal = days.map((date) => series.reduce((sum, se) => sum + (se.values.get(date)?.amount_micros || 0), 0));
  const total = dayTotal.reduce((a, b) => a + b, 0);
  let peak = -1;
  dayTotal.forEach((v, i) => {
    if (v > 0 && (peak < 0 || v > dayTotal[peak])) peak = i;
  });
  const summary = days.length
    ? `${label} from ${day(days[0])} to ${day(days[days.length - 1])}: ${usdMicros(total)} in total` +
      (peak >= 0 ? `, highest on ${day(days[peak])} with ${usdMicros(dayTotal[peak])}` : '') +
      `. ${series.map((se) => `${se.text}: ${usdMicros(se.total_micros)}`).join('; ')}.`
    : `${label}: no data.`;

  function draw(width) {
    const height = Math.max(180, Math.min(260, width * 0.45));
    const pad = { top: 12, right: 12, bottom: 28, left: 64 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const max = Math.max(...dayTotal, 0);
    const step = max > 0 ? niceStep(max, 4) : 10000;  // an empty chart still shows $0.00 to $0.04
    const top = max > 0 ? Math.ceil(max / step) * step : step * 4;
    const y = (v) => pad.top + plotH - (v / top) * plotH;
    const slot = plotW / Math.max(days.length, 1);
    const barW = Math.max(1, Math.min(32, slot * 0.7));

    const grid = [];
    for (let v = 0; v <= top + 1e-9; v += step) {
      grid.push(s('line', { class: 'grid', x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }),
        s('text', { class: 'axis', x: pad.left - 8, y: y(v) + 4, 'text-anchor': 'end' }, usdMicros(v)));
    }
    // Label as many days as fit without overlapping (about 70px each).
    const every = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor(plotW / 70))));
    const columns = days.map((date, i) => {
      const x = pad.left + i * slot + (slot - barW) / 2;
      const parts = [];
      let below = 0;
      for (const se of series) {
        const v = se.values.get(date);
        if (!v || v.amount_micros <= 0) continue;
        const segTop = y(below + v.amount_micros);
        const segHeight = Math.max(1, y(below) - segTop);
        const tip = `${day(date)}: ${stacked ? `${se.text}, ` : ''}${usdMicros(v.amount_micros)}, ${plural(v.calls, 'call')}` +
          (stacked ? ` (day total ${usdMicros(dayTotal[i])})` : '');
        parts.push(s('rect', { class: `bar ${se.colour}`, x, y: segTop, width: barW, height: segHeight, rx: stacked ? 0 : 2 },
          s('title', {}, tip)));
        below += v.amount_micros;
      }
      if (i % every === 0) {
        parts.push(s('text', { class: 'axis', x: x + barW / 2, y: height - 8, 'text-anchor': 'middle' }, shortDay(date)));
      }
      return parts;
    });
    return s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': summary },
      grid, s('line', { class: 'baseline', x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0) }), columns);
  }

  let lastWidth = 0;
  const observer = new ResizeObserver(() => redraw());
  const redraw = () => {
    if (!figure.isConnected) return observer.disconnect();  // the page or the view was left
    const width = Math.max(280, Math.floor(figure.clientWidth || 640));
    if (width === lastWidth) return;
    lastWidth = width;
    clear(figure, draw(width));
  };
  observer.observe(figure);
  clear(figure, draw(640));
  return figure;
}

function shortDay(date) {
  const [, m, d] = date.split('-');
  return `${Number(m)}/${Number(d)}`;
}

// The chart's legend: a swatch, the series' name and its total, in stacking order.
export function chartLegend(series, label) {
  return h('ul', { class: 'legend', 'aria-label': label }, series.map((se) => h('li', {},
    h('span', { class: `swatch ${se.colour}`, 'aria-hidden': 'true' }),
    h('span', { class: 'legend-name' }, se.name()),
    h('span', { class: 'legend-value' }, `${usdMicros(se.total_micros)} · ${plural(se.calls, 'call')}`))));
}

// The chart's numbers as a table: a row per day that has any, a column per series, and the
// totals in the last row and column. Scrolls sideways on its own when the window is narrow.
export function seriesTable({ caption, days, series }) {
  const rows = days.map((date) => {
    const cells = series.map((se) => se.values.get(date) || { amount_micros: 0, calls: 0 });
    return { date, cells, total: cells.reduce((sum, c) => sum + c.amount_micros, 0), calls: cells.reduce((sum, c) => sum + c.calls, 0) };
  }).filter((r) => r.calls > 0 || r.total > 0);
  const total = rows.reduce((sum, r) => sum + r.total, 0);
  const calls = rows.reduce((sum, r) => sum + r.calls, 0);
  const amount = (micros) => (micros ? usdMicros(micros) : '—');
  const table = h('table', { class: 'table series' },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Day'),
      series.map((se) => h('th', { scope: 'col', class: 'num' }, se.name())),
      h('th', { scope: 'col', class: 'num' }, 'Total'))),
    h('tbody', {}, rows.map((r) => h('tr', {},
      h('th', { scope: 'row' }, day(r.date)),
      r.cells.map((c, i) => h('td', { class: c.amount_micros ? 'num' : 'num zero', 'data-label': series[i].text }, amount(c.amount_micros))),
      h('td', { class: 'num', 'data-label': 'Total' }, usdMicros(r.total))))),
    h('tfoot', {}, h('tr', {},
      h('th', { scope: 'row' }, 'Total'),
      series.map((se) => h('td', { class: 'num', 'data-label': se.text }, usdMicros(se.total_micros))),
      h('td', { class: 'num', 'data-label': 'Total' }, `${usdMicros(total)} (${plural(calls, 'call')})`))));
  // Focusable so that a keyboard can scroll it; named after its table.
  return h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': caption }, table);
}

// A table whose last column is a bar proportional to the row's amount: readable as a table
// by screen readers, as a bar chart by eye. rows = [{label: node|string, amount_micros, calls}].
export function barTable({ caption, head, rows }) {
  const max = Math.max(...rows.map((r) => r.amount_micros), 1);
  return h('table', { class: 'table bars' },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, head), h('th', { scope: 'col', class: 'num' }, 'Calls'),
      h('th', { scope: 'col', class: 'num' }, 'Amount'),
      h('th', { scope: 'col', class: 'bar-col' }, h('span', { class: 'visually-hidden' }, 'Share')))),
    h('tbody', {}, rows.map((r) => h('tr', {},
      h('th', { scope: 'row', 'data-label': head }, r.label),
      h('td', { class: 'num', 'data-label': 'Calls' }, String(r.calls)),
      h('td', { class: 'num', 'data-label': 'Amount' }, usdMicros(r.amount_micros)),
      h('td', { class: 'bar-col', 'aria-hidden': 'true' },
        s('svg', { class: 'hbar', viewBox: '0 0 100 10', preserveAspectRatio: 'none', focusable: 'false' },
          s('rect', { class: 'track', x: 0, y: 0, width: 100, height: 10, rx: 2 }),
          s('rect', { class: 'bar', x: 0, y: 0, width: Math.max(1, (r.amount_micros / max) * 100), height: 10, rx: 2 })))))));
}
