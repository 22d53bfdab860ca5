// Interop: the official TypeScript SDK client (@modelcontextprotocol/sdk) against our
// conformance_server over Streamable HTTP (sessions with SSE, sessions with JSON, stateless)
// and over stdio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Client, ConformanceServer, CONFORMANCE_SERVER, StdioClientTransport, StreamableHTTPClientTransport,
  cooperativeClient, types, until,
} from './harness.mjs';

const text = (result) => result.content.find((c) => c.type === 'text')?.text;

// What every transport must support.
async function exercise(client, { canReachClient = true } = {}) {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const name of ['test_simple_text', 'test_sampling', 'json_schema_2020_12_tool']) assert.ok(names.includes(name), name);
  const schemaTool = tools.find((t) => t.name === 'json_schema_2020_12_tool');
  assert.equal(schemaTool.inputSchema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(schemaTool.inputSchema.additionalProperties, false);

  assert.equal(text(await client.callTool({ name: 'test_simple_text' })), 'This is a simple text response for testing.');
  const image = await client.callTool({ name: 'test_image_content', arguments: {} });
  assert.equal(image.content[0].mimeType, 'image/png');
  const failed = await client.callTool({ name: 'test_error_handling', arguments: {} });
  assert.equal(failed.isError, true);
  const invalid = await client.callTool({ name: 'test_sampling', arguments: { prompt: 42 } });
  assert.equal(invalid.isError, true);
  assert.match(text(invalid), /Invalid arguments for tool test_sampling/);
  await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), (e) => e.code === -32602);

  const progress = [];
  const withProgress = await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined,
    { onprogress: (p) => progress.push(p.progress) });
  assert.ok(text(withProgress));
  // The SDK runs notification handlers in a later microtask but settles a response at once,
  // so a last progress notification read in the same chunk as the response (the tool answers
  // right after reporting 100) can be dropped by the client. The steps before it, 50 ms
  // apart, must all arrive, in order.
  if (canReachClient) assert.deepEqual(progress.slice(0, 2), [0, 50]);
  assert.ok(progress.length <= 3 && (progress.length < 3 || progress[2] === 100), `progress ${progress}`);

  const sampled = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'hi' } });
  const elicited = await client.callTool({ name: 'test_elicitation', arguments: { message: 'who?' } });
  if (canReachClient) {
    assert.equal(text(sampled), 'LLM response: sampled by the SDK');
    assert.match(text(elicited), /action=accept/);
  } else {
    assert.match(text(sampled), /Sampling not supported/);
  }

  const { resources } = await client.listResources();
  assert.equal(resources.length, 3);
  const { resourceTemplates } = await client.listResourceTemplates();
  assert.equal(resourceTemplates[0].uriTemplate, 'test://template/{id}/data');
  const read = await client.readResource({ uri: 'test://template/77/data' });
  assert.equal(JSON.parse(read.contents[0].text).id, '77');
  const binary = await client.readResource({ uri: 'test://static-binary' });
  assert.ok(binary.contents[0].blob);
  await assert.rejects(client.readResource({ uri: 'test://nothing-here' }), (e) => e.code === -32002);
  assert.deepEqual(await client.subscribeResource({ uri: 'test://watched-resource' }), {});
  assert.deepEqual(await client.unsubscribeResource({ uri: 'test://watched-resource' }), {});

  const { prompts } = await client.listPrompts();
  assert.equal(prompts.length, 4);
  const prompt = await client.getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'x', arg2: 'y' } });
  assert.equal(prompt.messages[0].content.text, "Prompt with arguments: arg1='x', arg2='y'");
  const completion = await client.complete({ ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' },
    argument: { name: 'arg1', value: 'pa' } });
  assert.deepEqual(completion.completion.values, ['paris', 'park', 'party']);
  assert.deepEqual(await client.setLoggingLevel('debug'), {});
  assert.deepEqual(await client.ping(), {});
}

test('SDK client over Streamable HTTP with sessions (SSE when streaming)', async () => {
  const server = await ConformanceServer.start();
  const client = cooperativeClient();
  try {
    const logs = [];
    client.setNotificationHandler(types.LoggingMessageNotificationSchema, (n) => logs.push(n.params.data));
    const transport = new StreamableHTTPClientTransport(new URL(server.url));
    await client.connect(transport);
    assert.equal(client.getServerVersion().name, 'tollgate-conformance-server');
    assert.ok(transport.sessionId);
    await exercise(client);
    await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
    await until(() => logs.includes('Tool execution completed'), 5000, 'log notifications');
    // The server closes the SSE stream mid-call; the SDK reconnects with Last-Event-ID.
    const polled = await client.callTool({ name: 'test_reconnection', arguments: {} });
    assert.match(text(polled), /Reconnection test completed successfully/);
    await transport.terminateSession();
    assert.equal(transport.sessionId, undefined);
  } finally {
    await client.close();
    await server.stop();
  }
});

test('SDK client over Streamable HTTP with JSON responses', async () => {
  const server = await ConformanceServer.start(['--response-mode', 'json']);
  const client = cooperativeClient();
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
    // Progress, logs and sampling requests travel on the GET stream in this mode.
    await exercise(client);
  } finally {
    await client.close();
    await server.stop();
  }
});

test('SDK client over stateless Streamable HTTP', async () => {
  const server = await ConformanceServer.start(['--stateless']);
  const client = cooperativeClient();
  try {
    const transport = new StreamableHTTPClientTransport(new URL(server.url));
    await client.connect(transport);
    assert.equal(transport.sessionId, undefined);
    await exercise(client, { canReachClient: false });
  } finally {
    await client.close();
    await server.stop();
  }
});

test('SDK client over stdio', async () => {
  const client = cooperativeClient();
  const transport = new StdioClientTransport({ command: CONFORMANCE_SERVER, args: ['--stdio'], stderr: 'pipe' });
  try {
    await client.connect(transport);
    assert.equal(client.getServerVersion().name, 'tollgate-conformance-server');
    await exercise(client);
    const logs = [];
    client.setNotificationHandler(types.LoggingMessageNotificationSchema, (n) => logs.push(n.params.data));
    await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
    await until(() => logs.length >= 3, 5000, 'log notifications');
  } finally {
    await client.close();
  }
});

test('SDK client refuses nothing we negotiate down to', async () => {
  for (const version of ['2025-06-18', '2025-03-26']) {
    const server = await ConformanceServer.start();
    try {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
          params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'old', version: '1' } } }),
      });
      assert.equal(response.status, 200);
      const body = await response.json();
      assert.equal(body.result.protocolVersion, version);
    } finally {
      await server.stop();
    }
  }
});
