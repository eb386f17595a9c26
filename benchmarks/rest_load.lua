-- wrk script for benchmarks/region_query.py --wrk: random 1-degree cones over the VLASS sky (Dec > -40),
-- first page of 100 with the total, authenticated with the server's token; prints one JSON line at the end.
local token = os.getenv("VLASS_BENCH_TOKEN")
local sin_min = math.sin(math.rad(-39))

init = function(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

request = function()
  local ra = math.random() * 360
  local dec = math.deg(math.asin(sin_min + math.random() * (1 - sin_min)))
  local path = string.format("/vlass/api/datasets?region=%.5f,%.5f,1&limit=100", ra, math.min(dec, 89.0))
  return wrk.format("GET", path, { ["Authorization"] = "token " .. token })
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_s": %.3f, "rps": %.2f, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, ' ..
    '"max_ms": %.2f, "errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "non_2xx": %d}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.timeout, e.status))
end
