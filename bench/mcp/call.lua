-- wrk script: tools/call of the trivial tool test_simple_text, each request with its own id.
-- With MCP_SESSIONS_FILE set (one Mcp-Session-Id per line), requests go round-robin over
-- those sessions. done() prints one machine-readable RESULT line.
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local sessions = {}
local counter = 0
local prefix = "t"

function init(args)
  prefix = "t" .. tostring(tid or 0) .. "-"
  local path = os.getenv("MCP_SESSIONS_FILE")
  if path and path ~= "" then
    for line in io.lines(path) do
      if line ~= "" then table.insert(sessions, line) end
    end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
end

function request()
  counter = counter + 1
  if #sessions > 0 then
    wrk.headers["Mcp-Session-Id"] = sessions[(counter % #sessions) + 1]
  end
  local body = '{"jsonrpc":"2.0","id":"' .. prefix .. counter ..
    '","method":"tools/call","params":{"name":"test_simple_text","arguments":{}}}'
  return wrk.format(nil, nil, nil, body)
end

local bad = 0
function response(status, headers, body)
  if status ~= 200 or not string.find(body, "This is a simple text response", 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
                 summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, errors, latency:percentile(50), latency:percentile(99)))
end
