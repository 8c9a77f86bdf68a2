-- W4: recordTraces with WRK_BATCH (default 500) outcomes of new random trace ids per request
-- (see common.lua for the environment and the WRK_RESULT line; WRK_NAMES is not read).
--
--   WRK_HEADER_1='Content-Type: application/json' WRK_HEADER_2='Authorization: Bearer pgk_...' \
--   WRK_SEED=2 wrk -t2 -c8 -d20s --latency -s bench/wrk/record_traces.lua http://127.0.0.1:8000

local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local PREFIX = '{"query":"mutation($traces: [TraceInput!]!) { recordTraces(traces: $traces) '
   .. '{ accepted } }","variables":{"traces":['
local SUFFIX = "]}}"

local headers, batch

setup = common.setup
response = common.response
done = common.done

function init(_args)
   headers = common.headers()
   batch = tonumber(os.getenv("WRK_BATCH") or "") or 500
   common.seed(thread_index)
end

function request()
   local items = {}
   for i = 1, batch do
      items[i] = string.format('{"traceId":"%s",%s}', common.uuid4(), common.outcome_fields())
   end
   return wrk.format("POST", "/graphql", headers, PREFIX .. table.concat(items, ",") .. SUFFIX)
end
