// Opens N MCP sessions on a Streamable HTTP endpoint (initialize + notifications/initialized
// each, no GET stream: idle sessions) and prints their ids, one per line.
// Usage: node sessions.mjs URL N [concurrency]
const [url, countText, concurrencyText] = process.argv.slice(2);
const count = Number(countText);
const concurrency = Number(concurrencyText || 32);
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const ids = [];
let next = 0;

async function open() {
  const init = await fetch(url, {
    method: 'POST', headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }),
  });
  const id = init.headers.get('mcp-session-id');
  await init.text();
  if (init.status !== 200 || !id) throw new Error(`initialize failed: HTTP ${init.status}`);
  const done = await fetch(url, {
    method: 'POST', headers: { ...headers, 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await done.text();
  return id;
}

async function worker() {
  while (next < count) {
    next += 1;
    ids.push(await open());
  }
}

await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
process.stdout.write(ids.join('\n') + '\n');
