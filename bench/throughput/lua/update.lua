-- One connection per thread, each thread owning its own 400 rows: it sends the version its last
-- update returned (or the one a 409 reported), as a client doing read-modify-write would.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local versions = {}
local current

function request()
  current = 11 + index * 400 + math.random(0, 399)
  local body = string.format('{"name":"Bench Update","email":"seed-%d@bench.example","status":"ACTIVE","version":%d}',
    current, versions[current] or 0)
  return wrk.format("PUT", "/customers/" .. current, {["Content-Type"] = "application/json"}, body)
end

function on_response(status, body)
  local version = body and (body:match('"version":(%d+)') or body:match("is at version (%d+)"))
  if version then versions[current] = tonumber(version) end
end
