-- wrk script: tools/call of weather_server's current_conditions over Streamable HTTP.
-- Sessions (one Mcp-Session-Id per line of $MCP_SESSIONS_FILE) are used round-robin;
-- $AGENT_TOKEN, when set, goes in the Authorization header. done() prints a RESULT line,
-- whose errors include every answer that was not a successful tool result (a refused
-- charge answers 200 with isError, so wrk's own status count would miss it).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local sessions = {}
local counter = 0
bad = 0  -- a global, so that done() can read each thread's count

function init(args)
  for line in io.lines(os.getenv("MCP_SESSIONS_FILE")) do
    if line ~= "" then table.insert(sessions, line) end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
  local token = os.getenv("AGENT_TOKEN")
  if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
end

function request()
  counter = counter + 1
  wrk.headers["Mcp-Session-Id"] = sessions[(counter % #sessions) + 1]
  local body = '{"jsonrpc":"2.0","id":' .. counter ..
    ',"method":"tools/call","params":{"name":"current_conditions","arguments":{"city":"Paris"}}}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status >= 400 then return end  -- wrk counts these itself (errors.status)
  if status ~= 200 or string.find(body, '"isError":true', 1, true) then bad = bad + 1 end
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
                 summary.errors.status + summary.errors.timeout
  for _, thread in ipairs(threads) do errors = errors + thread:get("bad") end
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, errors, latency:percentile(50), latency:percentile(99)))
end
