dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local customers = tonumber(os.getenv("BENCH_ACCOUNTS"))

function request()
  return wrk.format("GET", "/customers/" .. math.random(1, customers))
end
