#!/usr/bin/env python3
"""Bastion against PostgreSQL's own ceiling, on the same machine and in the same run.

Each workload runs twice, back to back: as raw SQL with pgbench (the ceiling: the statements the
service issues, prepared, with as many clients as the service has pool connections), then through
the service's HTTP API with wrk. Several rounds; the table shows medians and the service/pgbench
ratio. Absolute numbers depend on the machine; the ratios are the point.

    python3 bench/throughput/run.py            # ~8 minutes on 2 cores
    python3 bench/throughput/run.py --quick    # ~1 minute smoke run
"""
import argparse
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

HERE = os.path.dirname(os.path.abspath(__file__))
POOL = 20            # service pool connections = pgbench clients = wrk connections
ROWS_PER_CLIENT = 400
HOT_ROWS = 10


class Workload:
    def __init__(self, name, sql, lua, wrk_threads, wrk_connections):
        self.name, self.sql, self.lua = name, sql, lua
        self.wrk_threads, self.wrk_connections = wrk_threads, wrk_connections


WORKLOADS = [
    Workload("read by id", "read.sql", "read.lua", 2, POOL),
    Workload("create", "create.sql", "create.lua", 2, POOL),
    Workload("update (optimistic)", "update.sql", "update.lua", POOL, POOL),
    Workload("transfer (hot rows)", "transfer.sql", "transfer.lua", 2, POOL),
    Workload("overload 10x (read)", "read.sql", "read.lua", 4, POOL * 10),
]


def seed(pg):
    """Hot rows 1..10 with a large balance, then 400 rows per client for the service, then as many
    for pgbench's updates. Returns the number of rows the service's workloads address."""
    accounts = HOT_ROWS + POOL * ROWS_PER_CLIENT
    pg.psql(f"""INSERT INTO customer (name, email, credit_balance)
                SELECT 'Seed ' || s, 'seed-' || s || '@bench.example',
                       CASE WHEN s <= {HOT_ROWS} THEN 1000000000 ELSE 0 END
                  FROM generate_series(1, {accounts + POOL * ROWS_PER_CLIENT}) s ORDER BY s""")
    assert pg.psql("SELECT count(*) FROM customer WHERE email <> 'seed-' || id || '@bench.example'") == "0"
    pg.psql("VACUUM ANALYZE")
    return accounts


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
    return {"rps": tps, **percentiles(latencies), "errors": int(failed.group(1)) if failed else 0, "statuses": {}}


def run_wrk(service, workload, seconds, accounts):
    env = {**os.environ, "BENCH_LUA": os.path.join(HERE, "lua"), "BENCH_ACCOUNTS": str(accounts)}
    out = subprocess.run(["wrk", "-t", str(workload.wrk_threads), "-c", str(workload.wrk_connections),
                          "-d", f"{seconds}s", "--timeout", "30s", "-s", os.path.join(HERE, "lua", workload.lua),
                          service.url("")], capture_output=True, text=True, env=env)
    line = next((l for l in out.stdout.splitlines() if l.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {out.stdout} {out.stderr}")
    result = json.loads(line[len("WRK_RESULT "):])
    statuses = result["statuses"]
    non_2xx = sum(n for code, n in statuses.items() if not code.startswith("2"))
    return {"rps": result["requests"] / (result["duration_us"] / 1e6), "p50": result["p50_us"] / 1000,
            "p99": result["p99_us"] / 1000, "p999": result["p999_us"] / 1000,
            "errors": non_2xx + sum(result["errors"].values()), "statuses": statuses}


def percentiles(sorted_us):
    if not sorted_us:
        return {"p50": 0.0, "p99": 0.0, "p999": 0.0}

    def at(q):
        return sorted_us[min(len(sorted_us) - 1, int(q * len(sorted_us)))] / 1000

    return {"p50": at(0.50), "p99": at(0.99), "p999": at(0.999)}


def median_of(runs, key):
    return statistics.median(r[key] for r in runs)


def sample_rss(service, stop, samples):
    while not stop.is_set():
        samples.append(service.rss_mb())
        time.sleep(0.5)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one short round: a smoke run")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--seconds", type=int, default=None, help="duration of each measured run")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (3 if args.quick else 10)

    os.makedirs(harness.OUT, exist_ok=True)
    harness.ensure_packages({"wrk": "wrk", "psql": "postgresql-client", "/usr/lib/postgresql/*/bin/postgres": "postgresql",
                             "/usr/lib/postgresql/*/bin/pgbench": "postgresql"})
    pg = harness.Postgres(name="throughput-postgres").start()
    service = harness.Service(pg.port, env={"DB_POOL_SIZE": str(POOL), "DB_MAX_OVERFLOW": "0",
                                            "DB_POOL_WAIT_QUEUE": "2000", "DB_POOL_TIMEOUT": "30"},
                              name="throughput-service")
    try:
        service.start()
        harness.log(f"service ready in {service.startup_seconds:.2f}s")
        accounts = seed(pg)
        warm = 2 if args.quick else 5
        for name in ("read by id", "create", "transfer (hot rows)"):
            run_wrk(service, next(w for w in WORKLOADS if w.name == name), warm, accounts)
        rss_warm = service.rss_mb()

        results = {w.name: {"pgbench": [], "service": []} for w in WORKLOADS}
        rss_load = []
        for round_no in range(1, rounds + 1):
            for workload in WORKLOADS:
                harness.log(f"round {round_no}/{rounds}: {workload.name}")
                results[workload.name]["pgbench"].append(run_pgbench(pg, workload, seconds, accounts))
                if workload.lua == "update.lua":
                    # each wrk run starts from version 0 for its rows, as its client-side state does
                    pg.psql(f"UPDATE customer SET version = 0 WHERE id BETWEEN {HOT_ROWS + 1} AND {accounts}")
                stop = threading.Event()
                sampler = threading.Thread(target=sample_rss, args=(service, stop, rss_load))
                sampler.start()
                results[workload.name]["service"].append(run_wrk(service, workload, seconds, accounts))
                stop.set()
                sampler.join()
        report(results, service.startup_seconds, rss_warm, max(rss_load), rounds, seconds)
        with open(os.path.join(harness.OUT, "throughput.json"), "w") as f:
            json.dump(results, f, indent=1)
    finally:
        service.stop()
        pg.stop()


def report(results, startup, rss_warm, rss_load, rounds, seconds):
    print()
    print(f"Bastion vs pgbench: {harness.machine_description()}; {POOL} pool connections = pgbench clients; "
          f"median of {rounds} round(s) x {seconds}s")
    header = (f"{'workload':<22} {'pgbench req/s':>13} {'p50':>7} {'p99':>7} {'p999':>7} | {'service req/s':>13} "
              f"{'p50':>7} {'p99':>7} {'p999':>7} {'non-2xx+err':>11} | {'ratio':>6}")
    print(header)
    print("-" * len(header))
    for name, runs in results.items():
        p, s = runs["pgbench"], runs["service"]
        ratio = median_of(s, "rps") / median_of(p, "rps")
        print(f"{name:<22} {median_of(p, 'rps'):>13.0f} {median_of(p, 'p50'):>7.2f} {median_of(p, 'p99'):>7.2f} "
              f"{median_of(p, 'p999'):>7.2f} | {median_of(s, 'rps'):>13.0f} {median_of(s, 'p50'):>7.2f} "
              f"{median_of(s, 'p99'):>7.2f} {median_of(s, 'p999'):>7.2f} {median_of(s, 'errors'):>11.0f} | {ratio:>6.2f}")
    print("latencies in ms; statuses of the last service round:")
    for name, runs in results.items():
        print(f"  {name:<22} {json.dumps(runs['service'][-1]['statuses'], sort_keys=True)}")
    print(f"service start-up to ready: {startup:.2f}s; RSS after warm-up: {rss_warm:.0f} MB; "
          f"peak RSS under load: {rss_load:.0f} MB")


if __name__ == "__main__":
    main()
