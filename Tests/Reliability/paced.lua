-- wrk script: a fixed request rate (Debian's wrk 4.1 has no -R), per-status counts, Retry-After and routing
-- header checks, and an optional request cap. Configured through the environment:
--   WRK_RATE      total requests per second over all threads (0 or unset: as fast as the connections go)
--   WRK_MAX       stop each thread after this many responses (0 or unset: no cap; -d still bounds the run); each
--                 thread that stops appends a line to WRK_DONE_FILE, so the caller can end wrk (SIGINT) early
--   WRK_METHOD, WRK_PATH, WRK_BODY, WRK_HEADERS ("name: value|name: value")
--   WRK_UNIQUE    "1": each request's body gets a unique number in place of "%%N%%" (defeats any cache)
-- Pacing: each thread hands out send slots 1/rate apart (wrk's delay() hook, monotonic clock through LuaJIT's
-- FFI); a connection takes the next free slot when it is ready to send, so the offered rate stays fixed while
-- there are enough connections to cover the latency. A slot that is late is taken at once (no catch-up burst
-- beyond one second behind). Latencies are wrk's own (from the write of each request).
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } wrk_timespec;
  int clock_gettime(int clk_id, wrk_timespec *tp);
]]
local ts = ffi.new("wrk_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local rate, max_requests, interval, next_slot
local method, path, body, headers, unique
counts = {}
local responses = 0
local seq = 0

function init(args)
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  rate = tonumber(os.getenv("WRK_RATE") or "0") or 0
  max_requests = tonumber(os.getenv("WRK_MAX") or "0") or 0
  if rate > 0 then
    interval = 1000.0 / (rate / nthreads)
  end
  method = os.getenv("WRK_METHOD") or "POST"
  path = os.getenv("WRK_PATH") or "/v1/chat/completions"
  body = os.getenv("WRK_BODY")
  unique = os.getenv("WRK_UNIQUE") == "1"
  headers = {}
  local h = os.getenv("WRK_HEADERS") or ""
  for pair in string.gmatch(h, "[^|]+") do
    local k, v = string.match(pair, "^%s*([^:]+):%s*(.-)%s*$")
    if k then headers[k] = v end
  end
  if body and headers["Content-Type"] == nil then headers["Content-Type"] = "application/json" end
  next_slot = now_ms()
  -- threads start a little apart: spread their slots over one interval
  if interval then next_slot = next_slot + (tid - 1) * interval / nthreads end
end

function delay()
  if not interval then return 0 end
  local t = now_ms()
  if next_slot < t - 1000 then next_slot = t - 1000 end
  local d = next_slot - t
  next_slot = next_slot + interval
  if d < 0 then return 0 end
  return math.floor(d)
end

function request()
  seq = seq + 1
  local b = body
  if unique and b then b = string.gsub(b, "%%%%N%%%%", tostring(tid) .. "-" .. tostring(seq)) end
  return wrk.format(method, path, headers, b)
end

local function bump(key)
  counts[key] = (counts[key] or 0) + 1
end

function response(status, hdrs, resp_body)
  responses = responses + 1
  bump("s" .. status)
  local retry_after, route, fallbacks = nil, nil, nil
  for k, v in pairs(hdrs) do
    local lk = string.lower(k)
    if lk == "retry-after" then retry_after = v
    elseif lk == "x-unity-route" then route = v
    elseif lk == "x-unity-fallbacks" then fallbacks = v end
  end
  if status == 429 or status == 503 then
    if retry_after == nil or tonumber(retry_after) == nil then bump("refused_without_retry_after") end
  end
  if status == 200 then
    if route and string.find(route, "secondary", 1, true) == 1 then bump("answered_by_secondary") end
    if route and string.find(route, "primary", 1, true) == 1 then bump("answered_by_primary") end
    if fallbacks and fallbacks ~= "0" then bump("answered_after_fallback") end
  end
  if max_requests > 0 and responses == max_requests then
    local f = os.getenv("WRK_DONE_FILE") and io.open(os.getenv("WRK_DONE_FILE"), "a")
    if f then f:write("done\n"); f:close() end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do table.insert(parts, string.format('"%s": %d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d, "mean": %.1f}, "counts": {%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max,
    latency.mean, table.concat(parts, ", ")))
end
