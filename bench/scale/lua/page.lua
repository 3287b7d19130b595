dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local customers = tonumber(os.getenv("BENCH_ACCOUNTS"))

function request()
  return wrk.format("GET", "/customers?size=20&after=" .. math.random(0, customers - 20))
end
