-- wrk script for bench/rest_bench.sh. REST_BENCH_MODE selects the load:
--   mix: the agent-key lifecycle in equal parts, create (POST /api/v1/keys), list
--        (GET /api/v1/keys) and delete (DELETE /api/v1/keys/{id} of a key this script made),
--        with `Authorization: Bearer $REST_BENCH_SESSION`.
--   list: GET /api/v1/keys only (authenticated reads, no writes), for comparison.
--   get: GET of the URL given to wrk (the baseline, e.g. /healthz).
-- Prints one RESULT line (requests/s, latency percentiles, errors) for the shell script.
local mode = os.getenv("REST_BENCH_MODE") or "get"
local session = os.getenv("REST_BENCH_SESSION") or ""
local counter = 0
local ids = {}          -- keys created and not yet deleted (a queue)
local head, tail = 1, 0
local created, listed, deleted, unexpected = 0, 0, 0, 0

function request()
  if mode == "list" then
    return wrk.format("GET", "/api/v1/keys", {["Authorization"] = "Bearer " .. session})
  elseif mode ~= "mix" then
    return wrk.format("GET", nil)
  end
  counter = counter + 1
  local auth = {["Authorization"] = "Bearer " .. session, ["Content-Type"] = "application/json"}
  local step = counter % 3
  if step == 0 then
    return wrk.format("POST", "/api/v1/keys", auth, '{"name":"bench ' .. counter .. '"}')
  elseif step == 2 and head <= tail then
    local id = ids[head]
    ids[head] = nil
    head = head + 1
    return wrk.format("DELETE", "/api/v1/keys/" .. id, auth)
  end
  return wrk.format("GET", "/api/v1/keys", auth)
end

function response(status, headers, body)
  if mode ~= "mix" then
    if status ~= 200 then unexpected = unexpected + 1 end
    return
  end
  if status == 201 then
    created = created + 1
    local id = string.match(body, '"id":"(key_[0-9a-f]+)"')
    if id then
      tail = tail + 1
      ids[tail] = id
    end
  elseif status == 204 then
    deleted = deleted + 1
  elseif status == 200 then
    listed = listed + 1
  else
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  -- Per-thread counters (created/listed/...) are not visible here; wrk's own summary is.
  io.write(string.format(
    "RESULT requests=%d duration_s=%.2f rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f socket_errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
