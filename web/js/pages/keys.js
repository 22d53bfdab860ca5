// API Keys: the page the product documentation (agent-api-keys) walks through, step by step.
import { h, pageHeader } from '../ui.js';
import { keyManager } from '../keys_manager.js';
import { troubleshootingList } from '../troubleshooting.js';

export function keysPage(section) {
  const keys = keyManager({
    endpoint: '/api/v1/keys',
    createLabel: 'Create Key',
    title: 'Create API key',
    caption: 'API keys',
    spendLimit: true,
    empty: ['No API keys yet', 'Create a key for each agent or app, like “Production”, “Development” or “Claude Desktop”.'],
  });
  section.append(
    pageHeader('API Keys',
      'Agent API keys (tokens) authenticate your agent when calling paid MCP tools. Each key has scope agent:connect, which allows connecting to MCP servers and being charged for tool calls.',
      keys.createButton),
    keys.list,
    h('section', { class: 'card help', 'aria-labelledby': 'keys-help' },
      h('h2', { id: 'keys-help' }, 'Using keys'),
      h('p', {}, 'Keys look like ', h('code', {}, 'sk_live_a1b2c3d4e5f6…'),
        ' (64 random hex characters after sk_live_). After creation the dashboard shows only the prefix and last 4 characters, like ',
        h('code', {}, 'sk_live_...x7z9'), '.'),
      h('p', {}, 'Each key shares your account balance but can be revoked independently. To rotate a key: create a new key with the same name (add “v2” or a date), update your agents, then delete the old key.'),
      h('p', {}, h('a', { href: '/setup' }, 'Set up your agent'), ' with a key.')),
    h('section', { class: 'card help', 'aria-labelledby': 'keys-trouble' },
      h('h2', { id: 'keys-trouble' }, 'Troubleshooting'),
      troubleshootingList(['TOKEN_INVALID', 'TOKEN_MISSING'])));
}
