dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local customers = tonumber(os.getenv("BENCH_ACCOUNTS"))

-- from the funded rows (1..100) to any other customer of the table: the ledger grows, no hot row
function request()
  local from = math.random(1, 100)
  local to = math.random(101, customers)
  return wrk.format("POST", "/customers/transfers", {["Content-Type"] = "application/json"},
                    string.format('{"from":%d,"to":%d,"amount":0.01}', from, to))
end
