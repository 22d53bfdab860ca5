// The gateway end to end: `tollgate gateway` in front of the official
// @modelcontextprotocol/server-everything (over stdio and over HTTP) and of the weather
// example (stdio, unpaid: the gateway charges), called with the official TypeScript SDK
// client. Proves: exact charges with receipts, every refusal code with the upstream tool
// provably not run, features forwarded (progress, sampling, cancellation both ways, completion), a
// stdio upstream's request never shown to another agent's client, log messages only to the
// agent they are about, the agent's key never reaching the upstream (stdio or HTTP),
// UPSTREAM_ERROR refunded, a crashed stdio upstream restarted (with backoff when it keeps
// crashing), a prompt stop while an upstream is still connecting, and the in-process gateway
// of `tollgate serve --gateway-config`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import {
  Platform, SOURCE_DIR, until, makeWorld, balanceMicros, Server, httpClient, tempFile, ranCount, cancelledCount, errorCode, text,
  BUILD_DIR, NODE,
} from './pay_harness.mjs';

const EVERYTHING = path.join(SOURCE_DIR, 'tests/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const TOLLGATE = process.env.TOLLGATE_BINARY || path.join(BUILD_DIR, 'tollgate');
const WEATHER = path.join(BUILD_DIR, 'weather_server');

let platform, world, gateway, everythingHttp, everythingPort, audit, configFile;
const PRICE_FORECAST = 50000;  // forecast = "0.05" below, in micro-dollars
// The weather upstream's default_price, for its tools without a price of their own
// (current_conditions). Not 0.01, the price the weather example charges by itself: a charge
// of 0.02 can only have come from the gateway's default.
const PRICE_DEFAULT = 20000;

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function startEverythingHttp(port) {
  const child = spawn(NODE, [EVERYTHING, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  return until(async () => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, body: '{}' });
      return r.status > 0 ? child : null;
    } catch { return null; }
  }, 'server-everything over HTTP');
}

// A gateway of its own, for a test whose upstreams must not disturb the shared one:
// `upstreams` is the TOML of its [[upstream]] tables; it charges through the test platform.
async function startGateway(upstreams) {
  const file = tempFile('gateway.toml');
  fs.writeFileSync(file, `[platform]\nurl = "${platform.url}"\n\n${upstreams}`);
  return Server.start(TOLLGATE, ['gateway', '--config', file, '--listen', '127.0.0.1:0'],
    { TOLLGATE_API_KEY: world.providerKey });
}

// The official SDK's ESM build (for upstream scripts written with it) and its schemas (for
// the handlers of an agent's client).
const SDK_DIR = path.join(SOURCE_DIR, 'tests/npm/node_modules/@modelcontextprotocol/sdk/dist/esm');
const sdkTypes = () => import(new URL('../../npm/node_modules/@modelcontextprotocol/sdk/dist/esm/types.js', import.meta.url));

// A plain HTTP proxy to `target` (an MCP endpoint) that records every request the upstream
// behind it receives: method, path, headers as sent, and body. Responses (SSE streams too)
// are piped back unchanged.
async function recordingProxy(target) {
  const to = new URL(target);
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method, path: req.url, headers: req.headers, rawHeaders: req.rawHeaders, body: body.toString('utf8') });
      const forward = http.request({ host: to.hostname, port: to.port, method: req.method, path: req.url,
        headers: { ...req.headers, host: to.host } }, (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      });
      forward.on('error', () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}${to.pathname}`,
    seen,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

const upstreamsReady = async (url) => (await (await fetch(`${url}/healthz`)).json()).upstreams_ready;

function stop(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  return exited;
}

before(async () => {
  platform = await Platform.start();
  world = await makeWorld(platform, '0.20');
  everythingPort = await freePort();
  everythingHttp = await startEverythingHttp(everythingPort);
  audit = tempFile('audit.log');
  configFile = tempFile('gateway.toml');
  fs.writeFileSync(configFile, `
[platform]
url = "${platform.url}"

[[upstream]]
name = "everything"
command = ["${NODE}", "${EVERYTHING}", "stdio"]
[upstream.prices]
echo = "0.01"
trigger-long-running-operation = "0.03"
trigger-sampling-request = "0.01"

[[upstream]]
name = "everything-http"
url = "http://127.0.0.1:${everythingPort}/mcp"
[upstream.prices]
echo = "0.01"

[[upstream]]
name = "weather"
command = ["${WEATHER}", "--stdio", "--free", "--audit-log", "${audit}"]
default_price = "0.02"
[upstream.prices]
forecast = "0.05"
list_cities = "0"
`);
  gateway = await Server.start(TOLLGATE, ['gateway', '--config', configFile, '--listen', '127.0.0.1:0'],
    { TOLLGATE_API_KEY: world.providerKey });
  await until(async () => (await (await fetch(`${gateway.url}/healthz`)).json()).upstreams_ready, 'upstreams', 60000);
});

after(async () => {
  await gateway?.stop();
  await stop(everythingHttp);
  await platform?.stop();
});

const mcp = (name) => `${gateway.url}/mcp/${name}`;

test('tools/list of an upstream carries the configured prices', async () => {
  const client = await httpClient(mcp('everything'));
  const { tools } = await client.listTools();
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  assert.deepEqual(byName.echo._meta['tollgate/price'], { amount: '0.01', currency: 'USD' });
  assert.equal(byName['get-sum']._meta?.['tollgate/price'], undefined, 'no price, no default: free');
  await client.close();
});

test('a paid call through the gateway (stdio upstream) charges exactly the price', async () => {
  const before = await balanceMicros(platform, world.owner);
  const client = await httpClient(mcp('everything'), world.agentKey);
  const result = await client.callTool({ name: 'echo', arguments: { message: 'hello' } });
  assert.equal(errorCode(result), null, text(result));
  assert.match(text(result), /hello/);
  assert.match(result._meta['tollgate/receipt'].charge_id, /^ch_/);
  assert.equal(await balanceMicros(platform, world.owner), before - 10000);
  const free = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
  assert.match(text(free), /5/);
  assert.equal(await balanceMicros(platform, world.owner), before - 10000, 'free tools cost nothing');
  await client.close();
});

test('over an HTTP upstream too', async () => {
  const before = await balanceMicros(platform, world.owner);
  const client = await httpClient(mcp('everything-http'), world.agentKey);
  const result = await client.callTool({ name: 'echo', arguments: { message: 'over http' } });
  assert.equal(errorCode(result), null, text(result));
  assert.equal(await balanceMicros(platform, world.owner), before - 10000);
  await client.close();
});

test("a tool without a price of its own costs the upstream's default_price; one with a price, its price", async () => {
  // Credited here so that the charges below do not eat into what later tests spend.
  const credit = await platform.api('POST', '/api/v1/admin/credits', { token: world.owner, body: { email: 'owner@example.com', amount: '0.10' } });
  assert.equal(credit.status, 201, credit.text);
  const client = await httpClient(mcp('weather'), world.agentKey);
  const { tools } = await client.listTools();
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  assert.deepEqual(byName.current_conditions._meta['tollgate/price'], { amount: '0.02', currency: 'USD' }, 'listed at the default');
  assert.deepEqual(byName.forecast._meta['tollgate/price'], { amount: '0.05', currency: 'USD' });
  assert.equal(byName.list_cities._meta?.['tollgate/price'], undefined, 'its own "0" beats the default: free');

  const ran = ranCount(audit);
  let before = await balanceMicros(platform, world.owner);
  const byDefault = await client.callTool({ name: 'current_conditions', arguments: { city: 'Paris' } });
  assert.equal(errorCode(byDefault), null, text(byDefault));
  assert.equal(byDefault._meta['tollgate/receipt'].amount, '0.02');
  assert.equal(await balanceMicros(platform, world.owner), before - PRICE_DEFAULT, 'charged exactly default_price');

  before = await balanceMicros(platform, world.owner);
  const ownPrice = await client.callTool({ name: 'forecast', arguments: { city: 'Paris', days: 1 } });
  assert.equal(errorCode(ownPrice), null, text(ownPrice));
  assert.equal(ownPrice._meta['tollgate/receipt'].amount, '0.05');
  assert.equal(await balanceMicros(platform, world.owner), before - PRICE_FORECAST, 'charged its own price, not the default');

  before = await balanceMicros(platform, world.owner);
  const free = await client.callTool({ name: 'list_cities', arguments: {} });
  assert.equal(errorCode(free), null, text(free));
  assert.equal(free._meta?.['tollgate/receipt'], undefined);
  assert.equal(await balanceMicros(platform, world.owner), before, 'a price of "0" charges nothing');
  assert.equal(ranCount(audit), ran + 2, 'both paid bodies ran once');
  await client.close();
});

test('progress and sampling requests are forwarded both ways', async () => {
  const { CreateMessageRequestSchema } = await sdkTypes();
  const client = await httpClient(mcp('everything'), world.agentKey, { name: 'sampler', capabilities: { sampling: {} },
    prepare: (c) => c.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: 'assistant', model: 'test-model', content: { type: 'text', text: 'sampled by the agent' } })) });
  const progress = [];
  const long = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 3 } },
    undefined, { onprogress: (p) => progress.push(p) });
  assert.equal(errorCode(long), null, text(long));
  assert.ok(progress.length >= 3, `progress forwarded (${progress.length})`);
  const sampled = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 10 } });
  assert.equal(errorCode(sampled), null, text(sampled));
  assert.match(text(sampled), /sampled by the agent/);
  await client.close();
});

test("a stdio upstream's request never reaches another agent's client", async () => {
  // A second agent, of another account, and credits for both.
  const otherOwner = await platform.signup('other@example.com');
  const otherKey = (await platform.api('POST', '/api/v1/keys', { token: otherOwner, body: { name: 'other agent' } })).body.key;
  for (const email of ['other@example.com', 'owner@example.com']) {
    const credit = await platform.api('POST', '/api/v1/admin/credits', { token: world.owner, body: { email, amount: '0.10' } });
    assert.equal(credit.status, 201, credit.text);
  }
  const { CreateMessageRequestSchema } = await sdkTypes();
  // A client that records the prompts it is asked, and answers once `release()` is called.
  const sampler = (key) => httpClient(mcp('everything'), key, { name: 'sampler', capabilities: { sampling: {} },
    prepare: (client) => {
      client.asked = [];
      let release;
      const released = new Promise((resolve) => { release = resolve; });
      let asked;
      client.firstAsked = new Promise((resolve) => { asked = resolve; });
      client.release = release;
      client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
        client.asked.push(request.params.messages.map((m) => m.content.text).join(' '));
        asked();
        await released;
        return { role: 'assistant', model: 'test-model', content: { type: 'text', text: 'sampled by the agent' } };
      });
    } });
  const sample = (client, prompt) =>
    client.callTool({ name: 'trigger-sampling-request', arguments: { prompt, maxTokens: 10 } });

  // Agent B's call waits on its own client (its sampling request is held) when agent A's
  // tool asks for one too: the upstream's request does not say which call it is for, so it
  // goes to nobody and A's call fails, instead of showing A's prompt to B's client.
  const a = await sampler(world.agentKey);
  const b = await sampler(otherKey);
  const bCall = sample(b, 'prompt of agent B');
  await b.firstAsked;
  a.release();
  const refused = await sample(a, 'prompt of agent A');
  assert.equal(refused.isError, true, text(refused));
  b.release();
  assert.equal(errorCode(await bCall), null);
  assert.deepEqual(b.asked.map((p) => /agent A/.test(p)), [false], "B's client saw only B's prompt");
  assert.deepEqual(a.asked, []);

  // Two sessions of one agent key: the newest call's client answers.
  const a2 = await sampler(world.agentKey);
  const a2Call = sample(a2, 'first prompt of agent A');
  await a2.firstAsked;
  const sampled = await sample(a, 'second prompt of agent A');
  assert.equal(errorCode(sampled), null, text(sampled));
  assert.match(text(sampled), /sampled by the agent/);
  a2.release();
  assert.equal(errorCode(await a2Call), null);
  assert.equal(a.asked.length, 1);
  assert.match(a.asked[0], /second prompt/);
  await Promise.all([a.close(), a2.close(), b.close()]);
});

test("an upstream's log messages reach the agent whose call they are about, and no other agent", async () => {
  // conformance_server's test_tool_with_logging logs three messages while it runs. Over
  // HTTP they come on the call's own stream; over stdio they name no call, and the gateway
  // passes them to the one caller with calls in flight.
  const conformanceHttp = await Server.start(path.join(BUILD_DIR, 'conformance_server'), ['--listen', '127.0.0.1:0']);
  const own = await startGateway(`
[[upstream]]
name = "conf-http"
url = "${conformanceHttp.url}/mcp"

[[upstream]]
name = "conf-stdio"
command = ["${path.join(BUILD_DIR, 'conformance_server')}", "--stdio"]
`);
  const otherOwner = await platform.signup('logs@example.com');
  const otherKey = (await platform.api('POST', '/api/v1/keys', { token: otherOwner, body: { name: 'log reader' } })).body.key;
  const { LoggingMessageNotificationSchema } = await sdkTypes();
  try {
    await until(async () => upstreamsReady(own.url), 'upstreams', 60000);
    for (const upstream of ['conf-http', 'conf-stdio']) {
      const listener = async (key) => {
        const logs = [];
        const client = await httpClient(`${own.url}/mcp/${upstream}`, key, { name: 'log reader',
          prepare: (c) => c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push(n.params.data); }) });
        client.logs = logs;
        return client;
      };
      const a = await listener(world.agentKey);
      const b = await listener(otherKey);
      await b.ping();
      await new Promise((resolve) => setTimeout(resolve, 300));  // B's server stream (GET) is open
      const called = await a.callTool({ name: 'test_tool_with_logging', arguments: {} });
      assert.equal(called.isError, undefined, text(called));
      await new Promise((resolve) => setTimeout(resolve, 300));  // anything else would have arrived
      assert.deepEqual(a.logs, ['Tool execution started', 'Tool processing data', 'Tool execution completed'], upstream);
      assert.deepEqual(b.logs, [], `${upstream}: B's client saw A's logs`);
      await Promise.all([a.close(), b.close()]);
    }
  } finally {
    await own.stop();
    await conformanceHttp.stop();
  }
});

test("an upstream withdrawing its question withdraws it from the agent's client too", async () => {
  // An upstream written with the official SDK asks the agent (elicitation) and gives up
  // after 300 ms: the SDK sends notifications/cancelled. The gateway passes that on, so the
  // agent's client sees its own request aborted instead of a prompt left open.
  const upstreamScript = tempFile('impatient.mjs');
  fs.writeFileSync(upstreamScript, `
const { McpServer } = await import('${SDK_DIR}/server/mcp.js');
const { StdioServerTransport } = await import('${SDK_DIR}/server/stdio.js');
const { ElicitResultSchema } = await import('${SDK_DIR}/types.js');
const server = new McpServer({ name: 'impatient', version: '1.0.0' });
server.registerTool('ask', { description: 'asks, and waits 300 ms for an answer' }, async () => {
  try {
    const r = await server.server.request({ method: 'elicitation/create',
      params: { message: 'Your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } } } } },
      ElicitResultSchema, { timeout: 300 });
    return { content: [{ type: 'text', text: 'answered: ' + r.action }] };
  } catch (e) {
    return { content: [{ type: 'text', text: 'gave up: ' + e.message }] };
  }
});
await server.connect(new StdioServerTransport());
`);
  const own = await startGateway(`
[[upstream]]
name = "impatient"
command = ["${NODE}", "${upstreamScript}"]
`);
  try {
    await until(async () => upstreamsReady(own.url), 'upstreams', 60000);
    const { ElicitRequestSchema } = await sdkTypes();
    let aborted = false;
    const client = await httpClient(`${own.url}/mcp/impatient`, world.agentKey, { name: 'slow human', capabilities: { elicitation: {} },
      prepare: (c) => c.setRequestHandler(ElicitRequestSchema, (request, extra) => new Promise((resolve) => {
        const give = () => resolve({ action: 'decline' });
        extra.signal.addEventListener('abort', () => { aborted = true; give(); });
        setTimeout(give, 10000);
      })) });
    const result = await client.callTool({ name: 'ask', arguments: {} });
    assert.match(text(result), /^gave up/, text(result));
    await until(async () => aborted || null, "the agent's elicitation aborted", 5000);
    await client.close();
  } finally {
    await own.stop();
  }
});

test("a list change an HTTP upstream sends on a call's stream re-mirrors it, and agents hear of it once", async () => {
  // The upstream (the official SDK's low-level Server over Streamable HTTP, SSE answers)
  // adds a tool while a call runs and says so on that call's own stream, as
  // extra.sendNotification does, not on its GET stream. The gateway must take that as the
  // upstream's news: re-mirror, and tell its agents. Re-mirroring replaces the tools it
  // already has in place, so agents are told of the one new tool, not of every tool again.
  const upstreamScript = tempFile('growing.mjs');
  fs.writeFileSync(upstreamScript, `
import http from 'node:http';
import { randomUUID } from 'node:crypto';
const { Server } = await import('${SDK_DIR}/server/index.js');
const { StreamableHTTPServerTransport } = await import('${SDK_DIR}/server/streamableHttp.js');
const { ListToolsRequestSchema, CallToolRequestSchema } = await import('${SDK_DIR}/types.js');
const tools = [{ name: 'grow', description: 'adds the tool grown', inputSchema: { type: 'object' } }];
function makeServer() {
  const server = new Server({ name: 'growing', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    if (request.params.name === 'grow' && !tools.some((t) => t.name === 'grown')) {
      tools.push({ name: 'grown', description: 'added by grow', inputSchema: { type: 'object' } });
      await extra.sendNotification({ method: 'notifications/tools/list_changed' });
    }
    return { content: [{ type: 'text', text: 'ran ' + request.params.name }] };
  });
  return server;
}
const transports = new Map();
const httpServer = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
  let transport = transports.get(req.headers['mcp-session-id']);
  if (!transport) {
    transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => transports.set(id, transport) });
    await makeServer().connect(transport);
  }
  await transport.handleRequest(req, res, body);
});
httpServer.listen(Number(process.argv[2]), '127.0.0.1');
`);
  const port = await freePort();
  const upstream = spawn(NODE, [upstreamScript, String(port)], { stdio: ['ignore', 'ignore', 'inherit'] });
  let own;
  try {
    own = await startGateway(`
[[upstream]]
name = "growing"
url = "http://127.0.0.1:${port}/mcp"
`);
    await until(async () => upstreamsReady(own.url), 'upstreams', 60000);
    const { ToolListChangedNotificationSchema } = await sdkTypes();
    let changes = 0;
    const client = await httpClient(`${own.url}/mcp/growing`, world.agentKey, { name: 'watcher',
      prepare: (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, () => { changes += 1; }) });
    const names = async () => (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(await names(), ['grow']);
    assert.equal(text(await client.callTool({ name: 'grow', arguments: {} })), 'ran grow');
    await until(async () => ((await names()).includes('grown') ? true : null), 'grown mirrored', 10000);
    await until(async () => changes > 0 || null, 'list_changed reaches the agent', 5000);
    assert.equal(text(await client.callTool({ name: 'grown', arguments: {} })), 'ran grown');
    await new Promise((resolve) => setTimeout(resolve, 300));  // room for any further (wrong) notice
    assert.equal(changes, 1, 'one notice for one new tool');
    await client.close();
  } finally {
    await own?.stop();
    await stop(upstream);
  }
});

test('URL elicitation: the agent gets the -32042 error (refunded) and, later, the completion; no other agent does; a client without URL mode gets the URL in words', async () => {
  // An upstream written with the official SDK needs its user to connect an account first:
  // its tool throws UrlElicitationRequiredError, and 200 ms later (the user is done) sends
  // notifications/elicitation/complete, which names no call. The gateway must pass the
  // error on as a JSON-RPC error (not bury it in UPSTREAM_ERROR), refund the charge, and
  // send the completion to the agent whose call it was, not to every agent.
  const upstreamScript = tempFile('linking.mjs');
  fs.writeFileSync(upstreamScript, `
const { McpServer } = await import('${SDK_DIR}/server/mcp.js');
const { StdioServerTransport } = await import('${SDK_DIR}/server/stdio.js');
const { UrlElicitationRequiredError } = await import('${SDK_DIR}/types.js');
const server = new McpServer({ name: 'linking', version: '1.0.0' });
server.registerTool('connect', { description: 'needs a connected account' }, async () => {
  const done = server.server.createElicitationCompletionNotifier('e-42');
  setTimeout(() => done().catch(() => {}), 200);
  throw new UrlElicitationRequiredError([{ mode: 'url', elicitationId: 'e-42', url: 'https://example.com/connect',
    message: 'Connect your account' }]);
});
await server.connect(new StdioServerTransport());
`);
  const own = await startGateway(`
[[upstream]]
name = "linking"
command = ["${NODE}", "${upstreamScript}"]
[upstream.prices]
connect = "0.03"
`);
  try {
    await until(async () => upstreamsReady(own.url), 'upstreams', 60000);
    const { ElicitationCompleteNotificationSchema } = await sdkTypes();
    const agent = (name, heard) => httpClient(`${own.url}/mcp/linking`, world.agentKey, { name, capabilities: { elicitation: { url: {} } },
      prepare: (c) => c.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => heard.push(n.params.elicitationId)) });
    const heard = [], bystanderHeard = [];
    const client = await agent('connector', heard);
    const bystander = await agent('bystander', bystanderHeard);
    const before = await balanceMicros(platform, world.owner);
    const failure = await client.callTool({ name: 'connect', arguments: {} }).then(() => null, (e) => e);
    assert.ok(failure, 'the call is answered with a JSON-RPC error');
    assert.equal(failure.code, -32042, String(failure));
    assert.equal(failure.data?.elicitations?.[0]?.elicitationId, 'e-42');
    assert.equal(failure.data.elicitations[0].url, 'https://example.com/connect');
    await until(async () => (heard.length ? true : null), 'the completion reaches the agent', 5000);
    assert.deepEqual(heard, ['e-42']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(bystanderHeard, [], 'another agent never hears of it');
    assert.equal(await balanceMicros(platform, world.owner), before, 'charged, then refunded');

    // A client without URL mode cannot act on -32042: it gets the URL in words instead.
    const plain = await httpClient(`${own.url}/mcp/linking`, world.agentKey, { name: 'plain', capabilities: { elicitation: {} } });
    const told = await plain.callTool({ name: 'connect', arguments: {} });
    assert.equal(errorCode(told), 'UPSTREAM_ERROR', text(told));
    assert.match(text(told), /Connect your account \(https:\/\/example\.com\/connect\)/);
    assert.equal(await balanceMicros(platform, world.owner), before, 'refunded too');
    await plain.close();
    await client.close();
    await bystander.close();
  } finally {
    await own.stop();
  }
});

test("SIGTERM the moment the gateway says it is listening stops it gracefully", async () => {
  // "listening on" is printed once the signal handler is in place, so a script that stops
  // the gateway on seeing it gets a graceful stop (exit status 0), not a kill.
  const own = await startGateway(`
[[upstream]]
name = "weather"
command = ["${WEATHER}", "--stdio", "--free"]
`);
  await own.stop();
  assert.equal(own.child.signalCode, null, 'killed by the signal instead of stopping');
  assert.equal(own.child.exitCode, 0, own.stderr);
});

test('SIGTERM ends the gateway while an upstream has not answered initialize', async () => {
  // The handshake would wait for its timeout (60 s); stopping ends it at once. The harness
  // kills with SIGKILL after 10 s, so an exit of its own, with status 0, is the proof.
  const own = await startGateway(`
[[upstream]]
name = "silent"
command = ["/bin/sh", "-c", "cat > /dev/null"]
`);
  // Serving (so its signal handling is in place), with the upstream still connecting.
  assert.equal(await until(async () => (await fetch(`${own.url}/healthz`)).status, 'healthz') > 0, true);
  assert.equal(await upstreamsReady(own.url), false);
  await own.stop();
  assert.equal(own.child.signalCode, null, 'the gateway had to be killed');
  assert.equal(own.child.exitCode, 0, own.stderr);
});

test('completion requests reach the upstream, with their context', async () => {
  const client = await httpClient(mcp('everything'), world.agentKey);
  const ref = { type: 'ref/prompt', name: 'completable-prompt' };
  const departments = await client.complete({ ref, argument: { name: 'department', value: 'E' } });
  assert.deepEqual(departments.completion.values, ['Engineering']);
  const leads = await client.complete({ ref, argument: { name: 'name', value: '' },
    context: { arguments: { department: 'Sales' } } });
  assert.deepEqual(leads.completion.values, ['David', 'Eve', 'Frank']);
  await client.close();
});

test('a cancelled call is cancelled upstream too, and stays charged', async () => {
  const client = await httpClient(mcp('weather'), world.agentKey);
  const before = await balanceMicros(platform, world.owner);
  const cancelled = cancelledCount(audit);
  const abort = new AbortController();
  const call = client.callTool({ name: 'forecast', arguments: { city: 'Tokyo', days: 7 } }, undefined,
    { signal: abort.signal, onprogress: () => abort.abort('changed my mind') });
  await assert.rejects(call, /changed my mind|abort/i);
  // The upstream's forecast saw the cancellation and stopped before its 7 days.
  await until(async () => cancelledCount(audit) === cancelled + 1, 'the upstream to see the cancellation', 10000);
  // Charged before the tool started; a cancelled call is not refunded (docs/provider-guide.md).
  assert.equal(await balanceMicros(platform, world.owner), before - PRICE_FORECAST);
  await client.close();
});

test('the agent key never reaches the upstream', async () => {
  const client = await httpClient(mcp('everything'), world.agentKey);
  const env = await client.callTool({ name: 'get-env', arguments: {} });
  const out = text(env);
  assert.match(out, /PATH/, 'the upstream did report its environment');
  assert.ok(!out.includes(world.agentKey.slice(8)), 'agent key absent from the upstream environment');
  assert.ok(!out.includes(world.providerKey.slice(8)), 'provider key absent from the upstream environment');
  await client.close();
});

test('the agent key never reaches an HTTP upstream either: not in a header, not in a body', async () => {
  const credit = await platform.api('POST', '/api/v1/admin/credits', { token: world.owner, body: { email: 'owner@example.com', amount: '0.10' } });
  assert.equal(credit.status, 201, credit.text);
  // weather_server over HTTP (unpaid: the gateway charges), behind a proxy recording what
  // it receives, behind a gateway of its own.
  const upstreamAudit = tempFile('audit.log');
  const upstream = await Server.start(WEATHER, ['--listen', '127.0.0.1:0', '--free', '--audit-log', upstreamAudit]);
  const proxy = await recordingProxy(`${upstream.url}/mcp`);
  let gw;
  try {
    gw = await startGateway(`[[upstream]]\nname = "weather-http"\nurl = "${proxy.url}"\ndefault_price = "0.01"\n`);
    await until(() => upstreamsReady(gw.url), 'the HTTP upstream behind the proxy', 60000);
    const before = await balanceMicros(platform, world.owner);
    const client = await httpClient(`${gw.url}/mcp/weather-http`, world.agentKey);
    const r = await client.callTool({ name: 'current_conditions', arguments: { city: 'Paris' } });
    assert.equal(errorCode(r), null, text(r));
    // A streamed call too (progress on an SSE response).
    const progress = [];
    const f = await client.callTool({ name: 'forecast', arguments: { city: 'Berlin', days: 2 } }, undefined,
      { onprogress: (p) => progress.push(p) });
    assert.equal(errorCode(f), null, text(f));
    assert.equal(progress.length, 2);
    await client.close();
    // Both calls were paid with the agent key, and both bodies ran behind the proxy.
    assert.equal(await balanceMicros(platform, world.owner), before - 20000);
    assert.equal(ranCount(upstreamAudit), 2);
    assert.equal(proxy.seen.filter((s) => /"tools\/call"/.test(s.body)).length, 2, 'the calls went through the proxy');

    const secret = world.agentKey.slice(8);  // the key's hex, however it might be spelled
    for (const s of proxy.seen) {
      const what = `${s.method} ${s.path} ${s.body.slice(0, 80)}`;
      const headers = s.rawHeaders.join('\n');
      assert.ok(!headers.includes(secret), `agent key in the headers of ${what}`);
      assert.ok(!/sk_live_/i.test(headers), `a key (agent or provider) in the headers of ${what}`);
      assert.equal(s.headers.authorization, undefined, `an Authorization header on ${what}`);
      assert.ok(!s.body.includes(secret) && !/sk_live_/i.test(s.body), `a key in the body of ${what}`);
    }
  } finally {
    await gw?.stop();
    await proxy.close();
    await upstream.stop();
  }
});

test('refusals: TOKEN_MISSING, bad arguments, INSUFFICIENT_BALANCE — the upstream tool never ran', async () => {
  const ran = ranCount(audit);
  const before = await balanceMicros(platform, world.owner);
  const anonymous = await httpClient(mcp('weather'));
  assert.equal(errorCode(await anonymous.callTool({ name: 'current_conditions', arguments: { city: 'Paris' } })), 'TOKEN_MISSING');
  await anonymous.close();
  const client = await httpClient(mcp('weather'), world.agentKey);
  const bad = await client.callTool({ name: 'current_conditions', arguments: { city: 42 } });
  assert.equal(bad.isError, true);
  assert.equal(await balanceMicros(platform, world.owner), before);
  assert.equal(ranCount(audit), ran);
  // Spend down to below the forecast's price, then ask for it.
  while (await balanceMicros(platform, world.owner) >= 50000) {
    const r = await client.callTool({ name: 'current_conditions', arguments: { city: 'Oslo' === 'x' ? '' : 'Paris' } });
    assert.equal(errorCode(r), null, text(r));
  }
  const spent = ranCount(audit);
  const poor = await client.callTool({ name: 'forecast', arguments: { city: 'Paris' } });
  assert.equal(errorCode(poor), 'INSUFFICIENT_BALANCE');
  assert.equal(ranCount(audit), spent);
  await client.close();
});

// The upstream dies: the call that finds out is charged, fails and is refunded; /healthz
// then says the upstreams are not ready, and while the gateway reconnects a paid call is
// answered UPSTREAM_ERROR before it is charged (it could not run). Once the upstream is
// back, /healthz is ready again and calls go through.
test('UPSTREAM_ERROR on a failed upstream is refunded, and the gateway reconnects', async () => {
  await platform.api('POST', '/api/v1/admin/credits', { token: world.owner, body: { email: 'owner@example.com', amount: '1' } });
  const client = await httpClient(mcp('everything-http'), world.agentKey);
  assert.equal(await upstreamsReady(gateway.url), true);
  await stop(everythingHttp);
  const before = await balanceMicros(platform, world.owner);
  const failed = await client.callTool({ name: 'echo', arguments: { message: 'anyone?' } });
  assert.equal(errorCode(failed), 'UPSTREAM_ERROR');
  assert.ok(failed._meta['tollgate/refund'], 'the charge was refunded');
  assert.equal(await balanceMicros(platform, world.owner), before);

  await until(async () => (await upstreamsReady(gateway.url)) === false, '/healthz to report the lost upstream', 60000);
  const refused = await client.callTool({ name: 'echo', arguments: { message: 'still there?' } });
  assert.equal(errorCode(refused), 'UPSTREAM_ERROR');
  assert.match(text(refused), /is restarting, so the call did not run and nothing was charged/);
  assert.equal(refused._meta['tollgate/refund'], undefined, 'nothing to refund');
  assert.equal(refused._meta['tollgate/receipt'], undefined);
  assert.equal(await balanceMicros(platform, world.owner), before);

  everythingHttp = await startEverythingHttp(everythingPort);
  await until(() => upstreamsReady(gateway.url), '/healthz ready again', 60000);
  await until(async () => {
    const r = await client.callTool({ name: 'echo', arguments: { message: 'back' } });
    return errorCode(r) === null;
  }, 'the gateway to reconnect to the HTTP upstream', 60000);
  await client.close();
});

test('a crashed stdio upstream is restarted', async () => {
  const client = await httpClient(mcp('weather'), world.agentKey);
  execFileSync('pkill', ['-KILL', '-f', `audit-log ${audit}`]);
  await until(async () => {
    const r = await client.callTool({ name: 'current_conditions', arguments: { city: 'Tokyo' } });
    return errorCode(r) === null;
  }, 'the weather upstream to come back', 60000);
  await client.close();
});

test('a stdio upstream that keeps crashing is restarted with growing delays, not in a tight loop', async () => {
  // Exits at once, after noting when it started (ms since the epoch, one line per start).
  const starts = tempFile('starts.log');
  const gw = await startGateway(`[[upstream]]\nname = "crashy"\n` +
    `command = ["sh", "-c", "echo $(($(date +%s%N) / 1000000)) >> ${starts}; exit 1"]\n`);
  const times = () => (fs.existsSync(starts) ? fs.readFileSync(starts, 'utf8').split('\n').filter(Boolean).map(Number) : []);
  try {
    // src/gateway/upstream.cpp: retries after 0.5 s, doubling up to 30 s, so starts at about
    // 0, 0.5, 1.5 and 3.5 s (a restart loop without backoff would have hundreds by then).
    await until(() => times().length >= 4, () => `four starts (${times().length} so far)`, 60000);
    assert.equal(await upstreamsReady(gw.url), false, '/healthz: not ready while it crashes');
    // The fifth start is due 4 s after the fourth: none comes within the next second.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const t = times();
    assert.equal(t.length, 4, `started ${t.length} times: ${t.map((x) => x - t[0]).join(', ')} ms`);
    const gaps = t.slice(1).map((x, i) => x - t[i]);
    // A timer never fires early, so each gap is at least its delay (10% off for clock reads);
    // later ones may run long on a busy machine, so only the lower bounds and the overall
    // growth are asserted.
    [500, 1000, 2000].forEach((delay, i) =>
      assert.ok(gaps[i] >= delay * 0.9, `gap ${i + 1} is ${gaps[i]} ms, expected >= ${delay} ms (gaps: ${gaps.join(', ')})`));
    assert.ok(gaps[2] >= gaps[0], `the delays grow (gaps: ${gaps.join(', ')})`);
    assert.match(gw.stderr, /retrying in 500 ms[\s\S]*retrying in 1000 ms[\s\S]*retrying in 2000 ms/);
  } finally {
    await gw.stop();
  }
});

test('a key deleted mid-session: TOKEN_INVALID on the next call, nothing charged, the tool never ran', async () => {
  const key = await platform.api('POST', '/api/v1/keys', { token: world.owner, body: { name: 'short-lived' } });
  const client = await httpClient(mcp('weather'), key.body.key);
  const first = await client.callTool({ name: 'current_conditions', arguments: { city: 'London' } });
  assert.equal(errorCode(first), null, text(first));
  const del = await platform.api('DELETE', `/api/v1/keys/${key.body.id}`, { token: world.owner });
  assert.equal(del.status, 204);
  const ran = ranCount(audit);
  const before = await balanceMicros(platform, world.owner);
  const refused = await client.callTool({ name: 'current_conditions', arguments: { city: 'London' } });
  assert.equal(errorCode(refused), 'TOKEN_INVALID');
  assert.equal(ranCount(audit), ran, 'the upstream tool body did not run');
  assert.equal(await balanceMicros(platform, world.owner), before, 'nothing was charged');
  await client.close();
});

test('inside tollgate serve (--gateway-config) the gateway charges in-process', async () => {
  const dir = fs.mkdtempSync(path.join(path.dirname(audit), 'serve-'));
  const inProcessAudit = path.join(dir, 'audit.log');
  const config = path.join(dir, 'gateway.toml');
  fs.writeFileSync(config, `[[upstream]]\nname = "weather"\ncommand = ["${WEATHER}", "--stdio", "--free", "--audit-log", "${inProcessAudit}"]\n[upstream.prices]\ncurrent_conditions = "0.01"\n`);
  // The provider key is created first on a fresh platform, then the platform restarted with it.
  const serve = await Server.start(TOLLGATE, ['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${dir}/t.db`]);
  const p = { url: serve.url, api: Platform.prototype.api, signup: Platform.prototype.signup };
  const w = await makeWorld(p, '1');
  // Without a mounted gateway /healthz says nothing about upstreams.
  assert.equal((await (await fetch(`${serve.url}/healthz`)).json()).upstreams_ready, undefined);
  await serve.stop();
  const withGateway = await Server.start(TOLLGATE, ['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${dir}/t.db`,
    '--gateway-config', config], { TOLLGATE_API_KEY: w.providerKey });
  try {
    p.url = withGateway.url;
    // Like the stand-alone gateway's, the platform's /healthz reports the mounted upstreams.
    await until(async () => (await (await fetch(`${withGateway.url}/healthz`)).json()).upstreams_ready === true,
                'upstreams ready in /healthz', 60000);
    const client = await httpClient(`${withGateway.url}/mcp/weather`, w.agentKey);
    assert.ok((await client.listTools()).tools.some((t) => t.name === 'current_conditions'));
    const before = await balanceMicros(p, w.owner);
    const r = await client.callTool({ name: 'current_conditions', arguments: { city: 'Sydney' } });
    assert.equal(errorCode(r), null, text(r));
    assert.equal(await balanceMicros(p, w.owner), before - 10000);
    assert.equal(ranCount(inProcessAudit), 1);
    await client.close();
  } finally {
    await withGateway.stop();
  }
});

test('platform down: PLATFORM_UNAVAILABLE and nothing runs', async () => {
  const ran = ranCount(audit);
  await platform.stop();
  const client = await httpClient(mcp('weather'), world.agentKey);
  const r = await client.callTool({ name: 'current_conditions', arguments: { city: 'Paris' } });
  assert.equal(errorCode(r), 'PLATFORM_UNAVAILABLE');
  assert.equal(ranCount(audit), ran);
  await client.close();
});
