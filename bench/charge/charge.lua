-- wrk script: POST /api/v1/charge of $0.01, rotating over many agent keys.
-- Reads the keys (one per line) from $CHARGE_KEYS_FILE and the provider key from
-- $CHARGE_PROVIDER_KEY. No idempotency key: every request is a new charge.
local keys = {}
local provider = os.getenv("CHARGE_PROVIDER_KEY")
local counter = 0

function init(args)
  for line in io.lines(os.getenv("CHARGE_KEYS_FILE")) do
    keys[#keys + 1] = line
  end
  counter = math.random(#keys)
end

function request()
  counter = counter + 1
  local key = keys[(counter % #keys) + 1]
  local body = '{"agent_token":"' .. key .. '","tool":"bench","amount":"0.01"}'
  return wrk.format("POST", "/api/v1/charge",
    {["Authorization"] = "Bearer " .. provider, ["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_s=%.2f rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
