-- the throughput bench's create, each request with an Idempotency-Key of its own
KEYED = true
dofile(os.getenv("BENCH_LUA") .. "/create.lua")
