// Interop with the official tools that sit between agents and servers: the Inspector CLI
// (HTTP and stdio) and mcp-remote bridging stdio to our Streamable HTTP server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Client, ConformanceServer, CONFORMANCE_SERVER, NODE, StdioClientTransport, cooperativeClient, npmBin, run, scratchHome,
} from './harness.mjs';

const inspector = (args, home) => run(NODE, [npmBin('mcp-inspector'), '--cli', ...args], { env: { HOME: home } });

test('Inspector CLI over Streamable HTTP', async () => {
  const server = await ConformanceServer.start();
  const home = scratchHome();
  try {
    const listed = await inspector([server.url, '--method', 'tools/list'], home);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(JSON.parse(listed.stdout).tools.some((t) => t.name === 'test_simple_text'));
    const called = await inspector([server.url, '--method', 'tools/call', '--tool-name', 'test_elicitation',
      '--tool-arg', 'message=hello'], home);
    assert.equal(called.code, 0, called.stderr);
    assert.ok(JSON.parse(called.stdout).content[0].text);
    const read = await inspector([server.url, '--method', 'resources/read', '--uri', 'test://static-text'], home);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(JSON.parse(read.stdout).contents[0].text, 'This is the content of the static text resource.');
    const prompt = await inspector([server.url, '--method', 'prompts/get', '--prompt-name', 'test_prompt_with_arguments',
      '--prompt-args', 'arg1=a', 'arg2=b'], home);
    assert.equal(prompt.code, 0, prompt.stderr);
    assert.match(JSON.parse(prompt.stdout).messages[0].content.text, /arg1='a'/);
    const level = await inspector([server.url, '--method', 'logging/setLevel', '--log-level', 'debug'], home);
    assert.equal(level.code, 0, level.stderr);
  } finally {
    await server.stop();
  }
});

test('Inspector CLI over stdio', async () => {
  const home = scratchHome();
  const called = await inspector([CONFORMANCE_SERVER, '--stdio', '--method', 'tools/call', '--tool-name', 'test_simple_text'], home);
  assert.equal(called.code, 0, called.stderr);
  assert.equal(JSON.parse(called.stdout).content[0].text, 'This is a simple text response for testing.');
  const templates = await inspector([CONFORMANCE_SERVER, '--stdio', '--method', 'resources/templates/list'], home);
  assert.equal(templates.code, 0, templates.stderr);
  assert.equal(JSON.parse(templates.stdout).resourceTemplates.length, 1);
});

test('mcp-remote bridges stdio to our Streamable HTTP server', async () => {
  const server = await ConformanceServer.start();
  const home = scratchHome();
  const client = cooperativeClient();
  try {
    const transport = new StdioClientTransport({
      command: NODE,
      args: [npmBin('mcp-remote'), server.url, '--transport', 'http-only'],
      env: { ...process.env, HOME: home, MCP_REMOTE_CONFIG_DIR: home },
      stderr: 'pipe',
    });
    await client.connect(transport);
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'test_simple_text'));
    const result = await client.callTool({ name: 'test_simple_text', arguments: {} });
    assert.equal(result.content[0].text, 'This is a simple text response for testing.');
    const progress = [];
    await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined,
      { onprogress: (p) => progress.push(p.progress) });
    // The last progress notification and the answer leave our server in that order, but the
    // bridge may hand the answer to the client first (which then drops late progress).
    assert.deepEqual(progress.slice(0, 2), [0, 50]);
    const sampled = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'through the bridge' } });
    assert.equal(sampled.content[0].text, 'LLM response: sampled by the SDK');
  } finally {
    await client.close();
    await server.stop();
  }
});
