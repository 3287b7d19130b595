#!/usr/bin/env python3
"""Where a crowd's capacity goes: Bastion and the reference app side by side on one PostgreSQL (both with
the JVM image's flags under the pod's memory limit), reads by id at 20 callers and in crowds of 1,000 and
5,000, interleaved. Per request served it prints the CPU of each process on the machine (the service,
PostgreSQL's backends, wrk) and the machine's kernel network work (softirq) and idle time, all in µs of
the 2 cores' time, from /proc; and the event loops' context switches per request. Per request is per
answer (2xx or not; each line prints the errors). The softirq column overlaps the processes' (network work
done in a process's context is also in its system time on kernels without IRQ time accounting); "machine"
counts every tick once.

The last table answers one question: what share of its 20-caller rate could a crowd get on this machine if
the service's own CPU per request did not grow at all under it (only wrk's, PostgreSQL's, the kernel's and
the idle time did)? That is this harness's ceiling for any service on this stack, an upper bound (part of
the service's growth is the kernel's network work for its connections).

    nice -n 5 python3 bench/throughput/crowd_cpu.py [--rounds 2]
"""
import contextlib
import os
import resource
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as throughput  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
WORKLOADS = ("read by id", "overload 1000 (read)", "overload 5000 (read)")


def stat_fields(path):
    with open(path) as f:
        return f.read().rsplit(")", 1)[1].split()  # the command name may hold spaces


def process_seconds(pid):
    fields = stat_fields(f"/proc/{pid}/stat")
    return (int(fields[11]) + int(fields[12])) / TICK


def postgres_seconds():
    """CPU of every process named postgres (the backends of both pools, the server's own)."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as comm:
                if comm.read().strip() == "postgres":
                    total += process_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def loop_switches(pid):
    """Context switches of the service's event-loop threads so far (each one a sleep, or a preemption)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as comm:
                if not comm.read().startswith("vert.x-eventloo"):
                    continue
            with open(f"/proc/{pid}/task/{tid}/status") as status:
                total += sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)
        except FileNotFoundError:
            continue
    return total


def machine_seconds():
    """The machine's CPU time by kind (/proc/stat's first line)."""
    with open("/proc/stat") as f:
        v = [int(x) / TICK for x in f.readline().split()[1:]]
    return {"softirq": v[5] + v[6], "idle": v[3] + v[4], "all": sum(v[:8])}


def measure(service, workload, accounts):
    before = (process_seconds(service.pid), postgres_seconds(), machine_seconds(), loop_switches(service.pid),
              resource.getrusage(resource.RUSAGE_CHILDREN))
    result = throughput.run_wrk(service, workload, 10, accounts)
    after = (process_seconds(service.pid), postgres_seconds(), machine_seconds(), loop_switches(service.pid),
             resource.getrusage(resource.RUSAGE_CHILDREN))
    n = result["requests"]
    per = lambda seconds: seconds * 1e6 / n  # noqa: E731  µs per request
    wrk = (after[4].ru_utime - before[4].ru_utime) + (after[4].ru_stime - before[4].ru_stime)  # wrk: the only child that ended
    return {"served": result["goodput"], "service": per(after[0] - before[0]), "postgres": per(after[1] - before[1]),
            "wrk": per(wrk), "softirq": per(after[2]["softirq"] - before[2]["softirq"]),
            "idle": per(after[2]["idle"] - before[2]["idle"]), "machine": per(after[2]["all"] - before[2]["all"]),
            "switches": (after[3] - before[3]) / n, "errors": result["errors"]}


def main():
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default 2)")
    args = parser.parse_args()
    workloads = [w for w in throughput.WORKLOADS if w.name in WORKLOADS]
    harness.ensure_packages({"wrk": "wrk", "/usr/lib/postgresql/*/bin/pgbench": "postgresql"})
    harness.log(f"load average at the start: {os.getloadavg()[0]:.1f}; {harness.machine_description()}")
    with contextlib.ExitStack() as running:
        pg, accounts = throughput.seeded_postgres(running, "crowd-cpu")
        flags, env = harness.container_jvm_options()
        pool = {"DB_POOL_SIZE": str(throughput.POOL), **env}
        services = {
            "bastion": running.enter_context(harness.Service(pg.port, env={**pool, "DB_MAX_OVERFLOW": "0"}, name="crowd-bastion",
                                                             java=harness.image_java(), java_options=flags)),
            "reference": running.enter_context(harness.ReferenceService(pg.port, env=pool, name="crowd-reference",
                                                                        java=harness.image_java(), java_options=flags)),
        }
        for workload in workloads:
            for service in services.values():
                throughput.run_wrk(service, workload, 30, accounts)  # warm-up
        results = {}
        for r in range(args.rounds):
            order = list(services.items()) if r % 2 == 0 else list(reversed(services.items()))
            for workload in workloads:
                for label, service in order:
                    m = measure(service, workload, accounts)
                    results.setdefault((label, workload.name), []).append(m)
                    print(f"round {r + 1} {workload.name:<22} {label:<9} {m['served']:7.0f}/s service {m['service']:5.1f} "
                          f"postgres {m['postgres']:5.1f} wrk {m['wrk']:5.1f} softirq {m['softirq']:5.1f} idle {m['idle']:5.1f} "
                          f"machine {m['machine']:6.1f} µs/req, loop switches {m['switches']:.2f}/req, errors {m['errors']}", flush=True)
    med = lambda label, name, key: statistics.median(m[key] for m in results[(label, name)])  # noqa: E731
    rows, ceilings = [], []
    for label in services:
        base_machine, base_served, base_service = (med(label, "read by id", k) for k in ("machine", "served", "service"))
        for workload in workloads:
            name = workload.name
            rows.append([label, name, f"{med(label, name, 'served'):,.0f}", f"{med(label, name, 'served') / base_served:.0%}"]
                        + [f"{med(label, name, key):.1f}" for key in ("service", "postgres", "wrk", "softirq", "idle", "machine")]
                        + [f"{med(label, name, 'switches'):.2f}"])
            if name != "read by id":
                # the machine's time per request had the service's own not grown since 20 callers
                others = med(label, name, "machine") - (med(label, name, "service") - base_service)
                ceilings.append([label, name, f"{med(label, name, 'service') - base_service:+.1f}",
                                 f"{others - base_machine:+.1f}", f"{base_machine / others:.0%}"])
    harness.print_table(["app", "workload", "served/s", "share of 20", "service", "postgres", "wrk", "softirq", "idle",
                         "machine", "loop switches"], rows)
    print("µs of the machine's 2 cores per request served; share of 20: of the same app's 20-caller rate")
    harness.print_table(["app", "workload", "service's own growth µs", "everything else's growth µs",
                         "share if the service's own cost did not grow"], ceilings)
    harness.log(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
