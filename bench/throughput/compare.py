#!/usr/bin/env python3
"""Two builds of the service side by side: the packaged one (target/quarkus-app) against --base, a
quarkus-app directory of another build (say main's, built in a git worktree), both running at once on one
PostgreSQL with the JVM image's flags under the pod's memory limit. Each workload is warmed up on both,
then measured in 10 s chunks, the two builds interleaved and their order swapped every round: a shared
machine's drift falls on both. Prints every chunk, then per workload the medians: service CPU µs per
request, 2xx per second and p99 (wrk's, of every answer; and of the 2xx alone from the service's own
histogram, a bucket's upper bound), and the ratio of the CPU figures (new / base).

    git worktree add /tmp/base main && (cd /tmp/base && ./mvnw -q package -DskipTests)
    nice -n 5 python3 bench/throughput/compare.py --base /tmp/base/target/quarkus-app --rounds 8
    nice -n 5 python3 bench/throughput/compare.py --base /tmp/base/target/quarkus-app \\
        --workloads "overload 1000 (read),overload 5000 (read),overload 5000 (create)"
    # one build against itself with a setting changed (or both builds under one: --env)
    nice -n 5 python3 bench/throughput/compare.py --base target/quarkus-app --new-env DB_POOL_TIMEOUT=0.02 \\
        --workloads "read by id,overload 1000 (read),overload 5000 (read)"

Workload names are bench/throughput's.
"""
import contextlib
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as throughput  # noqa: E402


def main():
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--base", required=True, help="quarkus-app directory of the build to compare with")
    parser.add_argument("--workloads", default="read by id,create", help="bench/throughput workloads, or 'keyed create' / 'credit adjustment' / 'keyset page' / 'lookup by email' (default: read by id,create)")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds (default 6)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up seconds per workload and build (default 20)")
    parser.add_argument("--env", default="", help="settings for both builds, NAME=value,NAME=value")
    parser.add_argument("--new-env", default="", help="settings for the new build only, NAME=value,NAME=value: one "
                        "build against itself with a setting changed (--base target/quarkus-app)")
    args = parser.parse_args()
    names = [name.strip() for name in args.workloads.split(",")]
    workloads = [w for w in throughput.WORKLOADS + throughput.EXTRA_WORKLOADS if w.name in names]
    harness.ensure_packages({"wrk": "wrk", "/usr/lib/postgresql/*/bin/pgbench": "postgresql"})
    harness.log(f"load average at the start: {os.getloadavg()[0]:.1f}; {harness.machine_description()}")
    with contextlib.ExitStack() as running:
        pg, accounts = throughput.seeded_postgres(running, "compare")
        flags, env = harness.container_jvm_options()
        builds = {}
        both_env, new_env = (dict(pair.split("=", 1) for pair in text.split(",") if pair) for text in (args.env, args.new_env))
        for label, app in (("base", os.path.abspath(args.base)), ("new", harness.APP)):
            build = type(f"{label.title()}Build", (harness.Service,), {"app": app})
            settings = {"DB_POOL_SIZE": str(throughput.POOL), "DB_MAX_OVERFLOW": "0", **env, **both_env,
                        **(new_env if label == "new" else {})}
            builds[label] = running.enter_context(build(pg.port, env=settings,
                                                        name=f"compare-{label}", java=harness.image_java(), java_options=flags))
        for workload in workloads:
            for service in builds.values():
                throughput.run_wrk(service, workload, args.warmup, accounts)
        results = {}
        for r in range(args.rounds):
            order = list(builds.items()) if r % 2 == 0 else list(reversed(builds.items()))
            for workload in workloads:
                for label, service in order:
                    result = throughput.run_wrk(service, workload, 10, accounts)
                    results.setdefault((workload.name, label), []).append(result)
                    print(f"round {r + 1} {workload.name:<24} {label:<4} {result['cpu_us_per_request']:6.1f} µs/req "
                          f"{result['goodput']:8.0f} 2xx/s p99 {result['p99']:7.1f} ms (served {served(result)}) {result['statuses']}",
                          flush=True)
    rows = []
    for workload in workloads:
        base, new = results[(workload.name, "base")], results[(workload.name, "new")]
        med = lambda runs, key: statistics.median(run[key] for run in runs)  # noqa: E731
        rows.append([workload.name, f"{med(base, 'cpu_us_per_request'):.1f}", f"{med(new, 'cpu_us_per_request'):.1f}",
                  f"{med(new, 'cpu_us_per_request') / med(base, 'cpu_us_per_request'):.3f}",
                  f"{med(base, 'goodput'):,.0f}", f"{med(new, 'goodput'):,.0f}", f"{med(base, 'p99'):.0f}", f"{med(new, 'p99'):.0f}",
                  served_median(base), served_median(new)])
    harness.print_table(["workload", "base µs/req", "new µs/req", "new / base", "base 2xx/s", "new 2xx/s",
                         "base p99 ms", "new p99 ms", "base served p99", "new served p99"], rows)
    harness.log(f"load average at the end: {os.getloadavg()[0]:.1f}")


def served(result):
    """The p99 of the 2xx answers alone, from the service's own histogram (a bucket's upper bound)."""
    return "-" if result.get("served_p99") is None else f"{result['served_p99']:.1f} ms"


def served_median(runs):
    figures = [run["served_p99"] for run in runs if run.get("served_p99") is not None]
    return f"{statistics.median(figures):.1f}" if figures else "-"


if __name__ == "__main__":
    harness.run(main)
