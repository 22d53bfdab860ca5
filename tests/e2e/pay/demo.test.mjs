// The quick start's demo (`tollgate serve --demo`, what scripts/run starts): the guide it
// prints is true. Its dashboard account signs in with the printed password and holds the
// demo credits; the paid weather tool answers at the printed URL with the printed agent key
// and charges exactly its price; and the printed Claude Desktop / Cursor configuration,
// spawned as a desktop client would (`tollgate connect` with AGENT_TOKEN), works as is.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUILD_DIR, httpClient, stdioClient, errorCode, text } from './pay_harness.mjs';

const BINARY = process.env.TOLLGATE_BINARY || path.join(BUILD_DIR, 'tollgate');
let demo;

// Starts `serve --demo` and reads its guide up to the last line ("Press Ctrl+C to stop.").
async function startDemo() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-demo-'));
  const child = spawn(BINARY, ['serve', '--demo', '--listen', '127.0.0.1:0', '--db', `sqlite:${dir}/tollgate.db`],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => { stderr = (stderr + c).slice(-20000); });
  let stdout = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no demo guide within 60 s:\n${stdout}\n${stderr}`)), 60000);
    child.stdout.on('data', (c) => {
      stdout += c;
      if (stdout.includes('Press Ctrl+C to stop.')) { clearTimeout(timer); resolve(); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`serve --demo exited ${code}:\n${stderr}`)); });
  });
  return { dir, child, guide: stdout, stderr: () => stderr };
}

async function api(url, method, pathname, { token, body } = {}) {
  const response = await fetch(url + pathname, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

before(async () => { demo = await startDemo(); });

after(async () => {
  if (demo?.child.exitCode === null) {
    const exited = new Promise((resolve) => demo.child.once('exit', resolve));
    demo.child.kill('SIGTERM');
    await exited;
  }
  if (demo) fs.rmSync(demo.dir, { recursive: true, force: true });
});

// What the guide says, read the way a newcomer reads it.
function readGuide(guide) {
  const url = /Tollgate is running at (http:\/\/\S+)/.exec(guide)?.[1];
  const account = /sign in as (\S+) \/ (\S+) \(\$5\.00 of demo credits\)/.exec(guide);
  const agentKey = /Agent key\s+(sk_live_[0-9a-f]{64})\s/.exec(guide)?.[1];
  const mcpUrl = /A paid MCP server is ready at (http:\/\/\S+)/.exec(guide)?.[1];
  // The configuration block: from the line after "Claude Desktop" to the line before "Claude Code:".
  const block = /Claude Desktop[^\n]*\n([\s\S]*?)\n\s*Claude Code:/.exec(guide)?.[1];
  const claudeCode = /(claude mcp add [^\n]*)/.exec(guide)?.[1];
  return { url, email: account?.[1], password: account?.[2], agentKey, mcpUrl, config: block && JSON.parse(block),
           claudeCode };
}

test('the demo guide names a working account, an agent key, the paid server and its client configuration', async () => {
  const g = readGuide(demo.guide);
  assert.ok(g.url && g.email && g.password && g.agentKey && g.mcpUrl, demo.guide);
  assert.equal(g.mcpUrl, `${g.url}/mcp/weather`);
  assert.doesNotMatch(demo.stderr(), /is missing/, 'the weather example is built and served');

  const login = await api(g.url, 'POST', '/api/v1/auth/login', { body: { email: g.email, password: g.password } });
  assert.equal(login.status, 200);
  const wallet = await api(g.url, 'GET', '/api/v1/wallet', { token: login.body.session_token });
  assert.equal(wallet.body.balance_micros, 5_000_000);

  const weather = g.config.mcpServers.weather;
  assert.ok(fs.existsSync(weather.command), `${weather.command} exists`);
  assert.deepEqual(weather.args, ['connect', g.mcpUrl]);
  assert.deepEqual(weather.env, { AGENT_TOKEN: g.agentKey });
  assert.equal(g.claudeCode,
    `claude mcp add --transport http weather ${g.mcpUrl} --header "Authorization: Bearer ${g.agentKey}"`);
});

test('the printed key calls the paid tool over HTTP and through the printed desktop configuration', async () => {
  const g = readGuide(demo.guide);
  const login = await api(g.url, 'POST', '/api/v1/auth/login', { body: { email: g.email, password: g.password } });
  const balance = async () => (await api(g.url, 'GET', '/api/v1/wallet', { token: login.body.session_token }))
    .body.balance_micros;
  const start = await balance();

  // Claude Code's way: Streamable HTTP with the header.
  const http = await httpClient(g.mcpUrl, g.agentKey);
  const overHttp = await http.callTool({ name: 'current_conditions', arguments: { city: 'Paris' } });
  assert.equal(errorCode(overHttp), null, text(overHttp));
  assert.match(overHttp._meta['tollgate/receipt'].charge_id, /^ch_/);
  await http.close();
  assert.equal(await balance(), start - 10_000);

  // Claude Desktop's and Cursor's way: the command, args and env exactly as printed.
  const weather = g.config.mcpServers.weather;
  const desktop = await stdioClient(weather.command, weather.args, weather.env);
  const { tools } = await desktop.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), ['current_conditions', 'forecast', 'list_cities']);
  const overStdio = await desktop.callTool({ name: 'forecast', arguments: { city: 'Tokyo', days: 2 } });
  assert.equal(errorCode(overStdio), null, text(overStdio));
  await desktop.close();
  assert.equal(await balance(), start - 10_000 - 50_000);
});
