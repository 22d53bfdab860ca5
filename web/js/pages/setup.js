// Setup: copy-ready agent configuration for Claude Desktop, Cursor, Claude Code and plain
// HTTP, filled in with this server's URL (GET /api/v1/setup), and what each error means.
import { setupInfo } from '../api.js';
import { h, clear, pageHeader, field, copyButton, loading } from '../ui.js';
import { troubleshootingList } from '../troubleshooting.js';

const KEY_PLACEHOLDER = 'sk_live_YOUR_KEY';
const KEY_FORMAT = /^sk_live_[0-9a-f]{64}$/;

const shellQuote = (text) => `'${text.replace(/'/g, `'\\''`)}'`;

// The name a client shows for the server: the NAME of /mcp/NAME, else "tollgate".
function serverName(url) {
  try {
    const last = new URL(url).pathname.split('/').filter(Boolean).pop() || '';
    return /^[A-Za-z0-9_-]{1,40}$/.test(last) && last !== 'mcp' ? last : 'tollgate';
  } catch {
    return 'tollgate';
  }
}

const SNIPPETS = [
  {
    id: 'claude-desktop',
    title: 'Claude Desktop',
    where: [
      'In Claude Desktop open Settings → Developer → Edit Config, add this to ', h('code', {}, 'claude_desktop_config.json'),
      ' and restart Claude Desktop. It starts ', h('code', {}, 'tollgate connect'),
      ', a local bridge that forwards to the server and sends the key from the ', h('code', {}, 'AGENT_TOKEN'),
      ' environment variable. If ', h('code', {}, 'tollgate'), ' is not on the PATH, give its full path as the command.',
    ],
    text: (url, key, name) => JSON.stringify({
      mcpServers: { [name]: { command: 'tollgate', args: ['connect', url], env: { AGENT_TOKEN: key } } },
    }, null, 2),
  },
  {
    id: 'cursor',
    title: 'Cursor',
    where: [
      'Add this to ', h('code', {}, '.cursor/mcp.json'), ' in your project, or ', h('code', {}, '~/.cursor/mcp.json'),
      ' for every project. Cursor connects over HTTP and sends the key in the Authorization header.',
    ],
    text: (url, key, name) => JSON.stringify({
      mcpServers: { [name]: { url, headers: { Authorization: `Bearer ${key}` } } },
    }, null, 2),
  },
  {
    id: 'claude-code',
    title: 'Claude Code',
    where: ['Run this in a terminal. Claude Code connects over HTTP and sends the key in the Authorization header.'],
    text: (url, key, name) => `claude mcp add --transport http ${name} ${shellQuote(url)} \\\n  --header ${shellQuote(`Authorization: Bearer ${key}`)}`,
  },
  {
    id: 'http',
    title: 'Plain HTTP',
    where: [
      'Any MCP client or script that speaks Streamable HTTP: send ', h('code', {}, 'Authorization: Bearer <key>'),
      ' with every request. This starts a session; tool calls follow the MCP protocol.',
    ],
    text: (url, key) => [
      `curl ${shellQuote(url)} \\`,
      `  -H ${shellQuote(`Authorization: Bearer ${key}`)} \\`,
      `  -H 'Content-Type: application/json' \\`,
      `  -H 'Accept: application/json, text/event-stream' \\`,
      `  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1.0"}}}'`,
    ].join('\n'),
  },
  {
    id: 'stdio',
    title: 'Any stdio client',
    where: ['Clients that start a local command: run the bridge with the key in ', h('code', {}, 'AGENT_TOKEN'), '.'],
    text: (url, key) => `AGENT_TOKEN=${shellQuote(key)} tollgate connect ${shellQuote(url)}`,
  },
];

export function setupPage(section) {
  const platform = h('p', {}, loading('server address'));
  const urlField = field('MCP server URL', { type: 'url', name: 'mcp-url', autocomplete: 'off', spellcheck: 'false' },
    'The paid MCP endpoint. A Tollgate gateway on this server serves each tool server at /mcp/NAME; a provider running its own server gives you its URL.');
  const keyField = field('Agent key (optional)', { type: 'text', name: 'agent-key', class: 'mono', autocomplete: 'off',
    spellcheck: 'false', placeholder: 'sk_live_…' },
  'Paste a key from API Keys to fill it into the snippets below. It stays in this page: nothing is sent or saved.');
  const keyNote = h('p', { class: 'field-error', 'aria-live': 'polite' });
  keyField.wrap.append(keyNote);

  const blocks = SNIPPETS.map((snippet) => {
    const code = h('code', {});
    const title = `${snippet.id}-title`;
    return {
      snippet, code,
      element: h('section', { class: 'card snippet', 'aria-labelledby': title },
        h('div', { class: 'section-head' }, h('h3', { id: title }, snippet.title),
          copyButton(`Copy ${snippet.title} configuration`, () => code.textContent)),
        h('p', {}, snippet.where),
        h('pre', { tabindex: '0', 'aria-labelledby': title }, code)),
    };
  });

  function fill() {
    const url = urlField.input.value.trim() || urlField.input.placeholder;
    const key = keyField.input.value.trim();
    keyNote.textContent = key && !KEY_FORMAT.test(key)
      ? 'This does not look like a whole key (sk_live_ and 64 characters 0-9, a-f): check that nothing is missing.'
      : '';
    for (const { snippet, code } of blocks) code.textContent = snippet.text(url, key || KEY_PLACEHOLDER, serverName(url));
  }
  urlField.input.addEventListener('input', fill);
  keyField.input.addEventListener('input', fill);

  section.append(
    pageHeader('Setup', 'Connect an agent to paid MCP tools with one of your API keys.'),
    h('section', { class: 'card', id: 'configure', 'aria-labelledby': 'configure-title' },
      h('h2', { id: 'configure-title' }, 'Configuring Your Agent'),
      platform,
      h('div', { class: 'inline-fields' }, urlField.wrap, keyField.wrap)),
    ...blocks.map((b) => b.element),
    h('section', { class: 'card', id: 'troubleshooting', 'aria-labelledby': 'trouble-title' },
      h('h2', { id: 'trouble-title' }, 'Troubleshooting'),
      h('p', {}, 'A paid tool that cannot be charged answers with an error whose text starts with one of these codes. The tool did not run.'),
      troubleshootingList()));

  (async () => {
    const { publicUrl: base, mcpServers } = await setupInfo();
    clear(platform, 'This Tollgate server: ', h('code', {}, base));
    urlField.input.placeholder = `${base}/mcp/NAME`;
    // The gateway's own servers are offered as suggestions; the first is filled in.
    const endpoint = (name) => `${base}/mcp/${encodeURIComponent(name)}`;
    if (mcpServers.length) {
      const list = h('datalist', { id: 'mcp-servers' }, mcpServers.map((name) => h('option', { value: endpoint(name) })));
      urlField.input.setAttribute('list', list.id);
      urlField.wrap.append(list);
    }
    if (!urlField.input.value) urlField.input.value = endpoint(mcpServers[0] || 'everything');
    fill();
  })();
  fill();
}
