// Paid tools end to end through the payments SDK (examples/weather_server), called by the
// official TypeScript SDK client over Streamable HTTP and stdio, and through mcp-remote:
// the balance drops by exactly the price, and in every failure the tool body did not run
// (the server's audit log counts the bodies that ran).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import {
  Platform, until, makeWorld, balanceMicros, startWeather, httpClient, stdioClient, tempFile, ranCount, errorCode, text,
  BUILD_DIR, NODE, npmBin,
} from './pay_harness.mjs';

let platform, world, weather, audit;

before(async () => {
  platform = await Platform.start();
  world = await makeWorld(platform, '0.10');
  audit = tempFile('audit.log');
  weather = await startWeather(platform, world.providerKey, { auditLog: audit });
});

after(async () => {
  await weather?.stop();
  await platform?.stop();
});

test('tools/list shows the price of paid tools and nothing on free ones', async () => {
  const client = await httpClient(`${weather.url}/mcp`);
  const { tools } = await client.listTools();
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  assert.deepEqual(byName.current_conditions._meta['tollgate/price'], { amount: '0.01', currency: 'USD' });
  assert.deepEqual(byName.forecast._meta['tollgate/price'], { amount: '0.05', currency: 'USD' });
  assert.match(byName.forecast.description, /\$0\.05 per call/);
  assert.equal(byName.list_cities._meta?.['tollgate/price'], undefined);
  await client.close();
});

test('a paid call over HTTP charges exactly the price and carries a receipt', async () => {
  const before = await balanceMicros(platform, world.owner);
  const ran = ranCount(audit);
  const client = await httpClient(`${weather.url}/mcp`, world.agentKey);
  const result = await client.callTool({ name: 'current_conditions', arguments: { city: 'Paris' } });
  assert.equal(errorCode(result), null, text(result));
  assert.match(result._meta['tollgate/receipt'].charge_id, /^ch_/);
  assert.equal(result._meta['tollgate/receipt'].amount, '0.01');
  assert.equal(result.structuredContent.city, 'Paris');
  assert.equal(await balanceMicros(platform, world.owner), before - 10000);
  assert.equal(ranCount(audit), ran + 1);

  // Progress notifications of the $0.05 tool reach the client.
  const progress = [];
  const forecast = await client.callTool({ name: 'forecast', arguments: { city: 'Tokyo', days: 3 } }, undefined,
    { onprogress: (p) => progress.push(p) });
  assert.equal(errorCode(forecast), null, text(forecast));
  assert.equal(progress.length, 3);
  assert.equal(await balanceMicros(platform, world.owner), before - 60000);
  await client.close();
});

test('free tools work without a key', async () => {
  const client = await httpClient(`${weather.url}/mcp`);
  const result = await client.callTool({ name: 'list_cities', arguments: {} });
  assert.equal(errorCode(result), null);
  assert.match(text(result), /London/);
  await client.close();
});

test('no key: TOKEN_MISSING, nothing charged, the tool did not run', async () => {
  const before = await balanceMicros(platform, world.owner);
  const ran = ranCount(audit);
  const client = await httpClient(`${weather.url}/mcp`);
  const result = await client.callTool({ name: 'current_conditions', arguments: { city: 'Paris' } });
  assert.equal(errorCode(result), 'TOKEN_MISSING');
  assert.match(text(result), /^TOKEN_MISSING: .*AGENT_TOKEN.*Authorization: Bearer/);
  assert.deepEqual(result._meta['tollgate/error'], { code: 'TOKEN_MISSING', tool: 'current_conditions', price: '0.01' });
  assert.equal(await balanceMicros(platform, world.owner), before);
  assert.equal(ranCount(audit), ran);
  await client.close();
});

test('malformed arguments: an error and no charge', async () => {
  const before = await balanceMicros(platform, world.owner);
  const ran = ranCount(audit);
  const client = await httpClient(`${weather.url}/mcp`, world.agentKey);
  const result = await client.callTool({ name: 'current_conditions', arguments: { city: 'Atlantis' } });
  assert.equal(result.isError, true);
  assert.equal(await balanceMicros(platform, world.owner), before);
  assert.equal(ranCount(audit), ran);
  await client.close();
});

test('stdio: the client spawns the paid server with AGENT_TOKEN in its env', async () => {
  const before = await balanceMicros(platform, world.owner);
  const env = { AGENT_TOKEN: world.agentKey, TOLLGATE_URL: platform.url, TOLLGATE_API_KEY: world.providerKey };
  const client = await stdioClient(path.join(BUILD_DIR, 'weather_server'), ['--stdio'], env);
  const result = await client.callTool({ name: 'current_conditions', arguments: { city: 'Cairo' } });
  assert.equal(errorCode(result), null, text(result));
  assert.equal(await balanceMicros(platform, world.owner), before - 10000);
  await client.close();

  const anonymous = await stdioClient(path.join(BUILD_DIR, 'weather_server'), ['--stdio'],
    { AGENT_TOKEN: undefined, TOLLGATE_URL: platform.url, TOLLGATE_API_KEY: world.providerKey });
  const refused = await anonymous.callTool({ name: 'current_conditions', arguments: { city: 'Cairo' } });
  assert.equal(errorCode(refused), 'TOKEN_MISSING');
  await anonymous.close();
});

test('mcp-remote bridges stdio to the HTTP server with the Authorization header', async () => {
  const before = await balanceMicros(platform, world.owner);
  const client = await stdioClient(NODE, [npmBin('mcp-remote'), `${weather.url}/mcp`, '--transport', 'http-only',
    '--header', `Authorization:Bearer ${world.agentKey}`], {});
  const result = await client.callTool({ name: 'current_conditions', arguments: { city: 'Berlin' } });
  assert.equal(errorCode(result), null, text(result));
  assert.equal(await balanceMicros(platform, world.owner), before - 10000);
  await client.close();
});

test('tollgate connect: a stdio bridge adding Authorization: Bearer $AGENT_TOKEN', async () => {
  const tollgate = process.env.TOLLGATE_BINARY;
  await platform.api('POST', '/api/v1/admin/credits', { token: world.owner, body: { email: 'owner@example.com', amount: '0.05' } });
  const before = await balanceMicros(platform, world.owner);
  const client = await stdioClient(tollgate, ['connect', `${weather.url}/mcp`], { AGENT_TOKEN: world.agentKey });
  try {
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'forecast'));
    const progress = [];
    const result = await client.callTool({ name: 'forecast', arguments: { city: 'London', days: 2 } }, undefined,
      { onprogress: (p) => progress.push(p) });
    assert.equal(errorCode(result), null, text(result));
    assert.equal(progress.length, 2, 'progress crosses the bridge');
    assert.equal(await balanceMicros(platform, world.owner), before - 50000);
  } finally {
    await client.close();
  }

  const anonymous = await stdioClient(tollgate, ['connect', `${weather.url}/mcp`], { AGENT_TOKEN: undefined });
  try {
    const refused = await anonymous.callTool({ name: 'current_conditions', arguments: { city: 'London' } });
    assert.equal(errorCode(refused), 'TOKEN_MISSING');
  } finally {
    await anonymous.close();
  }

  const malformed = spawnSync(tollgate, ['connect', `${weather.url}/mcp`],
    { env: { ...process.env, AGENT_TOKEN: world.agentKey.slice(0, -1) }, input: '', encoding: 'utf8' });
  assert.equal(malformed.status, 2);
  assert.match(malformed.stderr, /AGENT_TOKEN is malformed \(it has 63 characters after sk_live_, not 64\)/);
  assert.ok(!malformed.stderr.includes(world.agentKey.slice(8, 40)), 'the key is not echoed');
});

// `tollgate connect` to the weather server with AGENT_TOKEN as given (undefined: not in its
// environment at all), stdin left open as a desktop client leaves it.
function startConnect(token) {
  const env = { ...process.env };
  delete env.AGENT_TOKEN;
  if (token !== undefined) env.AGENT_TOKEN = token;
  const child = spawn(process.env.TOLLGATE_BINARY, ['connect', `${weather.url}/mcp`], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const run = { child, stdout: '', stderr: '' };
  child.stdout.on('data', (c) => { run.stdout += c; });
  child.stderr.on('data', (c) => { run.stderr += c; });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20000);  // a hung bridge fails the test, not the run
  run.exited = new Promise((resolve) => child.on('exit', (code) => { clearTimeout(timer); resolve(code); }));
  return run;
}

test('tollgate connect: a clear message on stderr when AGENT_TOKEN is unset or malformed', async () => {
  // Unset, or set to "" (an empty "env" entry in a desktop config): a warning naming the
  // fix, and the bridge still runs (free tools need no key; paid ones answer TOKEN_MISSING).
  for (const token of [undefined, '']) {
    const run = startConnect(token);
    await until(() => /AGENT_TOKEN is not set/.test(run.stderr), () => `the warning (stderr: ${run.stderr})`, 10000);
    assert.match(run.stderr, /\[warning\] connect: AGENT_TOKEN is not set, so paid tools will answer TOKEN_MISSING\. Put your agent key \(sk_live_\.\.\.\) in the "env" of this server in your MCP client's configuration\./);
    run.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'e2e', version: '1.0.0' } } })}\n`);
    await until(() => /"id":1/.test(run.stdout), () => `the initialize answer across the bridge (stdout: ${run.stdout})`, 10000);
    assert.match(run.stdout, /"serverInfo"/);
    run.child.stdin.end();
    assert.equal(await run.exited, 0, run.stderr);
  }

  // Malformed: refused at start, on its own (stdin is still open), with the reason, exit 2,
  // nothing on stdout, and the key not echoed. (A key one character short is above.)
  const hex = 'c0ffee'.repeat(11).slice(0, 64);
  const cases = [
    [`Bearer sk_live_${hex}`, /\(it does not start with sk_live_\)/],  // the header's value pasted
    [hex, /\(it does not start with sk_live_\)/],
    [`sk_live_${hex.toUpperCase()}`, /\(after sk_live_ it has characters other than 0-9 and a-f\)/],
    [`sk_live_${hex}\n`, /\(it begins or ends with a space or line break; the key has none\)/],  // a newline copied along
    [`sk_live_${hex.slice(0, 40)}`, /\(it has 40 characters after sk_live_, not 64\)/],  // cut short
  ];
  for (const [token, reason] of cases) {
    const run = startConnect(token);
    assert.equal(await run.exited, 2, `${JSON.stringify(token)}: ${run.stderr}`);
    assert.match(run.stderr, /\[error\] connect: AGENT_TOKEN is malformed /);
    assert.match(run.stderr, reason);
    assert.match(run.stderr, /copy the whole key again from where you saved it, or create a new key under API Keys in the dashboard\./);
    assert.ok(!run.stderr.toLowerCase().includes(hex.slice(0, 16)), `the key is not echoed: ${run.stderr}`);
    assert.equal(run.stdout, '');
  }
});

test('zero balance: INSUFFICIENT_BALANCE and the tool did not run', async () => {
  const client = await httpClient(`${weather.url}/mcp`, world.agentKey);
  const balance = await balanceMicros(platform, world.owner);
  assert.ok(balance < 50000, `balance ${balance} should be below the forecast's price now`);
  const ran = ranCount(audit);
  const result = await client.callTool({ name: 'forecast', arguments: { city: 'Sydney' } });
  assert.equal(errorCode(result), 'INSUFFICIENT_BALANCE');
  assert.match(text(result), /Wallet/);
  assert.equal(ranCount(audit), ran);
  assert.equal(await balanceMicros(platform, world.owner), balance);
  await client.close();
});

test('a key deleted mid-session fails with TOKEN_INVALID on the next call', async () => {
  const client = await httpClient(`${weather.url}/mcp`, world.agentKey);
  const first = await client.callTool({ name: 'current_conditions', arguments: { city: 'London' } });
  assert.equal(errorCode(first), null, text(first));
  const del = await platform.api('DELETE', `/api/v1/keys/${world.agentKeyId}`, { token: world.owner });
  assert.equal(del.status, 204);
  const ran = ranCount(audit);
  const second = await client.callTool({ name: 'current_conditions', arguments: { city: 'London' } });
  assert.equal(errorCode(second), 'TOKEN_INVALID');
  assert.match(text(second), /Create a new key under API Keys/);
  assert.equal(ranCount(audit), ran);
  await client.close();
});

test('platform down: PLATFORM_UNAVAILABLE, or uncharged with fail-open', async () => {
  const fresh = await makeWorldOn(platform);
  const failOpenAudit = tempFile('audit.log');
  const failOpen = await startWeather(platform, fresh.providerKey, { auditLog: failOpenAudit, extraArgs: ['--fail-open'] });
  await platform.stop();  // the platform is gone from here on
  try {
    const ran = ranCount(audit);
    const closed = await httpClient(`${weather.url}/mcp`, fresh.agentKey);
    const refused = await closed.callTool({ name: 'current_conditions', arguments: { city: 'London' } });
    assert.equal(errorCode(refused), 'PLATFORM_UNAVAILABLE');
    assert.equal(ranCount(audit), ran);
    await closed.close();

    const open = await httpClient(`${failOpen.url}/mcp`, fresh.agentKey);
    const served = await open.callTool({ name: 'current_conditions', arguments: { city: 'London' } });
    assert.equal(errorCode(served), null, text(served));
    assert.equal(served._meta?.['tollgate/receipt'], undefined, 'nothing was charged');
    assert.equal(ranCount(failOpenAudit), 1);
    await open.close();
  } finally {
    await failOpen.stop();
  }
});

// A second agent key on the same platform (the first was deleted above).
async function makeWorldOn(p) {
  const agent = await p.api('POST', '/api/v1/keys', { token: world.owner, body: { name: 'agent 2' } });
  return { agentKey: agent.body.key, providerKey: world.providerKey };
}
