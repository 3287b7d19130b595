#!/usr/bin/env python3
"""Cost as the data grows: the request-path workloads on 10 thousand, 1 million and 10 million customers.

At each size the tables hold as many customers, as many idempotency keys (half of them expired) and as
many ledger rows (credit transfers), generated in SQL (generate_series). Sizes are reached in turn on one
PostgreSQL and one packaged service (the image's JVM, flags and AOT cache), so the JIT is warm and only the
data changes. Per size and workload (wrk, 20 connections = the pool, `--seconds` each):

  - the service's CPU µs per request (utime + stime from /proc/PID/stat), p50 / p99, req/s;
  - PostgreSQL's own cost per request from pg_stat_statements (reset before each run): statements,
    execution ms and shared blocks hit / read per request, so a plan that went wrong (a sequential scan,
    a cold index) shows;
  - pgbench on the same data for reads by id (the ceiling);

and the same workloads paced (10 connections, each waiting 10 ms, or 30 ms for the multi-statement
writes, after every answer): a load below capacity at every size, so the service's CPU per request is
compared at the same pace, not at whatever rate the database sustains (a saturated run's CPU per request
also moves with how many answers each event-loop wake-up finds);

then the expired-key clean-up on the largest size: keys removed per second by the service's own timer
(every 5 s, bounded batches, in a second pod) and the p99 of reads while it runs, against reads while
that pod is paused, in alternating windows (the median of the window-by-window ratios).

    nice -n 5 python3 bench/scale/run.py                           # 10k, 1M, 10M: ~25 minutes
    nice -n 5 python3 bench/scale/run.py --sizes 10k,1M --seconds 5

Results: bench/out/scale.json and the tables printed at the end. Not part of CI.
"""
import json
import os
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "throughput"))
import run as throughput  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "lua")
SIZES = {"10k": 10_000, "1M": 1_000_000, "10M": 10_000_000}
FUNDED = 100  # customers 1..100 hold the balance transfers draw on
WORKLOADS = [  # name, wrk script
    ("read by id", os.path.join(LUA, "read.lua")),
    ("create", os.path.join(throughput.HERE, "lua", "create.lua")),
    ("keyed create", os.path.join(LUA, "keyed_create.lua")),
    ("credit adjustment", os.path.join(LUA, "adjust.lua")),
    ("transfer", os.path.join(LUA, "transfer.lua")),
    ("keyset page", os.path.join(LUA, "page.lua")),
    ("lookup by email", os.path.join(LUA, "email.lua")),
]
POOL = throughput.POOL
PACED_CONNECTIONS = 10
DEFAULT_PACE_MS = 10
CLEANUP_PAIRS = 5  # paused / running windows of the clean-up pod
PACE_MS = {"keyed create": 30, "credit adjustment": 30, "transfer": 30}  # the others: DEFAULT_PACE_MS
PACED_COLUMNS = harness.Columns(("workload", "<18"), ("size", "<5"), ("req/s", ">7.0f"), ("p50 ms", ">7.2f"),
                                ("p99 ms", ">7.2f"), ("CPU µs/req", ">10.0f"), ("x 10k", ">6.2f"), ("p99 x 10k", ">9.2f"))
COLUMNS = harness.Columns(("workload", "<18"), ("size", "<5"), ("req/s", ">7.0f"), ("p50 ms", ">7.2f"), ("p99 ms", ">7.2f"),
                          ("CPU µs/req", ">10.0f"), ("x 10k", ">6.2f"), ("p99 x 10k", ">9.2f"), ("db calls", ">8.1f"),
                          ("db ms/req", ">9.3f"), ("hit/req", ">7.1f"), ("read/req", ">8.2f"))


def grow(pg, current, target):
    """Customers, keys (half expired) and ledger rows up to `target` each, in SQL; the ledger's foreign
    key checks are skipped while loading (rows reference customers that exist)."""
    started = time.monotonic()
    pg.psql(f"""INSERT INTO customer (name, email, credit_balance)
                SELECT 'Seed ' || s, 'seed-' || s || '@bench.example', CASE WHEN s <= {FUNDED} THEN 1000000000 ELSE 0 END
                  FROM generate_series({current + 1}, {target}) s ORDER BY s""", timeout=3600)
    pg.psql(f"""INSERT INTO idempotency_key (operation, idempotency_key, request_hash, response_status, expires_at)
                SELECT 'customer.create', 'seed-' || s, repeat('0', 64), 201,
                       CASE WHEN s % 2 = 0 THEN now() - interval '1 hour' ELSE now() + interval '1 day' END
                  FROM generate_series({current + 1}, {target}) s""", timeout=3600)
    pg.psql(f"""ALTER TABLE credit_transfer DISABLE TRIGGER ALL;
                INSERT INTO credit_transfer (from_id, to_id, amount, created_at)
                SELECT 1 + s % {FUNDED}, {FUNDED} + 1 + s % ({target} - {FUNDED}), 0.01, now() - s * interval '1 s'
                  FROM generate_series({current + 1}, {target}) s;
                ALTER TABLE credit_transfer ENABLE TRIGGER ALL""", timeout=3600)
    pg.psql("VACUUM ANALYZE", timeout=3600)
    # measured warm, as a database serving this data would be: tables and indexes read into the OS page
    # cache (they exceed shared_buffers at 10M), and the load's dirty pages written out first
    pg.psql("CHECKPOINT", timeout=3600)
    pg.psql("CREATE EXTENSION IF NOT EXISTS pg_prewarm; SELECT sum(pg_prewarm(c.oid, 'read')) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')",
            timeout=3600)
    harness.log(f"grew to {target:,} customers, keys and ledger rows in {time.monotonic() - started:.0f}s "
                f"(database {pg.psql('SELECT pg_size_pretty(pg_database_size(current_database()))')})")


def statements(pg, requests):
    """What PostgreSQL did for the run (pg_stat_statements since the last reset; the readiness probe's
    few statements included), per request: statements, execution ms, shared blocks hit and read."""
    rows = pg.rows("SELECT sum(calls), sum(total_exec_time), sum(shared_blks_hit), sum(shared_blks_read) "
                   "FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'")
    calls, total_ms, hit, read = (float(v or 0) for v in rows[0]) if rows else (0, 0, 0, 0)
    per = max(1, requests)
    return {"calls_per_request": calls / per, "ms_per_request": total_ms / per, "hit_per_request": hit / per,
            "read_per_request": read / per}


def measure(pg, service, script, seconds, customers):
    pg.psql("SELECT pg_stat_statements_reset()")
    result = throughput.run_wrk(service, throughput.Workload("scale", None, script, 2, POOL, reference=False), seconds, customers)
    result.update(statements(pg, result["requests"]))
    return result


def warm_up(service, customers, min_seconds):
    """Turns of 3 s of every workload, unmeasured: one turn, or, with `min_seconds`, until each
    workload's CPU per request has settled (at most 3x that). A fixed 60 s left the session paths
    (keyed create, transfer) with C2 still compiling at the first size, which made the larger sizes
    look cheaper than it."""
    workloads = [throughput.Workload(name, None, script, 2, POOL, reference=False) for name, script in WORKLOADS]
    throughput.warm_up(service, workloads, min_seconds, 3 * min_seconds, customers, chunk=3)


def measure_paced(service, workload, script, seconds, customers):
    paced = throughput.Workload("paced", None, script, 2, PACED_CONNECTIONS, reference=False)
    return throughput.run_wrk(service, paced, seconds, customers, pace_ms=PACE_MS.get(workload, DEFAULT_PACE_MS))


def idle_cpu_per_second(service, seconds=5):
    """The service's CPU with no requests (its timers, metrics): what a paced run's figure includes."""
    before = service.cpu_seconds()
    time.sleep(seconds)
    return (service.cpu_seconds() - before) / seconds


def cleanup_phase(pg, service, service_env, seconds, customers, cleanup_env, pairs=CLEANUP_PAIRS):
    """The expired-key clean-up on the largest table: a second pod of the service (every 5 s, bounded
    batches) removes the expired keys while the warm one serves reads. The second pod is paused (SIGSTOP)
    and let run (SIGCONT) in turn, `pairs` times, a window of `seconds` each: each running window's read
    p99 is compared with the paused window just before it, and the median of those ratios is the figure.
    One window before the clean-up against one during it gave 0.94x to 1.57x from run to run: a shared
    machine's drift between two single windows, not the clean-up's own cost. Keys removed per second are
    counted over the running windows."""
    expired = "SELECT count(*) FROM idempotency_key WHERE expires_at < now()"
    read = throughput.Workload("cleanup", None, os.path.join(LUA, "read.lua"), 2, POOL, reference=False)
    before = int(pg.psql(expired))
    windows = []  # (paused read, running read, keys removed while running)
    with harness.ImageService(pg.port, env={**service_env, "BASTION_IDEMPOTENCY_CLEANUP_INTERVAL": "5", **cleanup_env},
                              name="scale-cleanup") as cleaner:
        for _ in range(pairs):
            os.kill(cleaner.pid, signal.SIGSTOP)
            try:
                quiet = throughput.run_wrk(service, read, seconds, customers)
                left = int(pg.psql(expired))
            finally:
                os.kill(cleaner.pid, signal.SIGCONT)  # a stopped JVM would not hear the SIGTERM that ends it
            during = throughput.run_wrk(service, read, seconds, customers)
            windows.append((quiet, during, left - int(pg.psql(expired))))
    ratios = sorted(during["p99"] / quiet["p99"] for quiet, during, _ in windows)
    removed = sum(r for _, _, r in windows)
    return {"expired_before": before, "removed": removed, "removed_per_s": removed / (seconds * pairs),
            "pairs": pairs, "window_s": seconds, "read_p99_ratios": ratios,
            "read_p99_ratio_median": statistics.median(ratios),
            "read_p99_ms": statistics.median(d["p99"] for _, d, _ in windows),
            "read_p99_quiet_ms": statistics.median(q["p99"] for q, _, _ in windows),
            "read_cpu_us": statistics.median(d["cpu_us_per_request"] for _, d, _ in windows),
            "read_cpu_quiet_us": statistics.median(q["cpu_us_per_request"] for q, _, _ in windows)}


def main():
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--sizes", default="10k,1M,10M", help="comma-separated, from 10k, 1M, 10M")
    parser.add_argument("--seconds", type=int, default=10, help="each measured run")
    parser.add_argument("--warmup", type=int, default=60,
                        help="JIT warm-up before the first size: at least this many seconds, until CPU/request settles")
    parser.add_argument("--cleanup-env", default="",
                        help="settings for the clean-up's pod, NAME=value,NAME=value (say BASTION_IDEMPOTENCY_CLEANUP_BATCH_SIZE=250; "
                             "BASTION_IDEMPOTENCY_CLEANUP_INTERVAL=86400 measures the pod with its clean-up off)")
    parser.add_argument("--cleanup-only", action="store_true",
                        help="only the expired-key clean-up, on the largest size (the workloads not measured)")
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",")]
    harness.ensure_packages({"wrk": "wrk", "/usr/lib/postgresql/*/bin/pgbench": "postgresql"})
    harness.log(f"load average at the start: {os.getloadavg()[0]:.1f}")
    results = {}
    paced = {}
    cleanup = None
    with harness.Postgres({"shared_preload_libraries": "'pg_stat_statements'", "shared_buffers": "1GB",
                           "max_wal_size": "8GB", "checkpoint_timeout": "30min"}, name="scale-postgres") as pg:
        import tempfile
        with tempfile.TemporaryDirectory(prefix="bastion-aot-") as cache:
            flags, env, java = harness.ImageService.prepare(cache)
            service_env = {"DB_POOL_SIZE": str(POOL), "DB_MAX_OVERFLOW": "0", "BASTION_IDEMPOTENCY_CLEANUP_INTERVAL": "86400", **env}
            with harness.ImageService(pg.port, env=service_env, name="scale-bastion") as service:
                pg.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                current = 0
                for name in sizes:
                    target = SIZES[name]
                    grow(pg, current, target)
                    current = target
                    # the JIT warmed up once, before the first size, until every workload's CPU per request
                    # settles; at every size each workload runs unmeasured for a few seconds first, so no
                    # workload pays for the load just finished (the first one measured after the 10M load
                    # used to carry a p99 of 137 ms for it)
                    warm_up(service, target, args.warmup if name == sizes[0] else 0)
                    if args.cleanup_only:
                        continue
                    results[name] = {}
                    paced[name] = {"idle_cpu_ms_per_s": idle_cpu_per_second(service) * 1000}
                    for workload, script in WORKLOADS:
                        harness.log(f"{name}: {workload}")
                        results[name][workload] = measure(pg, service, script, args.seconds, target)
                        paced[name][workload] = measure_paced(service, workload, script, args.seconds, target)
                    ceiling = throughput.run_pgbench(pg, throughput.Workload("read by id", "read.sql", None, 2, POOL, reference=False),
                                                     args.seconds, target)
                    results[name]["pgbench read by id"] = ceiling
                cleanup_env = dict(pair.split("=", 1) for pair in args.cleanup_env.split(",") if pair)
                cleanup = cleanup_phase(pg, service, service_env, args.seconds, current, cleanup_env)

    print()
    print(f"cost as the data grows; {harness.machine_description()}; load average at the end {os.getloadavg()[0]:.1f}")
    print(f"each size: as many customers, idempotency keys (half expired) and ledger rows; wrk {POOL} connections, "
          f"{args.seconds}s per run; db = pg_stat_statements of the workload's statements")
    first = sizes[0]
    if args.cleanup_only:
        sizes, results, paced = [], {}, {}
    COLUMNS.print_header()
    for workload, _ in WORKLOADS:
        for name in sizes:
            r = results[name][workload]
            base = results[first][workload]
            COLUMNS.print_row(workload, name, r["rps"], r["p50"], r["p99"], r["cpu_us_per_request"],
                              r["cpu_us_per_request"] / base["cpu_us_per_request"], r["p99"] / base["p99"],
                              r["calls_per_request"], r["ms_per_request"], r["hit_per_request"], r["read_per_request"])
    if sizes:
        print()
        print(f"paced: {PACED_CONNECTIONS} connections, each waiting {DEFAULT_PACE_MS} ms after every answer ("
              + ", ".join(f"{ms} ms for {name}" for name, ms in PACE_MS.items()) + "); "
              "idle CPU per second: " + ", ".join(f"{n} {paced[n]['idle_cpu_ms_per_s']:.1f} ms" for n in sizes))
        PACED_COLUMNS.print_header()
        for workload, _ in WORKLOADS:
            for name in sizes:
                r, base = paced[name][workload], paced[first][workload]
                PACED_COLUMNS.print_row(workload, name, r["rps"], r["p50"], r["p99"], r["cpu_us_per_request"],
                                        r["cpu_us_per_request"] / base["cpu_us_per_request"], r["p99"] / base["p99"])
    for name in sizes:
        ceiling = results[name]['pgbench read by id']
        print(f"pgbench read by id, {name}: {ceiling['rps']:.0f} tps, p50 {ceiling['p50']:.2f} ms, p99 {ceiling['p99']:.2f} ms")
    if cleanup:
        print(f"expired-key clean-up on {current:,} keys (half expired), the service's timer every 5 s, by a second pod "
              f"paused and running in turn ({cleanup['pairs']} x {cleanup['window_s']} s each): {cleanup['removed']:,} "
              f"removed while running ({cleanup['removed_per_s']:.0f} keys/s); reads on the first pod, medians: p99 "
              f"{cleanup['read_p99_ms']:.2f} ms running, {cleanup['read_p99_quiet_ms']:.2f} ms paused; CPU "
              f"{cleanup['read_cpu_us']:.0f} / {cleanup['read_cpu_quiet_us']:.0f} µs per read; p99 running / paused "
              f"window by window: " + ", ".join(f"{r:.2f}x" for r in cleanup["read_p99_ratios"])
              + f" (median {cleanup['read_p99_ratio_median']:.2f}x)")
    with open(harness.out_path("scale.json"), "w") as f:
        json.dump({"results": results, "paced": paced, "cleanup": cleanup, "sizes": sizes, "seconds": args.seconds}, f, indent=1)


if __name__ == "__main__":
    harness.run(main)
