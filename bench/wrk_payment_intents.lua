-- Alternates POST /v1/payment_intents and GET /v1/payment_intents/<id of the last one created>.
-- The API key comes from BENCH_API_KEY. Prints one JSON line of results when done.
local key = os.getenv("BENCH_API_KEY") or "sk_test_bench"
local form = "amount=1000&currency=usd&payment_method_types[]=card_present"
local post_headers = {
  ["Authorization"] = "Bearer " .. key,
  ["Content-Type"] = "application/x-www-form-urlencoded",
}
local get_headers = { ["Authorization"] = "Bearer " .. key }
local create = nil
local last_id = nil
local turn = 0

function init(args)
  create = wrk.format("POST", "/v1/payment_intents", post_headers, form)
end

function request()
  turn = turn + 1
  if last_id == nil or turn % 2 == 1 then
    return create
  end
  return wrk.format("GET", "/v1/payment_intents/" .. last_id, get_headers)
end

function response(status, headers, body)
  if status == 200 then
    local id = string.match(body, '"id"%s*:%s*"(pi_[%w_]+)"')
    if id then
      last_id = id
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, '
      .. '"timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50.0), latency:percentile(90.0),
    latency:percentile(99.0), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
