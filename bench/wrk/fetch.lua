-- One wrk script for every system: fires one request shape with a random prompt name each time.
--
-- Configuration, all by environment variables:
--   WRK_NAMES      path of a file of prompt names, one per line (blank lines are skipped); required
--   WRK_METHOD     HTTP method, default GET
--   WRK_PATH       path template, e.g. /v1/prompts/{name}/tags/production; default /
--                  ({name} is replaced by the percent-encoded name)
--   WRK_BODY       body template, e.g. a GraphQL JSON body with "{name}" inside a JSON string;
--                  optional ({name} is replaced by the JSON-escaped name)
--   WRK_HEADER_1, WRK_HEADER_2, ...   one header each, "Name: value", read until the first gap
--   WRK_SEED       optional base seed; thread i seeds its RNG with WRK_SEED + i
--                  (default: the start time, so runs differ but threads never share a sequence)
--
-- Example:
--   WRK_NAMES=names.txt WRK_METHOD=POST WRK_PATH=/graphql \
--   WRK_BODY='{"query":"query($n:String!){promptVersion(name:$n,label:\"production\"){version}}","variables":{"n":"{name}"}}' \
--   WRK_HEADER_1='Content-Type: application/json' \
--   wrk -t2 -c16 -d5s --latency -s bench/wrk/fetch.lua http://127.0.0.1:8000
--
-- Every request is built once per thread and name in init(), so the Lua side costs nothing
-- per request. done() prints one machine-readable line after wrk's own report:
--   WRK_RESULT {"requests":...,"duration_s":...,"rps":...,"p50_ms":...,"p90_ms":...,
--               "p99_ms":...,"mean_ms":...,"max_ms":...,"non_2xx_3xx":...,"socket_errors":...,
--               "timeouts":...}
-- socket_errors counts connect, read and write errors; timeouts are requests that got no
-- answer within wrk's --timeout (default 2s) and are missing from the latency figures.

local threads_started = 0

function setup(thread)
   threads_started = threads_started + 1
   thread:set("thread_index", threads_started)
end

local function read_names(path)
   local file = assert(io.open(path, "r"), "fetch.lua: cannot open WRK_NAMES file " .. path)
   local names = {}
   for line in file:lines() do
      local name = line:gsub("^%s+", ""):gsub("%s+$", "")
      if name ~= "" then
         names[#names + 1] = name
      end
   end
   file:close()
   assert(#names > 0, "fetch.lua: no names in " .. path)
   return names
end

local function percent_encode(text)
   return (text:gsub("[^%w%-%._~]", function(c)
      return string.format("%%%02X", string.byte(c))
   end))
end

local function json_escape(text)
   return (text:gsub('[%c"\\]', function(c)
      if c == '"' then return '\\"' end
      if c == "\\" then return "\\\\" end
      return string.format("\\u%04x", string.byte(c))
   end))
end

-- A function replacement, so "%" in a name is never read as a capture reference.
local function fill(template, value)
   return (template:gsub("{name}", function() return value end))
end

local requests = {}

function init(args)
   local names_path = os.getenv("WRK_NAMES")
   assert(names_path and names_path ~= "", "fetch.lua: set WRK_NAMES to a file of names")
   local method = os.getenv("WRK_METHOD") or "GET"
   local path_template = os.getenv("WRK_PATH") or "/"
   local body_template = os.getenv("WRK_BODY")
   if body_template == "" then
      body_template = nil
   end

   -- wrk.headers already holds Host; copy it and add ours.
   local headers = {}
   for key, value in pairs(wrk.headers) do
      headers[key] = value
   end
   local i = 1
   while true do
      local header = os.getenv("WRK_HEADER_" .. i)
      if header == nil or header == "" then
         break
      end
      local key, value = header:match("^%s*([^:]+):%s*(.-)%s*$")
      assert(key, "fetch.lua: WRK_HEADER_" .. i .. " must read 'Name: value'")
      headers[key] = value
      i = i + 1
   end

   for _, name in ipairs(read_names(names_path)) do
      local body = body_template and fill(body_template, json_escape(name)) or nil
      requests[#requests + 1] =
         wrk.format(method, fill(path_template, percent_encode(name)), headers, body)
   end

   local seed = tonumber(os.getenv("WRK_SEED") or "") or os.time()
   math.randomseed(seed + thread_index)
   -- LuaJIT's first draws after seeding are poorly spread.
   for _ = 1, 10 do
      math.random()
   end
end

function request()
   return requests[math.random(#requests)]
end

function done(summary, latency, _requests)
   local duration_s = summary.duration / 1e6
   local errors = summary.errors
   print(string.format(
      'WRK_RESULT {"requests":%d,"duration_s":%.3f,"rps":%.2f,"p50_ms":%.3f,"p90_ms":%.3f,'
         .. '"p99_ms":%.3f,"mean_ms":%.3f,"max_ms":%.3f,"non_2xx_3xx":%d,"socket_errors":%d,'
         .. '"timeouts":%d}',
      summary.requests,
      duration_s,
      summary.requests / duration_s,
      latency:percentile(50) / 1e3,
      latency:percentile(90) / 1e3,
      latency:percentile(99) / 1e3,
      latency.mean / 1e3,
      latency.max / 1e3,
      errors.status,
      errors.connect + errors.read + errors.write,
      errors.timeout
   ))
end
