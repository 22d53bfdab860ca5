-- wrk script: tools/call of the trivial tool test_simple_text, each request with its own id.
-- With MCP_SESSIONS_FILE set (one Mcp-Session-Id per line), requests go round-robin over
-- those sessions. done() prints one machine-readable RESULT line.
--
-- The load tool shares this machine's cores with the server it measures, so each request
-- costs it as little as we can make it: the head of each session's request is built once,
-- and a request is that head, its length and its body. With MCP_CHECK=1 every answer is
-- also checked (status 200 and the tool's text); wrk then hands each answer's headers and
-- body to Lua, which costs it about a tenth more CPU per call, so run.sh checks in the
-- warm-up pass and measures without. Without MCP_CHECK, wrk still counts answers with a
-- status of 400 or more as errors.
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local heads = {}
local counter = 0
local prefix = "t"
bad = 0  -- a global, so that done() can read each thread's count

function init(args)
  prefix = "t" .. tostring(tid or 0) .. "-"
  local head = "POST " .. wrk.path .. " HTTP/1.1\r\n" ..
    "Host: " .. wrk.host .. ":" .. wrk.port .. "\r\n" ..
    "Content-Type: application/json\r\n" ..
    "Accept: application/json, text/event-stream\r\n" ..
    "MCP-Protocol-Version: 2025-11-25\r\n"
  local path = os.getenv("MCP_SESSIONS_FILE")
  if path and path ~= "" then
    for line in io.lines(path) do
      if line ~= "" then table.insert(heads, head .. "Mcp-Session-Id: " .. line .. "\r\n") end
    end
  end
  if #heads == 0 then heads[1] = head end
end

function request()
  counter = counter + 1
  local body = '{"jsonrpc":"2.0","id":"' .. prefix .. counter ..
    '","method":"tools/call","params":{"name":"test_simple_text","arguments":{}}}'
  return heads[(counter % #heads) + 1] .. "Content-Length: " .. #body .. "\r\n\r\n" .. body
end

if os.getenv("MCP_CHECK") == "1" then
  function response(status, headers, body)
    if status >= 400 then return end  -- wrk counts these itself (errors.status)
    if status ~= 200 or not string.find(body, "This is a simple text response", 1, true) then
      bad = bad + 1
    end
  end
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
                 summary.errors.status + summary.errors.timeout
  for _, thread in ipairs(threads) do errors = errors + thread:get("bad") end
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, errors, latency:percentile(50), latency:percentile(99)))
end
