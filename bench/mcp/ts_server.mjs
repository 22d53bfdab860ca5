// The official TypeScript SDK server (McpServer + StreamableHTTPServerTransport) serving the
// same trivial tool as conformance_server's test_simple_text, for bench/mcp/run.sh.
// Usage: node ts_server.mjs --stateless|--sessions [--json | --resumable]  (prints "listening on http://HOST:PORT");
// --json: sessions answer POSTs with JSON (enableJsonResponse) instead of an SSE stream.
// --resumable: SSE streams with event ids a client can resume from (Last-Event-ID), as
// tollgate's are: the SDK's own InMemoryEventStore as the transport's eventStore.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const requireTool = createRequire(path.join(root, 'tests/npm/package.json'));
const sdk = async (p) => import(pathToFileURL(requireTool.resolve(`@modelcontextprotocol/sdk/${p}`)).href);
const { McpServer } = await sdk('server/mcp.js');
const { StreamableHTTPServerTransport } = await sdk('server/streamableHttp.js');
const { InMemoryEventStore } = await sdk('examples/shared/inMemoryEventStore.js');

const stateless = process.argv.includes('--stateless');
const jsonAnswers = process.argv.includes('--json');
const resumable = process.argv.includes('--resumable');

function makeServer() {
  const server = new McpServer({ name: 'ts-bench', version: '1.0.0' });
  server.registerTool('test_simple_text', { description: 'Tests simple text content response' }, async () => ({
    content: [{ type: 'text', text: 'This is a simple text response for testing.' }],
  }));
  return server;
}

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

const transports = new Map();

const httpServer = http.createServer(async (req, res) => {
  try {
    if (stateless) {
      // The SDK's stateless pattern: a fresh server and transport per request, JSON answers.
      if (req.method !== 'POST') { res.writeHead(405).end(); return; }
      const body = await readJson(req);
      const server = makeServer();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => { transport.close(); server.close(); });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
      return;
    }
    const sessionId = req.headers['mcp-session-id'];
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    let transport = sessionId ? transports.get(sessionId) : undefined;
    if (!transport) {
      if (req.method !== 'POST' || sessionId || body?.method !== 'initialize') {
        res.writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Invalid or missing session ID' }, id: null }));
        return;
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: jsonAnswers,
        eventStore: resumable ? new InMemoryEventStore() : undefined,
        onsessioninitialized: (id) => transports.set(id, transport),
      });
      transport.onclose = () => { if (transport.sessionId) transports.delete(transport.sessionId); };
      await makeServer().connect(transport);
    }
    await transport.handleRequest(req, res, body);
  } catch (e) {
    if (!res.headersSent) res.writeHead(500).end(String(e));
  }
});

httpServer.keepAliveTimeout = 60000;
httpServer.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${httpServer.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
