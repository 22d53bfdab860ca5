// Charts drawn as inline SVG, sized to their container (redrawn when it resizes, so text
// stays legible on a phone). Money comes in as integer micro-dollars.
import { h, s, clear, usdMicros, day } from './ui.js';

// Round axis steps: 1, 2 or 5 times a power of ten.
function niceStep(max, ticks) {
  const rough = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  for (const m of [1, 2, 5, 10]) {
    if (m * magnitude >= rough) return m * magnitude;
  }
  return 10 * magnitude;
}

// Columns over days: points = [{date: 'YYYY-MM-DD', amount_micros, calls}], one per day.
export function dayChart(points, { label }) {
  const figure = h('figure', { class: 'chart' });
  const total = points.reduce((sum, p) => sum + p.amount_micros, 0);
  const peak = points.reduce((best, p) => (p.amount_micros > best.amount_micros ? p : best), points[0]);
  const summary = points.length
    ? `${label} from ${day(points[0].date)} to ${day(points[points.length - 1].date)}: ${usdMicros(total)} in total` +
      (peak && peak.amount_micros > 0 ? `, highest on ${day(peak.date)} with ${usdMicros(peak.amount_micros)}.` : '.')
    : `${label}: no data.`;

  function draw(width) {
    const height = Math.max(180, Math.min(260, width * 0.45));
    const pad = { top: 12, right: 12, bottom: 28, left: 64 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const max = Math.max(...points.map((p) => p.amount_micros), 0);
    const step = max > 0 ? niceStep(max, 4) : 10000;  // an empty chart still shows $0.00 to $0.04
    const top = max > 0 ? Math.ceil(max / step) * step : step * 4;
    const y = (v) => pad.top + plotH - (v / top) * plotH;
    const slot = plotW / Math.max(points.length, 1);
    const barW = Math.max(1, Math.min(32, slot * 0.7));

    const grid = [];
    for (let v = 0; v <= top + 1e-9; v += step) {
      grid.push(s('line', { class: 'grid', x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }),
        s('text', { class: 'axis', x: pad.left - 8, y: y(v) + 4, 'text-anchor': 'end' }, usdMicros(v)));
    }
    // Label as many days as fit without overlapping (about 70px each).
    const every = Math.max(1, Math.ceil(points.length / Math.max(1, Math.floor(plotW / 70))));
    const bars = points.map((p, i) => {
      const x = pad.left + i * slot + (slot - barW) / 2;
      const parts = [];
      if (p.amount_micros > 0) {
        const barTop = y(p.amount_micros);
        const tip = `${day(p.date)}: ${usdMicros(p.amount_micros)}, ${p.calls} call${p.calls === 1 ? '' : 's'}`;
        parts.push(s('rect', { class: 'bar', x, y: barTop, width: barW, height: Math.max(1, y(0) - barTop), rx: 2 },
          s('title', {}, tip)));
      }
      if (i % every === 0) {
        parts.push(s('text', { class: 'axis', x: x + barW / 2, y: height - 8, 'text-anchor': 'middle' }, shortDay(p.date)));
      }
      return parts;
    });
    return s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': summary },
      grid, s('line', { class: 'baseline', x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0) }), bars);
  }

  let lastWidth = 0;
  const observer = new ResizeObserver(() => redraw());
  const redraw = () => {
    if (!figure.isConnected) return observer.disconnect();  // the page was left
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
