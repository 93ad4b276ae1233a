-- Creates one PaymentIntent, then only GETs it: a run that stores nothing new, to tell a
-- server's own latency tail from the machine's. Prints one JSON line of results when done.
local key = os.getenv("BENCH_API_KEY") or "sk_test_bench"
local create = nil
local read = nil

function init(args)
  create = wrk.format("POST", "/v1/payment_intents", {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "amount=1000&currency=usd&payment_method_types[]=card_present")
end

function request()
  return read or create
end

function response(status, headers, body)
  if read == nil and status == 200 then
    local id = string.match(body, '"id"%s*:%s*"(pi_[%w_]+)"')
    if id then
      read = wrk.format("GET", "/v1/payment_intents/" .. id, { ["Authorization"] = "Bearer " .. key })
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
