#!/usr/bin/env python3
"""Start-up to ready: the packaged service started again and again, in turns with the variants it is
compared with, on one PostgreSQL (already migrated, as in a rolling update).

Per start: wall-clock seconds from exec to the first 200 of the readiness URL, and the CPU seconds the
JVM spent until then (utime + stime, all threads, JIT included): on a shared machine the CPU figure is
the one load moves least. Variants, each started --starts times, interleaved:

  - bastion, image (AOT cache): the jar as Dockerfile.jvm runs it (harness.ImageService): the image's
    JDK, its JVM flags under k8s/deployment.yaml's memory limit (harness.container_jvm_options) and the
    ahead-of-time cache the image writes at build time (src/main/docker/aot-cache.sh, run here the
    same way)
  - bastion, image without cache: the same JDK and flags without the cache
  - bastion, plain JVM: java -jar with the default JDK and its defaults
  - reference: bench/reference, the image's JDK and flags (the floor of the stack)
  - baseline: another build of Bastion (--baseline DIR, a quarkus-app directory), the image's JDK and
    flags, e.g. the commit before a change

    nice -n 5 python3 bench/startup/run.py [--starts 5] [--baseline /path/to/target/quarkus-app]
"""
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402


class AppService(harness.Service):
    """The service from another quarkus-app directory (a baseline build)."""

    def __init__(self, app, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app

    def build_when_missing(self):
        pass


def main():
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--starts", type=int, default=5, help="starts per variant (default 5)")
    parser.add_argument("--baseline", default=None, help="a quarkus-app directory of another Bastion build")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="for every measured start, e.g. DB_MIGRATE_AT_START=false (a serving pod in Kubernetes)")
    args = parser.parse_args()
    extra = dict(kv.split("=", 1) for kv in args.env)
    cache_dir = tempfile.mkdtemp(prefix="bastion-aot-")
    variants = {
        "bastion, image (AOT cache)": lambda i: harness.ImageService(pg.port, env=env, name=f"startup-image-{i}"),
        "bastion, image no cache": lambda i: harness.Service(pg.port, env=env, java_options=flags, java=java,
                                                             name=f"startup-nocache-{i}"),
        "bastion, plain JVM": lambda i: harness.Service(pg.port, env=extra, name=f"startup-plain-{i}"),
        "reference": lambda i: harness.ReferenceService(pg.port, env=env, java_options=flags, java=java,
                                                        name=f"startup-reference-{i}"),
    }
    if args.baseline:
        variants["baseline"] = lambda i: AppService(os.path.abspath(args.baseline), pg.port, env=env, java_options=flags,
                                                    java=java, name=f"startup-baseline-{i}")
    results = {name: [] for name in variants}
    with harness.Postgres(name="startup-postgres") as pg:
        with harness.Service(pg.port, name="startup-migrate"):
            pass  # migrates once, so every measured start sees an up-to-date schema
        flags, env, java = harness.ImageService.prepare(cache_dir)
        env = {**env, **extra}
        harness.log(f"load average at the start: {os.getloadavg()[0]:.1f}; image JVM {java}, flags: {' '.join(flags)}")
        for i in range(args.starts):
            for name, make in variants.items():
                with make(i) as service:
                    rss = service.rss_mb()  # right after the first ready answer
                    results[name].append((service.startup_seconds, service.startup_cpu_seconds, rss))
                harness.log(f"start {i + 1}/{args.starts} {name}: {service.startup_seconds:.2f}s, "
                            f"{service.startup_cpu_seconds:.2f}s CPU, {rss:.0f} MB")
    shutil.rmtree(cache_dir, ignore_errors=True)
    print()
    print(f"start-up to ready, median of {args.starts} interleaved starts; {harness.machine_description()}; "
          f"load average at the end {os.getloadavg()[0]:.1f}")
    if extra:
        print(f"with {' '.join(args.env)}")
    print(f"{'variant':<26} {'wall s':>7} {'CPU s':>7} {'RSS MB':>7}")
    for name, runs in results.items():
        print(f"{name:<26} {statistics.median(r[0] for r in runs):>7.2f} {statistics.median(r[1] for r in runs):>7.2f} "
              f"{statistics.median(r[2] for r in runs):>7.0f}")


if __name__ == "__main__":
    harness.run(main)
