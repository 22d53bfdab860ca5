// Provider: for people who sell tools. Provider keys (the paid MCP server charges agents
// with one), earnings, and calls per tool.
import { api, setupInfo } from '../api.js';
import { h, clear, usd, loading, errorBox } from '../ui.js';
import { keyManager } from '../keys_manager.js';
import { usageReport } from '../usage_report.js';

export function providerPage(section) {
  const keys = keyManager({
    endpoint: '/api/v1/provider-keys',
    createLabel: 'Create Provider Key',
    title: 'Create provider key',
    caption: 'Provider keys',
    spendLimit: false,
    empty: ['No provider keys yet', 'Create one for each paid MCP server or gateway you run.'],
  });
  const earnings = h('div', { class: 'stat-value' }, loading('earnings'));
  const serverEnv = h('code', {}, 'TOLLGATE_URL=… TOLLGATE_API_KEY=sk_live_…');
  setupInfo().then(({ publicUrl: url }) => {
    serverEnv.textContent = `TOLLGATE_URL=${url}\nTOLLGATE_API_KEY=sk_live_...   # the provider key, shown once when created`;
  });
  section.append(
    h('header', { class: 'page-header' }, h('div', {},
      h('h1', { tabindex: '-1' }, 'Provider'),
      h('p', { class: 'intro' }, 'Sell your MCP tools: your server charges each call to the calling agent’s account, and what agents spend becomes your earnings.'))),
    h('div', { class: 'stats' }, h('div', { class: 'stat' }, h('p', { class: 'stat-label' }, 'Earnings to date'), earnings)),
    h('section', { class: 'card', 'aria-labelledby': 'provider-keys-title' },
      h('div', { class: 'section-head' }, h('h2', { id: 'provider-keys-title' }, 'Provider keys'), keys.createButton),
      h('p', {}, 'A provider key (scope provider:charge) lets your paid MCP server charge agents, refund its own charges and verify agent keys; nothing else. The Tollgate SDK and gateway read it from the ',
        h('code', {}, 'TOLLGATE_API_KEY'), ' environment variable, and this server’s address from ', h('code', {}, 'TOLLGATE_URL'), ':'),
      h('pre', { tabindex: '0', 'aria-label': 'Environment of a paid MCP server' }, serverEnv),
      keys.list),
    h('section', { class: 'card', 'aria-labelledby': 'earned-title' },
      h('h2', { id: 'earned-title' }, 'Earnings and calls per tool'),
      usageReport({ role: 'earned', idPrefix: 'earned', heading: 'h3' })));

  (async function loadEarnings() {
    try {
      const wallet = await api.get('/api/v1/wallet');
      clear(earnings, usd(wallet.earnings));
    } catch (error) {
      clear(earnings, errorBox(error, () => {
        clear(earnings, loading('earnings'));
        loadEarnings();
      }));
    }
  })();
}
