// tollgate::mcp, the MCP library: everything a provider's server or an MCP client includes.
//   server.hpp     Server, Tool/Resource/Prompt definitions, Context for handlers
//   transport.hpp  serve_stdio, HttpTransport / HttpServer (Streamable HTTP, stateless mode)
//   client.hpp     Client over Streamable HTTP or a stdio child process
//   types.hpp      versions, content blocks, RpcResponse, RequestInfo
//   json_rpc.hpp   messages, errors, the decoder
//   schema.hpp     the JSON Schema validator used for tool arguments
#pragma once

#include "tollgate/mcp/client.hpp"
#include "tollgate/mcp/json_rpc.hpp"
#include "tollgate/mcp/schema.hpp"
#include "tollgate/mcp/server.hpp"
#include "tollgate/mcp/transport.hpp"
#include "tollgate/mcp/types.hpp"
