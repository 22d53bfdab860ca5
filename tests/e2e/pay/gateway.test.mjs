// The gateway end to end: `tollgate gateway` in front of the official
// @modelcontextprotocol/server-everything (over stdio and over HTTP) and of the weather
// example (stdio, unpaid: the gateway charges), called with the official TypeScript SDK
// client. Proves: exact charges with receipts, every refusal code with the upstream tool
// provably not run, features forwarded (progress, sampling, cancellation, completion), a stdio upstream's
// request never shown to another agent's client, the agent's key never reaching
// the upstream, UPSTREAM_ERROR refunded, a crashed stdio upstream restarted, and the
// in-process gateway of `tollgate serve --gateway-config`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import {
  Platform, SOURCE_DIR, until, makeWorld, balanceMicros, Server, httpClient, tempFile, ranCount, cancelledCount, errorCode, text,
  BUILD_DIR, NODE, Client, StreamableHTTPClientTransport,
} from './pay_harness.mjs';

const EVERYTHING = path.join(SOURCE_DIR, 'tests/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const TOLLGATE = process.env.TOLLGATE_BINARY || path.join(BUILD_DIR, 'tollgate');
const WEATHER = path.join(BUILD_DIR, 'weather_server');

let platform, world, gateway, everythingHttp, everythingPort, audit, configFile;
const PRICE_FORECAST = 50000;  // forecast = "0.05" below, in micro-dollars

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
default_price = "0.01"
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

test('progress and sampling requests are forwarded both ways', async () => {
  const client = new Client({ name: 'sampler', version: '1.0.0' }, { capabilities: { sampling: {} } });
  const { CreateMessageRequestSchema } = await import(new URL('../../npm/node_modules/@modelcontextprotocol/sdk/dist/esm/types.js', import.meta.url));
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({
    role: 'assistant', model: 'test-model', content: { type: 'text', text: 'sampled by the agent' } }));
  await client.connect(new StreamableHTTPClientTransport(new URL(mcp('everything')),
    { requestInit: { headers: { Authorization: `Bearer ${world.agentKey}` } } }));
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
  const { CreateMessageRequestSchema } = await import(new URL('../../npm/node_modules/@modelcontextprotocol/sdk/dist/esm/types.js', import.meta.url));
  // A client that records the prompts it is asked, and answers once `release()` is called.
  const sampler = async (key) => {
    const client = new Client({ name: 'sampler', version: '1.0.0' }, { capabilities: { sampling: {} } });
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
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp('everything')),
      { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
    return client;
  };
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

test('UPSTREAM_ERROR on a failed upstream is refunded, and the gateway reconnects', async () => {
  await platform.api('POST', '/api/v1/admin/credits', { token: world.owner, body: { email: 'owner@example.com', amount: '1' } });
  const client = await httpClient(mcp('everything-http'), world.agentKey);
  await stop(everythingHttp);
  const before = await balanceMicros(platform, world.owner);
  const failed = await client.callTool({ name: 'echo', arguments: { message: 'anyone?' } });
  assert.equal(errorCode(failed), 'UPSTREAM_ERROR');
  assert.ok(failed._meta['tollgate/refund'], 'the charge was refunded');
  assert.equal(await balanceMicros(platform, world.owner), before);
  everythingHttp = await startEverythingHttp(everythingPort);
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

test('a key deleted mid-session: TOKEN_INVALID on the next call', async () => {
  const key = await platform.api('POST', '/api/v1/keys', { token: world.owner, body: { name: 'short-lived' } });
  const client = await httpClient(mcp('everything'), key.body.key);
  assert.equal(errorCode(await client.callTool({ name: 'echo', arguments: { message: 'a' } })), null);
  await platform.api('DELETE', `/api/v1/keys/${key.body.id}`, { token: world.owner });
  assert.equal(errorCode(await client.callTool({ name: 'echo', arguments: { message: 'b' } })), 'TOKEN_INVALID');
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
