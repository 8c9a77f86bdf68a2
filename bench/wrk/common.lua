-- Shared by the write scripts (record_usage.lua, record_traces.lua); loaded with dofile.
--
-- Environment:
--   WRK_NAMES      file of prompt names, one per line; required
--   WRK_HEADER_1, WRK_HEADER_2, ...   one header each, "Name: value", read until the first gap
--   WRK_SEED       base seed; thread i seeds its RNG with WRK_SEED * 1000 + i (default: the time).
--                  Give every run its own seed: the trace ids are drawn from it, and a repeated
--                  id is an idempotent no-op rather than a new row.
--
-- A request is acknowledged when it answers 200 with no "errors" in the body. done() prints
--   WRK_RESULT {"requests":...,"duration_s":...,"rps":...,"p50_ms":...,"p90_ms":...,"p99_ms":...,
--               "mean_ms":...,"max_ms":...,"non_2xx_3xx":...,"socket_errors":...,"timeouts":...,
--               "acknowledged":...}

local M = {}

local threads = {}

function M.setup(thread)
   threads[#threads + 1] = thread
   thread:set("thread_index", #threads)
end

function M.read_names()
   local path = os.getenv("WRK_NAMES")
   assert(path and path ~= "", "set WRK_NAMES to a file of prompt names")
   local names = {}
   for line in assert(io.open(path, "r")):lines() do
      local name = line:gsub("^%s+", ""):gsub("%s+$", "")
      if name ~= "" then
         names[#names + 1] = name
      end
   end
   assert(#names > 0, "no names in " .. path)
   return names
end

function M.headers()
   local headers = {}
   for key, value in pairs(wrk.headers) do
      headers[key] = value
   end
   local i = 1
   while true do
      local header = os.getenv("WRK_HEADER_" .. i)
      if header == nil or header == "" then
         return headers
      end
      local key, value = header:match("^%s*([^:]+):%s*(.-)%s*$")
      assert(key, "WRK_HEADER_" .. i .. " must read 'Name: value'")
      headers[key] = value
      i = i + 1
   end
end

function M.seed(thread_index)
   local seed = tonumber(os.getenv("WRK_SEED") or "") or os.time()
   math.randomseed(seed * 1000 + thread_index)
   -- LuaJIT's first draws after seeding are poorly spread.
   for _ = 1, 10 do
      math.random()
   end
end

function M.uuid4()
   return string.format(
      "%04x%04x-%04x-4%03x-%04x-%04x%04x%04x",
      math.random(0, 0xffff), math.random(0, 0xffff), math.random(0, 0xffff),
      math.random(0, 0xfff), math.random(0x8000, 0xbfff),
      math.random(0, 0xffff), math.random(0, 0xffff), math.random(0, 0xffff)
   )
end

function M.outcome_fields()
   local status = math.random() < 0.85 and "SUCCESS" or "ERROR"
   local started = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - math.random(0, 7 * 86400))
   return string.format(
      '"status":"%s","costUsd":%.6f,"latencyMs":%.1f,"startedAt":"%s"',
      status, 0.0005 + 0.02 * math.random(), 150 + 3000 * math.random() ^ 2, started
   )
end

acknowledged = 0

function M.response(status, _headers, body)
   if status == 200 and not body:find('"errors"', 1, true) then
      acknowledged = acknowledged + 1
   end
end

function M.done(summary, latency, _requests)
   local total = 0
   for _, thread in ipairs(threads) do
      total = total + (thread:get("acknowledged") or 0)
   end
   local duration_s = summary.duration / 1e6
   local errors = summary.errors
   print(string.format(
      'WRK_RESULT {"requests":%d,"duration_s":%.3f,"rps":%.2f,"p50_ms":%.3f,"p90_ms":%.3f,'
         .. '"p99_ms":%.3f,"mean_ms":%.3f,"max_ms":%.3f,"non_2xx_3xx":%d,"socket_errors":%d,'
         .. '"timeouts":%d,"acknowledged":%d}',
      summary.requests, duration_s, summary.requests / duration_s,
      latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
      latency.mean / 1e3, latency.max / 1e3,
      errors.status, errors.connect + errors.read + errors.write, errors.timeout, total
   ))
end

return M
