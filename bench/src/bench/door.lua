-- wrk script for the sold-out door: POST /orders with a JSON body and a fresh email per request, counting the
-- answers by status. Usage: wrk -t2 -c64 -d10s -s bench/door.lua http://127.0.0.1:PORT -- SKU
-- At the end it prints one line "WRK_JSON {...}" that bench/door.py reads.
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

function init(args)
  sku = args[1] or "default"
  counter = 0
  statuses = {}
end

function request()
  counter = counter + 1
  local body = '{"email":"door-' .. tid .. '-' .. counter .. '@example.com","sku":"' .. sku .. '","quantity":1}'
  return wrk.format("POST", "/orders", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do total[code] = (total[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(total) do parts[#parts + 1] = string.format('"%d":%d', code, n) end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"statuses":{%s},"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    table.concat(parts, ","), summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
