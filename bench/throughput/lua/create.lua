dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local counter = 0
local prefix
-- KEYED (set by bench/scale/lua/keyed_create.lua before it runs this file): every create carries an Idempotency-Key
local keyed = KEYED == true

function on_init()
  prefix = string.format("%d-%d-%d", os.time(), index, math.random(1, 1000000000))
end

function request()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json"}
  if keyed then
    headers["Idempotency-Key"] = string.format("k-%s-%d", prefix, counter)
  end
  local body = string.format('{"name":"Bench Create","email":"wrk-%s%s-%d@bench.example"}', keyed and "k-" or "", prefix, counter)
  return wrk.format("POST", "/customers", headers, body)
end
