dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local customers = tonumber(os.getenv("BENCH_ACCOUNTS"))

function request()
  return wrk.format("POST", "/customers/" .. math.random(1, customers) .. "/credit-adjustments",
                    {["Content-Type"] = "application/json"}, '{"amount":1}')
end
