#!/usr/bin/env python3
"""Bastion against the ceiling (pgbench) and the floor (bench/reference) of its stack, in one run.

Per round and per workload, back to back: the raw SQL with pgbench (the ceiling: the statements the
service sends, 20 client connections like the service's 20 pool connections), then bench/reference
(the same JSON on the raw reactive pg client: what this stack costs when written carefully; it serves
reads and creates only), then Bastion, both through HTTP with wrk. Odd rounds run the reference
before Bastion, even rounds after it, so neither always follows pgbench. The table shows medians.

Besides req/s, latency percentiles and non-2xx, each service run reports the service's CPU per
request: utime + stime of the JVM (all threads) from /proc/PID/stat around the measured interval,
divided by the requests wrk completed. On a shared machine that is the figure noise moves least.

    nice -n 5 python3 bench/throughput/run.py            # warm-up 30-180 s per service, 2 rounds x 10 s: ~8-12 min
    nice -n 5 python3 bench/throughput/run.py --quick    # warm-up 4-8 s, 1 round x 3 s: ~2 minutes smoke run
"""
import contextlib
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
import httpload  # noqa: E402
from httpload import percentile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
POOL = 20            # service pool connections = pgbench clients = wrk connections (unless a workload says otherwise)
ROWS_PER_CLIENT = 400
HOT_ROWS = 10


class Workload:
    """One load shape. ceiling: whether pgbench runs it (the 100-connection and overload reads send the
    same statement as "read by id" through the same 20 connections, so "read by id" is their ceiling)."""

    def __init__(self, name, sql, lua, wrk_threads, wrk_connections, reference, ceiling=True):
        self.name, self.sql, self.lua = name, sql, lua
        self.wrk_threads, self.wrk_connections = wrk_threads, wrk_connections
        self.reference, self.ceiling = reference, ceiling


WORKLOADS = [
    Workload("read by id", "read.sql", "read.lua", 2, POOL, reference=True),
    Workload("read by id, 100 conn.", "read.sql", "read.lua", 2, 100, reference=True, ceiling=False),
    Workload("create", "create.sql", "create.lua", 2, POOL, reference=True),
    Workload("update (optimistic)", "update.sql", "update.lua", POOL, POOL, reference=False),
    Workload("transfer (hot rows)", "transfer.sql", "transfer.lua", 2, POOL, reference=False),
    Workload("overload 10x (read)", "read.sql", "read.lua", 4, POOL * 10, reference=True, ceiling=False),
    # a crowd that retries at once (wrk does not back off): goodput should stay near the 20-caller rate
    Workload("overload 250 (read)", "read.sql", "read.lua", 4, 250, reference=True, ceiling=False),
    Workload("overload 1000 (read)", "read.sql", "read.lua", 4, 1000, reference=True, ceiling=False),
    Workload("overload 5000 (read)", "read.sql", "read.lua", 4, 5000, reference=True, ceiling=False),
    Workload("overload 250 (create)", "create.sql", "create.lua", 4, 250, reference=True, ceiling=False),
    Workload("overload 1000 (create)", "create.sql", "create.lua", 4, 1000, reference=True, ceiling=False),
    Workload("overload 5000 (create)", "create.sql", "create.lua", 4, 5000, reference=True, ceiling=False),
]

# bench/scale's multi-statement writes, on the seeded rows: for bench/profile and compare.py, not in this run
SCALE_LUA = os.path.join(os.path.dirname(HERE), "scale", "lua")
EXTRA_WORKLOADS = [
    Workload("keyed create", None, os.path.join(SCALE_LUA, "keyed_create.lua"), 2, POOL, reference=False),
    Workload("credit adjustment", None, os.path.join(SCALE_LUA, "adjust.lua"), 2, POOL, reference=False),
    Workload("keyset page", None, os.path.join(SCALE_LUA, "page.lua"), 2, POOL, reference=False),
    Workload("lookup by email", None, os.path.join(SCALE_LUA, "email.lua"), 2, POOL, reference=False),
]


def workload_named(name):
    return next(w for w in WORKLOADS + EXTRA_WORKLOADS if w.name == name)
SERVICES = ("reference", "bastion")
PERCENTILES = {"p50": 0.50, "p99": 0.99, "p999": 0.999}
TABLE = harness.Columns(("workload", "<22"), ("service", "<9"), ("req/s", ">7.0f"), ("2xx/s", ">7.0f"), ("p50", ">7.2f"), ("p99", ">7.2f"),
                        ("p999", ">7.2f"), ("non-2xx", ">7.0f"), ("CPU µs/req", ">10.0f"), ("/pgbench", ">8.2f"))


def seed(pg):
    """Hot rows 1..10 with a large balance, then 400 rows per client for the services, then as many
    for pgbench's updates. Returns the number of rows the services' workloads address."""
    accounts = HOT_ROWS + POOL * ROWS_PER_CLIENT
    pg.psql(f"""INSERT INTO customer (name, email, credit_balance)
                SELECT 'Seed ' || s, 'seed-' || s || '@bench.example',
                       CASE WHEN s <= {HOT_ROWS} THEN 1000000000 ELSE 0 END
                  FROM generate_series(1, {accounts + POOL * ROWS_PER_CLIENT}) s ORDER BY s""")
    assert pg.psql("SELECT count(*) FROM customer WHERE email <> 'seed-' || id || '@bench.example'") == "0"
    pg.psql("VACUUM ANALYZE")
    return accounts


def seeded_postgres(running, name):
    """A PostgreSQL for comparing builds (bench/throughput/compare.py, bench/heap): started on the exit
    stack `running`, its schema migrated by one start of the packaged service, then seeded. Returns it and
    the number of rows the workloads address."""
    pg = running.enter_context(harness.Postgres(name=f"{name}-postgres"))
    with harness.Service(pg.port, name=f"{name}-migrate"):
        pass  # its migrations create the schema the seed fills
    return pg, seed(pg)


def run_pgbench(pg, workload, seconds, accounts):
    logs = tempfile.mkdtemp(prefix="pgbench-")
    out = subprocess.run([harness.postgres_bin("pgbench"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres",
                          "-n", "-M", "prepared", "-c", str(POOL), "-j", "2", "-T", str(seconds),
                          "-D", f"accounts={accounts}", "-f", os.path.join(HERE, "sql", workload.sql),
                          "-l", "--log-prefix", os.path.join(logs, "pgb"), "bastion"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed: {out.stderr}")
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial", out.stdout).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    latencies = []
    for path in glob.glob(os.path.join(logs, "pgb*")):
        with open(path) as f:
            latencies.extend(int(line.split()[2]) for line in f if line.strip())
    subprocess.run(["rm", "-rf", logs])
    latencies.sort()
    return {"rps": tps, "goodput": tps, **{key: percentile(latencies, q) / 1000 for key, q in PERCENTILES.items()},
            "errors": int(failed.group(1)) if failed else 0, "statuses": {}}


def run_wrk(service, workload, seconds, accounts, pace_ms=None):
    """wrk against the service; with the service's CPU seconds around the run, per request served.
    pace_ms: each connection waits that long after every answer (a load below capacity)."""
    env = {**os.environ, "BENCH_LUA": os.path.join(HERE, "lua"), "BENCH_ACCOUNTS": str(accounts)}
    if pace_ms is not None:
        env["BENCH_PACE_MS"] = str(pace_ms)
    # the service's own histogram gives the p99 of the answers *served* (wrk's counts refusals too)
    served_before = service.served_buckets()
    threads_before = service.thread_cpu_seconds()
    cpu_before = service.cpu_seconds()
    out = subprocess.run(["wrk", "-t", str(workload.wrk_threads), "-c", str(workload.wrk_connections),
                          "-d", f"{seconds}s", "--timeout", "30s", "-s", os.path.join(HERE, "lua", workload.lua),
                          service.url("")], capture_output=True, text=True, env=env)
    cpu = service.cpu_seconds() - cpu_before
    jit = jit_seconds(threads_before, service.thread_cpu_seconds())
    served_p99 = (httpload.quantile_between(served_before, service.served_buckets(), 0.99)
                  if served_before else None)
    line = next((l for l in out.stdout.splitlines() if l.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {out.stdout} {out.stderr}")
    result = json.loads(line[len("WRK_RESULT "):])
    statuses = result["statuses"]
    non_2xx = sum(n for code, n in statuses.items() if not code.startswith("2"))
    ok = sum(n for code, n in statuses.items() if code.startswith("2"))
    return {"rps": result["requests"] / (result["duration_us"] / 1e6), "goodput": ok / (result["duration_us"] / 1e6),
            "p50": result["p50_us"] / 1000,
            "p99": result["p99_us"] / 1000, "p999": result["p999_us"] / 1000,
            "served_p99": served_p99 * 1000 if served_p99 is not None else None,
            "errors": non_2xx + sum(result["errors"].values()), "statuses": statuses,
            "requests": result["requests"], "cpu_s": cpu,
            "cpu_us_per_request": cpu * 1e6 / result["requests"] if result["requests"] else float("nan"),
            "jit_us_per_request": jit * 1e6 / result["requests"] if result["requests"] else float("nan")}


def jit_seconds(before, after):
    """CPU seconds the JIT's compiler threads used between two thread_cpu_seconds() samples: part of the
    service's CPU per request, and a sign that its code was still being compiled during the run."""
    return sum(seconds - before.get(name, 0.0) for name, seconds in after.items() if "Compiler" in name)


def median_of(runs, key):
    return statistics.median(r[key] for r in runs) if runs else None


def sample_rss(service, stop, samples):
    while not stop.is_set():
        samples.append(service.rss_mb())
        time.sleep(0.5)


def measure(service, workload, seconds, accounts, rss_samples):
    stop = threading.Event()
    sampler = threading.Thread(target=sample_rss, args=(service, stop, rss_samples))
    sampler.start()
    try:
        return run_wrk(service, workload, seconds, accounts)
    finally:
        stop.set()
        sampler.join()


def reset_versions(pg, accounts):
    """update.lua starts every run from version 0 for its rows, as its client-side state does."""
    pg.psql(f"UPDATE customer SET version = 0 WHERE id BETWEEN {HOT_ROWS + 1} AND {accounts}")


def warm_up(service, workloads, min_seconds, max_seconds, accounts, chunk=5, pg=None):
    """JIT warm-up, not measured: `workloads` (Workload objects) in turns of `chunk` seconds until each
    one's CPU per request has settled (two turns in a row within 15 %) and `min_seconds` have passed,
    or until `max_seconds` (0: one turn). On a busy 2-core machine C2 needs far longer than on a quiet
    one: a fixed 30 s left Bastion at 1342 µs per read in round 1 and 342 µs in round 2."""
    started = time.monotonic()
    history = {workload.name: [] for workload in workloads}
    while True:
        for workload in workloads:
            if workload.lua == "update.lua":
                reset_versions(pg, accounts)
            history[workload.name].append(
                run_wrk(service, workload, min(chunk, max_seconds) or chunk, accounts)["cpu_us_per_request"])
        elapsed = time.monotonic() - started
        settled = all(len(h) >= 2 and abs(h[-1] - h[-2]) <= 0.15 * h[-2] for h in history.values())
        if elapsed >= max_seconds or (settled and elapsed >= min_seconds):
            if max_seconds:
                harness.log(f"{service.name} warmed up in {elapsed:.0f}s ({'settled' if settled else 'not settled'}); "
                            "CPU µs/request per turn: " + "; ".join(
                                f"{name}: {' '.join(f'{v:.0f}' for v in h)}" for name, h in history.items()))
            return elapsed


def warm_up_named(service, names, *args, **kwargs):
    """warm_up for workloads named as in WORKLOADS or EXTRA_WORKLOADS."""
    return warm_up(service, [workload_named(name) for name in names], *args, **kwargs)


def main():
    parser = harness.argument_parser(__doc__, "one short round: a smoke run")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 2, quick 1)")
    parser.add_argument("--seconds", type=int, default=None, help="each measured run (default 10, quick 3)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="minimum warm-up seconds per service (default 30, quick 4)")
    parser.add_argument("--max-warmup", type=int, default=None,
                        help="maximum warm-up seconds per service (default 180, quick 8)")
    parser.add_argument("--workloads", default=None,
                        help="comma-separated workload names to measure (default: all), e.g. 'read by id,create'")
    args = parser.parse_args()
    if args.workloads:
        wanted = [name.strip() for name in args.workloads.split(",")]
        WORKLOADS[:] = [w for w in WORKLOADS if w.name in wanted]
    rounds = args.rounds or (1 if args.quick else 2)
    seconds = args.seconds or (3 if args.quick else 10)
    warmup = args.warmup or (4 if args.quick else 30)
    max_warmup = max(warmup, args.max_warmup or (8 if args.quick else 180))

    harness.log(f"load average at the start: {os.getloadavg()[0]:.1f}")
    harness.ensure_packages({"wrk": "wrk", "/usr/lib/postgresql/*/bin/pgbench": "postgresql"})
    with contextlib.ExitStack() as running:
        pg = running.enter_context(harness.Postgres(name="throughput-postgres"))
        # both JVMs run as the container image runs them, under the pod's memory limit: the image's JDK
        # and flags, and for Bastion the image's AOT cache (mapped memory counts in its RSS as in a pod)
        jvm_flags, jvm_env, java = harness.ImageService.prepare(running.enter_context(tempfile.TemporaryDirectory(prefix="bastion-aot-")))
        harness.log(f"the container image's JVM: {java} {' '.join(jvm_flags)}")
        # Bastion first: its migrations create the schema the reference (which has no migrations) then uses
        services = {
            # the default wait queue and pool timeout: overload is refused by time, as in production
            "bastion": harness.ImageService(pg.port, env={"DB_POOL_SIZE": str(POOL), "DB_MAX_OVERFLOW": "0", **jvm_env},
                                            name="throughput-bastion"),
            "reference": harness.ReferenceService(pg.port, env={"DB_POOL_SIZE": str(POOL), **jvm_env},
                                                  name="throughput-reference", java_options=jvm_flags, java=java),
        }
        for key, service in services.items():
            running.enter_context(service)
            harness.log(f"{key} ready in {service.startup_seconds:.2f}s ({service.startup_cpu_seconds:.2f}s CPU)")
        accounts = seed(pg)
        names = [w.name for w in WORKLOADS]
        warmed = {"bastion": warm_up_named(services["bastion"], [n for n in ("read by id", "create", "update (optimistic)", "transfer (hot rows)") if n in names],
                                     warmup, max_warmup, accounts, chunk=2 if args.quick else 5, pg=pg),
                  "reference": warm_up_named(services["reference"], [n for n in ("read by id", "create") if n in names],
                                       warmup, max_warmup, accounts, chunk=2 if args.quick else 5)}
        rss_warm = {key: s.rss_mb() for key, s in services.items()}

        results = {w.name: {"pgbench": [], "reference": [], "bastion": []} for w in WORKLOADS}
        rss_load = {key: [] for key in services}
        rss_overload = {key: [] for key in services}
        for round_no in range(1, rounds + 1):
            order = SERVICES if round_no % 2 else tuple(reversed(SERVICES))
            for workload in WORKLOADS:
                harness.log(f"round {round_no}/{rounds}: {workload.name}")
                if workload.ceiling:
                    results[workload.name]["pgbench"].append(run_pgbench(pg, workload, seconds, accounts))
                for key in order:
                    if key == "reference" and not workload.reference:
                        continue
                    if workload.lua == "update.lua":
                        reset_versions(pg, accounts)
                    samples = rss_overload[key] if workload.name.startswith("overload") else rss_load[key]
                    results[workload.name][key].append(measure(services[key], workload, seconds, accounts, samples))
        memory = {key: {"startup_s": s.startup_seconds, "startup_cpu_s": s.startup_cpu_seconds, "warmup_s": warmed[key], "rss_warm_mb": rss_warm[key],
                        "rss_load_max_mb": max(rss_load[key] + rss_overload[key], default=0),
                        "rss_overload_max_mb": max(rss_overload[key], default=0), "peak_rss_mb": s.peak_rss_mb()}
                  for key, s in services.items()}
        with open(harness.out_path("throughput.json"), "w") as f:  # first: a report that fails loses nothing
            json.dump({"results": results, "services": memory, "rounds": rounds, "seconds": seconds,
                       "warmup": warmup, "machine": harness.machine_description()}, f, indent=1)
        report(results, memory, rounds, seconds, warmup)


def report(results, memory, rounds, seconds, warmup):
    print()
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (the machine is shared)")
    print(f"pgbench / reference / Bastion: {harness.machine_description()}; {POOL} pool connections = pgbench "
          f"clients; warm-up per service until CPU/request settles; median of {rounds} interleaved round(s) x {seconds}s")
    print("latencies in ms; CPU = service utime+stime per request served, in µs; "
          "pgbench of 'read by id' ('create') is the ceiling of every read (create) row")
    TABLE.print_header()
    # a workload pgbench does not run (more connections, a crowd) has the ceiling of the one sending its statement
    sql_of = {w.name: w.sql for w in WORKLOADS}
    ceilings = {sql_of[name]: median_of(runs["pgbench"], "rps") for name, runs in results.items() if runs["pgbench"]}
    for name, runs in results.items():
        ceiling = ceilings.get(sql_of[name])
        for key in ("pgbench", "reference", "bastion"):
            r = runs[key]
            if not r:
                continue
            cpu = median_of(r, "cpu_us_per_request") if key != "pgbench" else None
            ratio = median_of(r, "rps") / ceiling if key != "pgbench" and ceiling else None
            TABLE.print_row(name, key, *(median_of(r, k) for k in ("rps", "goodput", "p50", "p99", "p999", "errors")), cpu, ratio)
    print("of which the JIT's compiler threads (CPU µs per request, medians; a large share means code still compiling):")
    for name, runs in results.items():
        shares = [f"{key} {median_of(runs[key], 'jit_us_per_request'):.1f}" for key in SERVICES
                  if key != "pgbench" and runs[key] and "jit_us_per_request" in runs[key][0]]
        if shares:
            print(f"  {name:<22} {', '.join(shares)}")
    print("p99 of the answers served, from Bastion's own histogram (a bucket's upper bound, ms; wrk's p99 counts held refusals too):")
    for name, runs in results.items():
        figures = [run["served_p99"] for run in runs["bastion"] if run.get("served_p99") is not None]
        if figures:
            print(f"  {name:<22} {statistics.median(figures):.1f}")
    print("statuses of the last round:")
    for name, runs in results.items():
        for key in SERVICES:
            if runs[key]:
                print(f"  {name:<22} {key:<9} {json.dumps(runs[key][-1]['statuses'], sort_keys=True)}")
    for key, m in memory.items():
        print(f"{key}: start-up to first 200 {m['startup_s']:.2f}s ({m['startup_cpu_s']:.2f}s CPU); warm-up {m['warmup_s']:.0f}s; RSS after warm-up {m['rss_warm_mb']:.0f} MB; "
              f"max sampled RSS under load {m['rss_load_max_mb']:.0f} MB (overload {m['rss_overload_max_mb']:.0f} MB); "
              f"peak RSS (VmHWM) {m['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    harness.run(main)
