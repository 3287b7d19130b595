#!/usr/bin/env python3
"""Where a crowd's CPU goes by thread, for heap layouts: is the collector (the VM thread, with Serial GC)
taking the cores from the event loops?

Starts PostgreSQL and the packaged service with the JVM image's flags (src/main/docker/Dockerfile.jvm
under the pod's memory limit, as bench/throughput runs it, without the AOT cache), once per layout, each
layout's flags appended to the image's (the last of a repeated flag wins). Under each workload it runs
wrk in 10 s chunks and prints, per chunk, the CPU per request served and its split by thread group
(/proc/PID/task): event loops, VM thread (the collections), C2. The last chunks are the warm ones; the
peak RSS (VmHWM) closes each workload.

    nice -n 5 python3 bench/heap/run.py                                   # the image's layout, ~8 minutes
    nice -n 5 python3 bench/heap/run.py --layout "jvm-defaults=-XX:MaxRAMPercentage=27 -XX:InitialRAMPercentage=1.5625 -XX:NewRatio=2 -XX:SurvivorRatio=8"
    nice -n 5 python3 bench/heap/run.py --workloads "overload 5000 (read)" --chunks 4

docs/benchmarks.md, "The heap under a crowd", has the layouts compared on 2026-12-06.
"""
import contextlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "throughput"))
import run as throughput  # noqa: E402

DEFAULT_WORKLOADS = "read by id,overload 1000 (read),overload 5000 (read)"


def measure(pg, accounts, label, flags, env, workloads, chunks):
    for workload in workloads:
        service = harness.Service(pg.port, env={"DB_POOL_SIZE": str(throughput.POOL), "DB_MAX_OVERFLOW": "0", **env},
                                  name="heap-bastion", java_options=flags, java=harness.image_java())
        with service:
            for chunk in range(chunks):
                before = service.thread_cpu_seconds()
                result = throughput.run_wrk(service, workload, 10, accounts)
                after = service.thread_cpu_seconds()
                served = max(1, result["goodput"] * 10)  # a chunk that served nothing still prints its CPU
                split = sorted(((k, after[k] - before.get(k, 0)) for k in after), key=lambda kv: -kv[1])[:3]
                print(f"{label:<14} {workload.name:<22} chunk {chunk}: {result['cpu_us_per_request']:6.1f} µs/req "
                      f"{result['goodput']:7.0f} 2xx/s p99 {result['p99']:7.1f} ms {result['statuses']} | "
                      + ", ".join(f"{name[:16]} {seconds / served * 1e6:.1f}" for name, seconds in split), flush=True)
            print(f"{label:<14} {workload.name:<22} peak RSS {service.peak_rss_mb():.0f} MB", flush=True)


def main():
    parser = harness.argument_parser(__doc__, "one short chunk per workload: a smoke run")
    parser.add_argument("--layout", action="append", default=[],
                        help="label=JVM flags appended to the image's (repeatable; default: the image's own layout)")
    parser.add_argument("--workloads", default=DEFAULT_WORKLOADS, help=f"bench/throughput workloads (default: {DEFAULT_WORKLOADS})")
    parser.add_argument("--chunks", type=int, default=None, help="10 s chunks per workload (default 7, quick 1)")
    args = parser.parse_args()
    chunks = args.chunks or (1 if args.quick else 7)
    names = [name.strip() for name in args.workloads.split(",")]
    workloads = [w for w in throughput.WORKLOADS if w.name in names]
    layouts = [tuple(layout.split("=", 1)) for layout in args.layout] or [("image", "")]
    harness.ensure_packages({"wrk": "wrk", "/usr/lib/postgresql/*/bin/pgbench": "postgresql"})
    harness.log(f"load average at the start: {os.getloadavg()[0]:.1f}")
    with contextlib.ExitStack() as running:
        pg, accounts = throughput.seeded_postgres(running, "heap")
        image_flags, env = harness.container_jvm_options()
        for label, flags in layouts:
            measure(pg, accounts, label, [*image_flags, *flags.split()], env, workloads, chunks)
    harness.log(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    harness.run(main)
