-- POSTs PaymentIntents only. Once the thread has created its share it stops and writes a marker
-- file, so the driver can end the run (wrk itself otherwise waits out its whole duration).
-- Usage: wrk -t1 ... -s wrk_prefill.lua <url> -- <objects per thread> <marker file>
local key = os.getenv("BENCH_API_KEY") or "sk_test_bench"
local form = "amount=1000&currency=usd&payment_method_types[]=card_present"
local create = nil
local target = 0
local marker = nil
local created = 0

function init(args)
  target = tonumber(args[1]) or 100000
  marker = args[2]
  create = wrk.format("POST", "/v1/payment_intents", {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, form)
end

function request()
  return create
end

function response(status, headers, body)
  if status == 200 then
    created = created + 1
    if created == target then
      if marker then
        local f = io.open(marker, "w")
        f:write(tostring(created))
        f:close()
      end
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  io.write(string.format('{"requests": %d, "duration_us": %d, "status_errors": %d}\n',
    summary.requests, summary.duration, summary.errors.status))
end
