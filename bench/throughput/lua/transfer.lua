dofile(os.getenv("BENCH_LUA") .. "/report.lua")

function request()
  local a = math.random(1, 10)
  local b = 1 + (a + math.random(0, 8)) % 10
  local body = string.format('{"from":%d,"to":%d,"amount":1}', a, b)
  return wrk.format("POST", "/customers/transfers", {["Content-Type"] = "application/json"}, body)
end
