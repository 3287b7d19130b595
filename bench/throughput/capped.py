#!/usr/bin/env python3
"""A crowd of readers against a queue capped below the crowd (DB_POOL_WAIT_QUEUE), build against build.

bench/throughput's crowds run with the default cap (10,000 waiters), larger than any crowd it sends,
so no request is refused by count there. An operator may set a small cap; then every caller beyond
it is refused, and a crowd that retries at once (wrk does not back off) sends each refused request
again the moment its 503 arrives. This run shows what is served then: per build (the current one,
and --base, a quarkus-app directory of another build, say main's), the 20-caller rate, then each
crowd with its cap, interleaved build by build in every round. CPU per request from /proc/PID/stat.

    nice -n 5 python3 bench/throughput/capped.py                                   # ~4 min
    nice -n 5 python3 bench/throughput/capped.py --base /tmp/main-build/quarkus-app # ~8 min, interleaved
"""
import contextlib
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as throughput  # noqa: E402

CROWDS = [(1000, 200), (5000, 2000)]  # (callers, DB_POOL_WAIT_QUEUE)


def crowd(callers):
    return throughput.Workload(f"{callers} readers", "read.sql", "read.lua", 4, callers, reference=False, ceiling=False)


def main():
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--base", help="quarkus-app directory of the build to compare with (interleaved)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    harness.ensure_packages({"wrk": "wrk"})
    builds = {"this build": harness.Service}
    if args.base:
        class Base(harness.Service):
            app = os.path.abspath(args.base)
        builds = {"base": Base, **builds}
    read = next(w for w in throughput.WORKLOADS if w.name == "read by id")
    results = {}
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(harness.Postgres(name="capped-postgres"))
        services = {}
        for name, cls in builds.items():
            for callers, cap in CROWDS:
                env = {"DB_POOL_SIZE": str(throughput.POOL), "DB_MAX_OVERFLOW": "0", "DB_POOL_WAIT_QUEUE": str(cap)}
                services[(name, callers, cap)] = stack.enter_context(cls(pg.port, env=env, name=f"capped-{len(services)}"))
        accounts = throughput.seed(pg)  # after the first start: its migrations create the schema
        for service in services.values():
            throughput.warm_up_named(service, ["read by id"], 30, 90, accounts)
        for r in range(args.rounds):
            for key, service in (services.items() if r % 2 == 0 else reversed(list(services.items()))):
                name, callers, cap = key
                base = throughput.run_wrk(service, read, args.seconds, accounts)
                stormed = throughput.run_wrk(service, crowd(callers), args.seconds, accounts)
                results.setdefault(key, []).append((base, stormed))
                harness.log(f"round {r + 1} {name}, {callers} callers, cap {cap}: 20 callers {base['goodput']:.0f}/s, "
                            f"crowd {stormed['goodput']:.0f}/s served of {stormed['rps']:.0f}/s, p99 {stormed['p99']:.0f} ms, "
                            f"{stormed['cpu_us_per_request']:.0f} µs/request")
    print(f"\n{harness.machine_description()}; {args.rounds} rounds x {args.seconds} s, medians\n")
    print("| Build | Callers | DB_POOL_WAIT_QUEUE | 20-caller reads/s | Crowd: served/s (share) | Answers/s | 503s | "
          "p99, all answers | CPU µs/answer |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (name, callers, cap), runs in results.items():
        base = statistics.median(b["goodput"] for b, _ in runs)
        served = statistics.median(s["goodput"] for _, s in runs)
        answers = statistics.median(s["rps"] for _, s in runs)
        refused = statistics.median(s["errors"] / max(1, s["requests"]) for _, s in runs)
        p99 = statistics.median(s["p99"] for _, s in runs)
        cpu = statistics.median(s["cpu_us_per_request"] for _, s in runs)
        print(f"| {name} | {callers:,} | {cap:,} | {base:,.0f} | {served:,.0f} ({100 * served / base:.0f} %) | {answers:,.0f} | "
              f"{100 * refused:.0f} % | {p99:,.0f} ms | {cpu:.0f} |")


if __name__ == "__main__":
    harness.run(main)
