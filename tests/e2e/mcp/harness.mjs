// Shared by the MCP interop tests: paths to the built binaries and the pinned npm tools,
// conformance_server started as a real process, and the official TypeScript SDK client.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const SOURCE_DIR = process.env.TOLLGATE_SOURCE_DIR ||
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BUILD_DIR = process.env.TOLLGATE_BUILD_DIR || path.join(SOURCE_DIR, 'build');
export const CONFORMANCE_SERVER = path.join(BUILD_DIR, 'conformance_server');
export const NODE = path.join(SOURCE_DIR, 'tests/npm/node_modules/node/bin/node');
export const npmBin = (name) => path.join(SOURCE_DIR, 'tests/npm/node_modules/.bin', name);

const requireTool = createRequire(path.join(SOURCE_DIR, 'tests/npm/package.json'));
const sdk = async (subpath) => import(pathToFileURL(requireTool.resolve(`@modelcontextprotocol/sdk/${subpath}`)).href);
export const { Client } = await sdk('client/index.js');
export const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
export const { StdioClientTransport } = await sdk('client/stdio.js');
export const types = await sdk('types.js');

// A scratch HOME for tools that keep state there (mcp-remote, the Inspector).
export function scratchHome() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-mcp-e2e-'));
}

// conformance_server --listen 127.0.0.1:0 [flags]; `url` is its /mcp endpoint.
export class ConformanceServer {
  static async start(flags = []) {
    const server = new ConformanceServer();
    server.stderr = '';
    server.child = spawn(CONFORMANCE_SERVER, ['--listen', '127.0.0.1:0', ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
    server.child.stderr.on('data', (c) => { server.stderr = (server.stderr + c).slice(-20000); });
    let stdout = '';
    const base = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`conformance_server did not start:\n${server.stderr}`)), 60000);
      server.child.stdout.on('data', (c) => {
        stdout += c;
        const m = /listening on (http:\/\/\S+)/.exec(stdout);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      server.child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`conformance_server exited ${code}:\n${server.stderr}`)); });
    });
    server.url = `${base}/mcp`;
    return server;
  }

  async stop() {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.on('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

// Runs a command to completion; resolves {code, stdout, stderr}.
export function run(command, args, { env = {}, timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${command} timed out:\n${stderr}`)); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

// A client that answers sampling and elicitation like a cooperative user.
export function cooperativeClient() {
  const client = new Client({ name: 'tollgate-interop', version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } });
  client.setRequestHandler(types.CreateMessageRequestSchema, async () => ({
    role: 'assistant', content: { type: 'text', text: 'sampled by the SDK' }, model: 'm', stopReason: 'endTurn',
  }));
  client.setRequestHandler(types.ElicitRequestSchema, async () => ({
    action: 'accept', content: { username: 'ada', email: 'ada@example.com' },
  }));
  client.setRequestHandler(types.ListRootsRequestSchema, async () => ({ roots: [] }));
  return client;
}

// Waits for `predicate()` with a deadline (no fixed sleeps).
export async function until(predicate, timeoutMs = 10000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
