dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local counter = 0
local prefix

function on_init()
  prefix = string.format("%d-%d-%d", os.time(), index, math.random(1, 1000000000))
end

function request()
  counter = counter + 1
  local body = string.format('{"name":"Bench Keyed","email":"keyed-%s-%d@bench.example"}', prefix, counter)
  return wrk.format("POST", "/customers", {["Content-Type"] = "application/json",
                    ["Idempotency-Key"] = string.format("k-%s-%d", prefix, counter)}, body)
end
