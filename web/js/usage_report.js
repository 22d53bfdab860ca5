// A usage report over a date range (GET /api/v1/usage): totals, a chart of each day split by
// key or by tool (stacked columns, with a legend and a table of the numbers), and tables of
// the totals per key and per tool. Role "spent" is the Usage page; role "earned" is the
// Provider page.
import { api } from './api.js';
import { h, clear, usd, loading, errorBox, emptyState } from './ui.js';
import { stackedDayChart, chartLegend, seriesTable, barTable, SERIES_COLOURS } from './chart.js';

const RANGES = [
  ['7', 'Last 7 days'],
  ['30', 'Last 30 days'],
  ['90', 'Last 90 days'],
  ['month', 'This month'],
  ['last-month', 'Last month'],
];

const iso = (d) => d.toISOString().slice(0, 10);

// Usage days are UTC calendar days, like the API's.
export function rangeDates(range, now = new Date()) {
  const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  if (range === 'month') return { from: iso(new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1))), to: iso(today) };
  if (range === 'last-month') {
    const first = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 1));
    const last = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 0));
    return { from: iso(first), to: iso(last) };
  }
  const from = new Date(today);
  from.setUTCDate(from.getUTCDate() - (Number(range) - 1));
  return { from: iso(from), to: iso(today) };
}

// Every day of the range, in order (the API leaves out days without charges).
function rangeDays(from, to) {
  const out = [];
  for (let d = new Date(`${from}T00:00:00Z`); iso(d) <= to; d.setUTCDate(d.getUTCDate() + 1)) out.push(iso(d));
  return out;
}

// Series of the over-time chart, largest first (the API sorts by_key and by_tool so). Past
// SERIES_COLOURS, the smallest share one grey "Other" series.
function chartSeries(entries, rows, field, otherNoun) {
  const shown = entries.length > SERIES_COLOURS ? entries.slice(0, SERIES_COLOURS - 1) : entries;
  const rest = entries.slice(shown.length);
  const series = shown.map((e, i) => ({ ...e, colour: `c${i}`, values: new Map() }));
  const byId = new Map(series.map((se) => [se.id, se]));
  let other = null;
  if (rest.length) {
    other = {
      id: null, text: `Other ${otherNoun}s (${rest.length})`, colour: 'c-other', values: new Map(),
      total_micros: rest.reduce((sum, e) => sum + e.total_micros, 0), calls: rest.reduce((sum, e) => sum + e.calls, 0),
    };
    other.name = () => h('span', {}, other.text);
    series.push(other);
  }
  for (const row of rows || []) {
    const se = byId.get(row[field]) || other;
    if (!se) continue;
    const cell = se.values.get(row.date) || { amount_micros: 0, calls: 0 };
    se.values.set(row.date, { amount_micros: cell.amount_micros + row.amount_micros, calls: cell.calls + row.calls });
  }
  return series;
}

function keyEntries(byKey) {
  // A name used by two keys gets their sk_live_... ending to tell them apart.
  const seen = new Map();
  for (const k of byKey) if (k.name != null) seen.set(k.name, (seen.get(k.name) || 0) + 1);
  return byKey.map((k) => ({
    id: k.key_id,
    text: k.name == null ? `Deleted key ${k.display}` : seen.get(k.name) > 1 ? `${k.name} (${k.display})` : k.name,
    name: () => keyName(k),
    total_micros: k.amount_micros,
    calls: k.calls,
  }));
}

function keyName(k) {
  return h('span', { class: 'key-name' }, k.name ?? h('em', {}, 'Deleted key'), ' ', h('code', {}, k.display));
}

function toolEntries(byTool) {
  return byTool.map((t) => ({ id: t.tool, text: t.tool, name: () => h('code', {}, t.tool), total_micros: t.amount_micros, calls: t.calls }));
}

export function usageReport({ role, idPrefix, heading = 'h2' }) {
  const spent = role === 'spent';
  const selectId = `${idPrefix}-range`;
  const select = h('select', { id: selectId }, RANGES.map(([value, label]) =>
    h('option', { value, selected: value === '30' }, label)));
  const body = h('div', { class: 'report' });
  const element = h('div', {},
    h('div', { class: 'toolbar' }, h('div', { class: 'field inline' }, h('label', { for: selectId }, 'Period'), select)),
    body);

  // Spend splits by key or by tool (radio buttons: arrow keys move between them); earnings
  // only by tool. The choice outlives a change of period.
  let by = spent ? 'key' : 'tool';
  let current = null;  // {usage, days} last drawn
  const view = h('div', { class: 'series-view' });
  const toggle = spent && h('fieldset', { class: 'segmented' },
    h('legend', { class: 'visually-hidden' }, 'Show spend'),
    [['key', 'By key'], ['tool', 'By tool']].map(([value, text]) => h('label', {},
      h('input', { type: 'radio', name: `${idPrefix}-by`, value, checked: value === by,
        onchange: () => {
          by = value;
          if (current) drawSeries();
        } }),
      h('span', {}, text))));

  async function load() {
    const { from, to } = rangeDates(select.value);
    body.setAttribute('aria-busy', 'true');
    clear(body, loading(spent ? 'usage' : 'earnings'));
    try {
      const usage = await api.get(`/api/v1/usage?${new URLSearchParams({ from, to, role })}`);
      draw(usage, from, to);
    } catch (error) {
      clear(body, errorBox(error, load));
    } finally {
      body.setAttribute('aria-busy', 'false');
    }
  }

  // The over-time chart, its legend and its table, for the current split.
  function drawSeries() {
    const { usage, days } = current;
    const perKey = by === 'key';
    const series = perKey ? chartSeries(keyEntries(usage.by_key || []), usage.by_day_key, 'key_id', 'key')
      : chartSeries(toolEntries(usage.by_tool), usage.by_day_tool, 'tool', 'tool');
    const label = `${spent ? 'Spend' : 'Earnings'} per day by ${by}`;
    const details = view.querySelector('details');
    clear(view,
      stackedDayChart({ days, series, label }),
      chartLegend(series, perKey ? 'Keys in the chart' : 'Tools in the chart'),
      h('details', { class: 'chart-data', open: details?.open },
        h('summary', {}, 'Show the numbers as a table'),
        seriesTable({ caption: label, days, series })));
  }

  function draw(usage, from, to) {
    const stats = h('div', { class: 'stats' },
      h('div', { class: 'stat' }, h('p', { class: 'stat-label' }, spent ? 'Total spent' : 'Total earned'),
        h('p', { class: 'stat-value' }, usd(usage.total))),
      h('div', { class: 'stat' }, h('p', { class: 'stat-label' }, spent ? 'Paid tool calls' : 'Paid calls to your tools'),
        h('p', { class: 'stat-value' }, String(usage.calls))));
    if (!usage.calls) {
      current = null;
      clear(body, stats, emptyState(spent ? 'No spending in this period' : 'No earnings in this period',
        spent ? 'When your agents call paid tools, the spend shows here over time, per key and per tool.'
          : 'When agents call your paid tools, the earnings show here over time and per tool.'));
      return;
    }
    const title = spent ? 'Spend over time' : 'Earnings per tool over time';
    const titleId = `${idPrefix}-over-time`;
    const byTool = barTable({
      caption: spent ? 'Spend per tool' : 'Calls and earnings per tool',
      head: 'Tool',
      rows: usage.by_tool.map((t) => ({ label: h('code', {}, t.tool), amount_micros: t.amount_micros, calls: t.calls })),
    });
    const byKey = spent && usage.by_key && barTable({
      caption: 'Spend per key',
      head: 'Key',
      rows: usage.by_key.map((k) => ({ label: keyName(k), amount_micros: k.amount_micros, calls: k.calls })),
    });
    current = { usage, days: rangeDays(from, to) };
    clear(body, stats,
      h('section', { class: 'card', 'aria-labelledby': titleId },
        h('div', { class: 'section-head' }, h(heading, { id: titleId }, title), toggle),
        view),
      h('div', { class: 'split' },
        byKey && h('section', { class: 'card' }, byKey),
        h('section', { class: 'card' }, byTool)));
    drawSeries();
  }

  select.addEventListener('change', load);
  load();
  return element;
}
