#!/usr/bin/env python3
"""Where Bastion's CPU goes per request, before anything is optimised.

Starts PostgreSQL (with pg_stat_statements) and the packaged service, seeds it like bench/throughput,
warms the JIT up, then profiles each path under wrk load in a JFR recording of its own (settings=profile,
started and stopped with jcmd so the warm-up stays out of it):

  - CPU: jdk.ExecutionSample stacks, grouped by what they belong to (the guard and fault tolerance,
    metrics, Hibernate, the pg client, JSON, logging, Vert.x/Netty, ...): "inclusive" is the share of
    samples with a frame of that group anywhere on the stack, "self" the share whose innermost
    non-JDK frame is in it.
  - Allocation: jdk.ObjectAllocationSample weights per request, by group and by allocated class.
  - Threads: CPU seconds per thread group from /proc/PID/task (event loops vs JIT compiler vs GC).
  - Statements: pg_stat_statements calls per request, the database round trips each request costs.

    nice -n 5 python3 bench/profile/run.py                 # ~2 minutes; output in bench/out/profile-*.txt
    nice -n 5 python3 bench/profile/run.py --seconds 10    # shorter recordings
    nice -n 5 python3 bench/profile/run.py --workloads "transfer (hot rows)"
    nice -n 5 python3 bench/profile/run.py --period 1ms    # 10x the samples: small shares become readable
    nice -n 5 python3 bench/profile/run.py --image --workloads "overload 5000 (create)"   # as the image runs
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "throughput"))
import run as throughput  # noqa: E402

STACK_DEPTH = 256  # Mutiny/Vert.x stacks are deep; the default 64 would cut off the frames near the root
PERIOD = "10ms"  # JFR's profile setting; --period 1ms gives ten times the samples of a short recording
JDK_BIN = ""  # where jcmd and jfr come from: the PATH's, or (--image) the image's JDK, which must match the JVM

# first match wins: the more specific prefixes come first
GROUPS = [
    ("dev.bastion.database.monitor", "Bastion monitors (dev.bastion.database.monitor)"),
    ("dev.bastion.database", "Bastion unit of work / guard (dev.bastion.database)"),
    ("dev.bastion.api", "Bastion API (problems, latency histograms)"),
    ("dev.bastion.idempotency", "Bastion idempotency"),
    ("dev.bastion", "Bastion other (customer, health, admin)"),
    ("io.smallrye.faulttolerance", "SmallRye Fault Tolerance"),
    ("io.micrometer", "Micrometer (timers, histograms)"),
    ("io.quarkus.micrometer", "Micrometer (timers, histograms)"),
    ("org.hibernate.validator", "Bean Validation"),
    ("jakarta.validation", "Bean Validation"),
    ("org.hibernate.reactive", "Hibernate Reactive"),
    ("org.hibernate", "Hibernate ORM core (flush, events, persisters)"),
    ("io.quarkus.hibernate", "Hibernate ORM core (flush, events, persisters)"),
    ("io.vertx.pgclient", "Vert.x pg client"),
    ("io.vertx.sqlclient", "Vert.x pg client"),
    ("io.vertx.mutiny.sqlclient", "Vert.x pg client"),
    ("io.vertx.mutiny.pgclient", "Vert.x pg client"),
    ("com.fasterxml.jackson", "Jackson (JSON)"),
    ("io.quarkus.resteasy.reactive.jackson", "Jackson (JSON)"),
    ("org.jboss.logmanager", "Logging"),
    ("org.jboss.logging", "Logging"),
    ("java.util.logging", "Logging"),
    ("org.jboss.resteasy.reactive", "Quarkus REST"),
    ("io.quarkus.resteasy.reactive", "Quarkus REST"),
    ("io.quarkus.vertx.http", "Quarkus HTTP"),
    ("io.smallrye.mutiny", "Mutiny"),
    ("io.smallrye.context", "Context propagation / CDI"),
    ("io.quarkus.arc", "Context propagation / CDI"),
    ("io.vertx.core", "Vert.x core"),
    ("io.netty", "Netty"),
]
JDK_PREFIXES = ("java.", "javax.", "jdk.", "sun.", "com.sun.")


def group_of(frame_class):
    for prefix, group in GROUPS:
        if frame_class.startswith(prefix):
            return group
    if frame_class.startswith(JDK_PREFIXES):
        return "JDK"
    return "other: " + ".".join(frame_class.split(".")[:3])


# ------------------------------------------------------------------------------------------------
# JFR
# ------------------------------------------------------------------------------------------------

FRAME = re.compile(r"^\s+(\S+)\.([^.(\s]+)\(.*\)\s+line:")


def jfr_events(recording, event):
    """Events of one type from `jfr print`: dicts with their scalar fields and 'frames' (innermost first)."""
    text = subprocess.run([os.path.join(JDK_BIN, "jfr"), "print", "--stack-depth", str(STACK_DEPTH), "--events", event, recording],
                          capture_output=True, text=True, check=True).stdout
    events, current, in_stack = [], None, False
    for line in text.splitlines():
        if line.startswith(event + " {"):
            current, in_stack = {"frames": []}, False
        elif current is None:
            continue
        elif line.startswith("}"):
            events.append(current)
            current = None
        elif line.strip().startswith("stackTrace = ["):
            in_stack = True
        elif in_stack and line.strip() == "]":
            in_stack = False
        elif in_stack:
            m = FRAME.match(line)
            if m:
                current["frames"].append((m.group(1), m.group(2)))
        elif " = " in line:
            key, value = line.strip().split(" = ", 1)
            current[key] = value
    return events


def weight_bytes(value):
    """JFR prints weights as '1.2 MB', '345.6 kB', '12 bytes'."""
    number, unit = value.split()[0], value.split()[1] if len(value.split()) > 1 else "bytes"
    scale = {"bytes": 1, "byte": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}.get(unit, 1)
    return float(number.replace(",", "")) * scale


def innermost_own_frame(frames):
    """The innermost frame outside the JDK: JDK work (HashMap.get, String.format) counts for its caller."""
    for cls, method in frames:
        if not cls.startswith(JDK_PREFIXES):
            return cls, method
    return frames[0] if frames else ("?", "?")


def cpu_profile(recording):
    samples = [e for e in jfr_events(recording, "jdk.ExecutionSample") if e["frames"]]
    inclusive, own, methods, classes = (collections.Counter() for _ in range(4))
    for e in samples:
        for group in {group_of(cls) for cls, _ in e["frames"]}:
            inclusive[group] += 1
        cls, method = innermost_own_frame(e["frames"])
        own[group_of(cls)] += 1
        methods[f"{cls}.{method}"] += 1
        classes[cls] += 1
    return len(samples), inclusive, own, methods, classes


def allocation_profile(recording):
    by_group, by_class, by_site, total = collections.Counter(), collections.Counter(), collections.Counter(), 0.0
    for e in jfr_events(recording, "jdk.ObjectAllocationSample"):
        weight = weight_bytes(e.get("weight", "0 bytes"))
        total += weight
        cls, method = innermost_own_frame(e["frames"])
        by_group[group_of(cls)] += weight
        allocated = e.get("objectClass", "?").split(" (")[0]
        by_class[allocated] += weight
        by_site[f"{allocated} <- {cls}.{method}"] += weight
    return total, by_group, by_class, by_site


def allocated_bytes(recording):
    """Bytes all threads allocated during the recording, from jdk.ThreadAllocationStatistics (exact
    per-thread counters, where the throttled allocation samples are only an estimate)."""
    per_thread = collections.defaultdict(list)
    for e in jfr_events(recording, "jdk.ThreadAllocationStatistics"):
        per_thread[e.get("thread", "?")].append(weight_bytes(e.get("allocated", "0 bytes")))
    return sum(max(v) - min(v) for v in per_thread.values())


# ------------------------------------------------------------------------------------------------
# statements
# ------------------------------------------------------------------------------------------------

def statements(pg):
    return pg.rows("SELECT calls, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements "
                   "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bastion') ORDER BY calls DESC LIMIT 12")


# ------------------------------------------------------------------------------------------------

def profile_path(pg, service, workload, seconds, accounts, out):
    name = workload.name.split()[0]
    recording = os.path.join(harness.OUT, f"profile-{name}.jfr")
    pg.psql("SELECT pg_stat_statements_reset()")
    threads_before = service.thread_cpu_seconds()
    subprocess.run([os.path.join(JDK_BIN, "jcmd"), str(service.pid), "JFR.start", f"name={name}", "settings=profile",
                    f"filename={recording}", f"jdk.ExecutionSample#period={PERIOD}"], check=True, stdout=subprocess.DEVNULL)
    result = throughput.run_wrk(service, workload, seconds, accounts)
    subprocess.run([os.path.join(JDK_BIN, "jcmd"), str(service.pid), "JFR.stop", f"name={name}"], check=True, stdout=subprocess.DEVNULL)
    threads_after = service.thread_cpu_seconds()
    requests = result["requests"]
    stmts = statements(pg)

    def line(text=""):
        print(text)
        out.write(text + "\n")

    line(f"== {workload.name}: {requests} requests in {seconds}s ({result['rps']:.0f} req/s, "
         f"non-2xx+errors {result['errors']}), service CPU {result['cpu_us_per_request']:.0f} µs/request "
         f"(under JFR's own overhead)")
    line("-- CPU by thread group (µs per request; from /proc/PID/task)")
    per_thread = {k: threads_after.get(k, 0) - threads_before.get(k, 0) for k in threads_after}
    total_thread = sum(per_thread.values())
    for k, v in sorted(per_thread.items(), key=lambda kv: -kv[1])[:8]:
        if v > 0:
            line(f"   {v * 1e6 / requests:8.1f} µs  {100 * v / total_thread:5.1f}%  {k}")
    count, inclusive, own, methods, classes = cpu_profile(recording)
    line(f"-- CPU samples (jdk.ExecutionSample): {count}; inclusive % = share of samples with the group "
         f"anywhere on the stack, self % = share whose innermost non-JDK frame is in the group")
    for group, n in sorted(inclusive.items(), key=lambda kv: -kv[1]):
        line(f"   incl {100 * n / count:5.1f}%  self {100 * own[group] / count:5.1f}%  {group}")
    line("-- top innermost non-JDK methods (self)")
    for method, n in methods.most_common(25):
        line(f"   {100 * n / count:5.1f}%  {method}")
    line("-- top classes (self)")
    for cls, n in classes.most_common(15):
        line(f"   {100 * n / count:5.1f}%  {cls}")
    total, by_group, by_class, by_site = allocation_profile(recording)
    line(f"-- allocation: {allocated_bytes(recording) / requests / 1024:.1f} KiB per request "
         f"(jdk.ThreadAllocationStatistics); by site from jdk.ObjectAllocationSample (throttled samples, "
         f"{total / requests / 1024:.1f} KiB per request estimated)")
    for group, w in by_group.most_common(12):
        line(f"   {w / requests / 1024:7.2f} KiB  {100 * w / total:5.1f}%  {group}")
    line("-- top allocated classes")
    for cls, w in by_class.most_common(12):
        line(f"   {w / requests / 1024:7.2f} KiB  {100 * w / total:5.1f}%  {cls}")
    line("-- top allocation sites (allocated class <- innermost non-JDK method)")
    for site, w in by_site.most_common(12):
        line(f"   {w / requests / 1024:7.2f} KiB  {100 * w / total:5.1f}%  {site[:170]}")
    line("-- statements per request (pg_stat_statements calls / requests)")
    for calls, query in stmts:
        line(f"   {int(calls) / requests:5.2f}  {query[:150]}")
    line()


def main():
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--seconds", type=int, default=20, help="each recording under load")
    parser.add_argument("--warmup", type=int, default=60, help="JIT warm-up before the first recording: at least this many seconds, at most 3x, until CPU/request settles")
    parser.add_argument("--workloads", default="create,read by id",
                        help="comma-separated bench/throughput workload names, or 'keyed create' / 'credit adjustment' from "
                             "bench/scale, to profile (default: 'create,read by id')")
    parser.add_argument("--env", default="", help="settings for the service, NAME=value,NAME=value")
    parser.add_argument("--image", action="store_true",
                        help="run the JVM as the image does (its JDK, flags under the pod's limit, AOT cache), not the default JDK")
    parser.add_argument("--period", default=PERIOD, help="execution sampling period (default 10ms, as settings=profile)")
    args = parser.parse_args()
    globals()["PERIOD"] = args.period
    names = [name.strip() for name in args.workloads.split(",")]
    harness.ensure_packages({"wrk": "wrk", "jcmd": "openjdk-17-jdk-headless", "jfr": "openjdk-17-jdk-headless"})
    pg = harness.Postgres({"shared_preload_libraries": "'pg_stat_statements'"}, name="profile-postgres")
    # the defaults for the wait (as bench/throughput): a crowd is profiled as production would serve it
    service_env = {"DB_POOL_SIZE": str(throughput.POOL), "DB_MAX_OVERFLOW": "0",
                   **dict(pair.split("=", 1) for pair in args.env.split(",") if pair)}
    java_options = ["-XX:FlightRecorderOptions=stackdepth=%d" % STACK_DEPTH, "-XX:+UnlockDiagnosticVMOptions",
                    "-XX:+DebugNonSafepoints"]
    if args.image:
        # the image's JDK, flags and AOT cache (a crowd's profile depends on the heap's layout and the collector)
        globals()["JDK_BIN"] = os.path.dirname(harness.image_java())
        _, image_env, _ = harness.ImageService.prepare(tempfile.mkdtemp(prefix="bastion-profile-aot-"))
        service = harness.ImageService(pg.port, env={**service_env, **image_env}, name="profile-bastion",
                                       java_options=java_options)
    else:
        service = harness.Service(pg.port, env=service_env, name="profile-bastion", java_options=java_options)
    with pg, service:
        pg.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        accounts = throughput.seed(pg)
        workloads = {w.name: w for w in throughput.WORKLOADS + throughput.EXTRA_WORKLOADS}
        throughput.warm_up_named(service, names, args.warmup, 3 * args.warmup, accounts, pg=pg)
        with open(harness.out_path("profile.txt"), "w") as out:
            out.write(f"{harness.machine_description()}; load average {os.getloadavg()[0]:.1f}; "
                      f"warm-up {args.warmup}s; recordings {args.seconds}s each\n")
            for name in names:
                if workloads[name].lua == "update.lua":
                    throughput.reset_versions(pg, accounts)
                profile_path(pg, service, workloads[name], args.seconds, accounts, out)


if __name__ == "__main__":
    harness.run(main)
