#!/usr/bin/env python3
"""What a refusal costs beside what a served read costs, in the service's CPU per request.

Starts PostgreSQL and the packaged service as the container image runs it (bench/throughput's seeding
and wrk scripts), then, interleaved for --rounds rounds:

  - served: reads by id from 20 connections, every answer a 200: CPU µs per served read;
  - refused: the customer table locked by another session (ACCESS EXCLUSIVE, as a long migration would),
    a crowd of 200 connections reading: the pool's few attempts wait, the admission learns how long
    waiting takes and refuses the rest on arrival (OverloadShedding: a pre-rendered 503, no body read,
    no unit of work). CPU µs per answer, with the share of the answers refused on arrival (from
    bastion_db_admission_refusals_total).

    nice -n 5 python3 bench/throughput/refusals.py [--quick] [--rounds N] [--seconds N]

Python 3.11 standard library only; logs go to bench/out/.
"""
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
import httpload  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as throughput  # noqa: E402

POOL = 4
SERVED = throughput.Workload("served reads", "read.sql", "read.lua", 2, 20, reference=False)
CROWD = throughput.Workload("refused crowd", "read.sql", "read.lua", 2, 200, reference=False)


def refused_run(service, pg, seconds, accounts):
    """The crowd against a locked table: (wrk result, answers refused on arrival)."""
    lock = pg.session()
    lock.send("BEGIN; LOCK TABLE customer IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n")
    try:
        time.sleep(0.5)
        throughput.run_wrk(service, CROWD, 3, accounts)  # the admission learns how long waiting takes
        before = metric(service)
        result = throughput.run_wrk(service, CROWD, seconds, accounts)
        refused = metric(service) - before
    finally:
        lock.send("ROLLBACK;\n")
        lock.finish()
    return result, refused


def metric(service):
    """bastion_db_admission_refusals_total: an unlabelled counter."""
    reply = httpload.call(service.management_port, "GET", "/q/metrics", timeout=10)
    for line in reply.text.splitlines():
        if line.startswith("bastion_db_admission_refusals_total "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def main():
    parser = harness.argument_parser(__doc__, "one short round")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3, quick 1)")
    parser.add_argument("--seconds", type=int, default=None, help="each measured run (default 10, quick 3)")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (3 if args.quick else 10)
    harness.ensure_packages({"wrk": "wrk"})
    with contextlib.ExitStack() as running:
        pg = running.enter_context(harness.Postgres(name="refusals-postgres"))
        jvm_flags, jvm_env, java = harness.ImageService.prepare(running.enter_context(tempfile.TemporaryDirectory(prefix="bastion-aot-")))
        service = running.enter_context(harness.ImageService(pg.port, env={
            "DB_POOL_SIZE": str(POOL), "DB_MAX_OVERFLOW": "0", "DB_POOL_TIMEOUT": "1", "DB_REQUEST_TIMEOUT": "2",
            **jvm_env}, name="refusals-bastion"))
        accounts = throughput.seed(pg)
        throughput.warm_up_named(service, ["read by id"], 20 if not args.quick else 4, 60 if not args.quick else 8, accounts,
                                 chunk=5 if not args.quick else 2)
        served, refused = [], []
        for round_no in range(1, rounds + 1):
            harness.log(f"round {round_no}/{rounds}")
            served.append(throughput.run_wrk(service, SERVED, seconds, accounts))
            result, on_arrival = refused_run(service, pg, seconds, accounts)
            result["refused_on_arrival"] = on_arrival
            refused.append(result)
            time.sleep(2)  # the admission sees the database answer again
        median = statistics.median
        served_cpu = median(r["cpu_us_per_request"] for r in served)
        refused_cpu = median(r["cpu_us_per_request"] for r in refused)
        share = median(r["refused_on_arrival"] / r["requests"] if r["requests"] else 0 for r in refused)
        print()
        print(f"{harness.machine_description()}; load average {os.getloadavg()[0]:.1f}; median of {rounds} round(s) x {seconds}s")
        print(f"served read (20 conn.):        {median(r['rps'] for r in served):8.0f} req/s  {served_cpu:6.0f} µs CPU per request")
        print(f"refused crowd (200 conn.):     {median(r['rps'] for r in refused):8.0f} req/s  {refused_cpu:6.0f} µs CPU per answer, "
              f"{100 * share:.0f} % refused on arrival, statuses {refused[-1]['statuses']}")
        print(f"a refusal costs {refused_cpu / served_cpu:.2f}x a served read")


if __name__ == "__main__":
    sys.exit(main())
