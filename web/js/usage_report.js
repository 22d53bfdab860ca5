// A usage report over a date range (GET /api/v1/usage): totals, a chart per day, and tables
// per key and per tool. Role "spent" is the Usage page; role "earned" is the Provider page.
import { api } from './api.js';
import { h, clear, usd, loading, errorBox, emptyState } from './ui.js';
import { dayChart, barTable } from './chart.js';

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

// Every day of the range, with zero where the API has no row.
function fillDays(from, to, byDay) {
  const known = new Map(byDay.map((d) => [d.date, d]));
  const out = [];
  for (let d = new Date(`${from}T00:00:00Z`); iso(d) <= to; d.setUTCDate(d.getUTCDate() + 1)) {
    const row = known.get(iso(d));
    out.push({ date: iso(d), amount_micros: row ? row.amount_micros : 0, calls: row ? row.calls : 0 });
  }
  return out;
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

  function draw(usage, from, to) {
    const stats = h('div', { class: 'stats' },
      h('div', { class: 'stat' }, h('p', { class: 'stat-label' }, spent ? 'Total spent' : 'Total earned'),
        h('p', { class: 'stat-value' }, usd(usage.total))),
      h('div', { class: 'stat' }, h('p', { class: 'stat-label' }, spent ? 'Paid tool calls' : 'Paid calls to your tools'),
        h('p', { class: 'stat-value' }, String(usage.calls))));
    if (!usage.calls) {
      clear(body, stats, emptyState(spent ? 'No spending in this period' : 'No earnings in this period',
        spent ? 'When your agents call paid tools, the spend shows here per day, per key and per tool.'
          : 'When agents call your paid tools, the earnings show here per day and per tool.'));
      return;
    }
    const label = spent ? 'Spend per day' : 'Earnings per day';
    const byTool = barTable({
      caption: spent ? 'Spend per tool' : 'Calls and earnings per tool',
      head: 'Tool',
      rows: usage.by_tool.map((t) => ({ label: h('code', {}, t.tool), amount_micros: t.amount_micros, calls: t.calls })),
    });
    const byKey = spent && usage.by_key && barTable({
      caption: 'Spend per key',
      head: 'Key',
      rows: usage.by_key.map((k) => ({
        label: h('span', {}, k.name ?? h('em', {}, 'Deleted key'), ' ', h('code', {}, k.display)),
        amount_micros: k.amount_micros, calls: k.calls,
      })),
    });
    clear(body, stats,
      h('section', { class: 'card', 'aria-label': label }, h(heading, {}, label),
        dayChart(fillDays(from, to, usage.by_day), { label })),
      h('div', { class: 'split' },
        byKey && h('section', { class: 'card' }, byKey),
        h('section', { class: 'card' }, byTool)));
  }

  select.addEventListener('change', load);
  load();
  return element;
}
