dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local accounts = tonumber(os.getenv("BENCH_ACCOUNTS"))

function request()
  return wrk.format("GET", "/customers/" .. math.random(1, accounts))
end
