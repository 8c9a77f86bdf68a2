-- W4: recordUsage with an outcome, one new random trace id per request (see common.lua for
-- the environment and the WRK_RESULT line). WRK_VERSIONS: versions per prompt (default 10);
-- each request picks a random prompt from WRK_NAMES and a random version of it.
-- Prompt names are [A-Za-z0-9._-], so they go into the JSON body unescaped.
--
--   WRK_NAMES=names.txt WRK_HEADER_1='Content-Type: application/json' \
--   WRK_HEADER_2='Authorization: Bearer pgk_...' WRK_SEED=1 \
--   wrk -t2 -c32 -d20s --latency -s bench/wrk/record_usage.lua http://127.0.0.1:8000

local common = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local BODY = '{"query":"mutation($input: RecordUsageInput!) { recordUsage(input: $input) '
   .. '{ status } }","variables":{"input":{"promptName":"%s","promptVersion":%d,'
   .. '"traceId":"%s","outcome":{%s}}}}'

local names, headers, versions

setup = common.setup
response = common.response
done = common.done

function init(_args)
   names = common.read_names()
   headers = common.headers()
   versions = tonumber(os.getenv("WRK_VERSIONS") or "") or 10
   common.seed(thread_index)
end

function request()
   local body = string.format(
      BODY, names[math.random(#names)], math.random(versions), common.uuid4(),
      common.outcome_fields()
   )
   return wrk.format("POST", "/graphql", headers, body)
end
