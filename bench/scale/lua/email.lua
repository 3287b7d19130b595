dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local customers = tonumber(os.getenv("BENCH_ACCOUNTS"))

function request()
  return wrk.format("GET", "/customers?email=seed-" .. math.random(1, customers) .. "%40bench.example")
end
