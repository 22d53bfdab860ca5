// Shared by the paid-tools end-to-end tests: a real platform with a funded agent account and
// a provider key, paid MCP servers (weather_server, the gateway) started as real processes,
// and the official TypeScript SDK client to call them like an agent would.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Platform, SOURCE_DIR, until } from '../dashboard/harness.mjs';

export { Platform, SOURCE_DIR, until };

const requireTool = createRequire(path.join(SOURCE_DIR, 'tests/npm/package.json'));
const sdk = async (subpath) => import(pathToFileURL(requireTool.resolve(`@modelcontextprotocol/sdk/${subpath}`)).href);
export const { Client } = await sdk('client/index.js');
export const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
export const { StdioClientTransport } = await sdk('client/stdio.js');

export const BUILD_DIR = process.env.TOLLGATE_BUILD_DIR || path.join(SOURCE_DIR, 'build');
export const NODE = path.join(SOURCE_DIR, 'tests/npm/node_modules/node/bin/node');
export const npmBin = (name) => path.join(SOURCE_DIR, 'tests/npm/node_modules/.bin', name);

// Accounts: an agent owner (admin, credited `deposit`) with one agent key, and a provider
// with one provider key.
export async function makeWorld(platform, deposit = '0.10') {
  const owner = await platform.signup('owner@example.com');
  const provider = await platform.signup('provider@example.com');
  const agent = await platform.api('POST', '/api/v1/keys', { token: owner, body: { name: 'agent' } });
  const providerKey = await platform.api('POST', '/api/v1/provider-keys', { token: provider, body: { name: 'server' } });
  if (deposit !== '0') {
    const credit = await platform.api('POST', '/api/v1/admin/credits', {
      token: owner, body: { email: 'owner@example.com', amount: deposit } });
    if (credit.status !== 201) throw new Error(`credit: ${credit.text}`);
  }
  return { owner, provider, agentKey: agent.body.key, agentKeyId: agent.body.id, providerKey: providerKey.body.key };
}

export async function balanceMicros(platform, token) {
  const r = await platform.api('GET', '/api/v1/wallet', { token });
  return r.body.balance_micros;
}

// A child process printing `listening on http://...` (weather_server --listen, the gateway).
export class Server {
  static async start(binary, args, env = {}) {
    const server = new Server();
    server.stderr = '';
    server.child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    server.child.stderr.on('data', (c) => { server.stderr = (server.stderr + c).slice(-20000); });
    let stdout = '';
    server.url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${binary} did not start:\n${server.stderr}`)), 60000);
      server.child.stdout.on('data', (c) => {
        stdout += c;
        const m = /listening on (http:\/\/\S+)/.exec(stdout);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      server.child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${binary} exited ${code}:\n${server.stderr}`)); });
    });
    return server;
  }

  async stop() {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(timer);
  }
}

// The example paid server over HTTP, charging through `platform` with `providerKey`.
export async function startWeather(platform, providerKey, { auditLog, extraArgs = [] } = {}) {
  const args = ['--listen', '127.0.0.1:0', ...extraArgs];
  if (auditLog) args.push('--audit-log', auditLog);
  return Server.start(path.join(BUILD_DIR, 'weather_server'), args,
    { TOLLGATE_URL: platform.url, TOLLGATE_API_KEY: providerKey });
}

// An SDK client over Streamable HTTP; `token` goes in the Authorization header. `prepare(client)`
// sets its handlers before it connects.
export async function httpClient(url, token, { name = 'tollgate-e2e', capabilities = {}, prepare = () => {} } = {}) {
  const client = new Client({ name, version: '1.0.0' }, { capabilities });
  prepare(client);
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

// An SDK client over stdio, spawning `command args` with `env` added (AGENT_TOKEN, ...).
export async function stdioClient(command, args, env) {
  const client = new Client({ name: 'tollgate-e2e', version: '1.0.0' });
  const clean = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined));
  await client.connect(new StdioClientTransport({ command, args, env: clean, stderr: process.env.E2E_STDERR ? 'inherit' : 'pipe' }));
  return client;
}

export function tempFile(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-pay-'));
  return path.join(dir, name);
}

// Lines in the audit log: how many paid tool bodies actually ran.
// The weather example's audit log: one line per tool body that ran ("forecast"), and one
// more when a running body saw its call cancelled ("forecast cancelled").
function auditLines(file) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
}
export function ranCount(file) {
  return auditLines(file).filter((line) => !line.endsWith(' cancelled')).length;
}
export function cancelledCount(file) {
  return auditLines(file).filter((line) => line.endsWith(' cancelled')).length;
}

// The tollgate error code of a tool result, or null for a success.
export function errorCode(result) {
  return result.isError ? (result._meta?.['tollgate/error']?.code ?? 'TOOL_ERROR') : null;
}

export function text(result) {
  return result.content.map((c) => c.text ?? '').join('\n');
}
