"""Shared pieces of the benchmarks: PostgreSQL clusters of their own, second psql clients, the
packaged service and its readiness, client threads, process figures, the command line and tables.

Everything runs on loopback. PostgreSQL comes from Debian's packages and runs as user postgres (a
primary, and when a benchmark needs a failover, a synchronous streaming standby of it); the service
is the JVM jar built by ./mvnw package, copied aside so a rebuild cannot pull it away from under a
running benchmark. HTTP itself (requests, keep-alive clients, percentiles) is in httpload.py.
"""
import argparse
import collections
import functools
import glob
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

import httpload

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
# the packaged service: target/quarkus-app, or BASTION_APP_DIR (a quarkus-app directory built elsewhere, say by
# another checkout's build), which is then never built here
APP_OVERRIDE = os.environ.get("BASTION_APP_DIR")
APP = os.path.abspath(APP_OVERRIDE) if APP_OVERRIDE else os.path.join(ROOT, "target", "quarkus-app")
DOCKERFILE_JVM = os.path.join(ROOT, "src", "main", "docker", "Dockerfile.jvm")
REFERENCE = os.path.join(ROOT, "bench", "reference")
MAVEN_LOCK = "/tmp/bastion-maven.lock"  # one Maven build at a time on these shared machines
PSQL = "/usr/bin/psql"


def log(message):
    print(f"[bench] {message}", flush=True)


def out_path(name):
    """A file in bench/out/ (git-ignored), the folder made when missing."""
    os.makedirs(OUT, exist_ok=True)
    return os.path.join(OUT, name)


def wait_until(probe, timeout, interval=0.1):
    """probe()'s first truthy value within timeout seconds (probed at least once), else None."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() >= deadline:
            return value or None
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_packages(commands_to_packages):
    """apt-get installs the packages of missing commands (we run as root on these machines)."""
    missing = sorted({pkg for cmd, pkg in commands_to_packages.items() if not _exists(cmd)})
    if missing:
        log(f"installing {' '.join(missing)} from Debian's packages")
        subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def ensure_postgres():
    ensure_packages({"/usr/lib/postgresql/*/bin/postgres": "postgresql", "psql": "postgresql-client"})


def _exists(cmd):
    return bool(glob.glob(cmd)) if cmd.startswith("/") else shutil.which(cmd) is not None


def postgres_bin(tool):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if not found:
        raise RuntimeError(f"{tool} not found under /usr/lib/postgresql")
    return found[-1]


# ------------------------------------------------------------------------------------------------
# Threads of the benches' clients
# ------------------------------------------------------------------------------------------------

def start_all(threads):
    for thread in threads:
        thread.start()
    return threads


def join_all(threads, timeout):
    """Waits for each thread for up to timeout seconds (daemon threads left over die with the bench)."""
    for thread in threads:
        thread.join(timeout)
    return threads


class Workers:
    """A group of daemon threads, each running target(rng) with its own random sequence until stop()."""

    def __init__(self, name):
        self.name = name
        self.stopping = threading.Event()  # what target checks between two requests
        self.threads = []

    def start(self, target, count):
        self.stopping.clear()
        self.threads = start_all([threading.Thread(target=target, args=(random.Random(),), daemon=True,
                                                   name=f"{self.name}-{i}") for i in range(count)])

    def stop(self, timeout):
        """Lets each thread finish what it is doing (up to timeout seconds each)."""
        self.stopping.set()
        join_all(self.threads, timeout)
        self.threads = []


# ------------------------------------------------------------------------------------------------
# PostgreSQL
# ------------------------------------------------------------------------------------------------

class _Process:
    """Something a bench starts and must stop: `with X(...) as x` starts it and stops it at the end,
    and stops it again when it failed half-way through starting (a JVM not ready, a cluster up
    without its database)."""

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()


class Postgres(_Process):
    """A throwaway PostgreSQL cluster from Debian's binaries, as user postgres, on a free port.

    Its server log is copied to bench/out/<name>.log and pg_ctl's output goes to
    bench/out/<name>-pg_ctl.log, so a failed run can be read afterwards.
    """

    def __init__(self, settings=None, name="postgres"):
        ensure_postgres()
        self.name = name
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"bastion-bench-{name}-")
        self.data = os.path.join(self.dir, "data")
        self.server_log = os.path.join(self.dir, "server.log")
        self.settings = {"max_connections": "300", "shared_buffers": "256MB", "listen_addresses": "'127.0.0.1'",
                         "deadlock_timeout": "100ms", **(settings or {})}
        os.makedirs(OUT, exist_ok=True)
        self.ctl_log = open(os.path.join(OUT, f"{name}-pg_ctl.log"), "w")
        self.running = False

    def start(self):
        """initdb (trust auth for local and 127.0.0.1, replication included), start, CREATE DATABASE bastion."""
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._write_local_settings()
        self._launch()
        self.psql("CREATE DATABASE bastion", database="postgres")
        return self

    def _write_local_settings(self):
        # appended last, so they win over anything copied from another cluster (a standby's port)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            for key, value in {**self.settings, "port": str(self.port),
                               "unix_socket_directories": f"'{self.dir}'"}.items():
                conf.write(f"{key} = {value}\n")

    def _launch(self):
        self.pg_ctl("start", "-l", self.server_log)
        self.running = True

    def pg_ctl(self, *args):
        self._as_postgres("pg_ctl", "-D", self.data, "-w", "-t", "60", *args)

    def restart(self, mode="fast"):
        self.pg_ctl("restart", "-m", mode, "-l", self.server_log)

    def kill(self):
        """A crash: `pg_ctl stop -m immediate` (no checkpoint, backends dropped at once)."""
        self.pg_ctl("stop", "-m", "immediate")
        self.running = False

    def shut_down(self):
        """Stops the server (fast, immediate when fast fails); the data directory stays."""
        if self.running:
            try:
                self.pg_ctl("stop", "-m", "fast")
            except subprocess.SubprocessError:
                self.pg_ctl("stop", "-m", "immediate")
            self.running = False

    def stop(self):
        """Stops the server and removes the cluster, keeping its server log in bench/out/."""
        try:
            self.shut_down()
        except subprocess.SubprocessError as e:
            log(f"{self.name}: stopping failed: {e}")
        if os.path.exists(self.server_log):
            shutil.copy(self.server_log, os.path.join(OUT, f"{self.name}.log"))
        shutil.rmtree(self.dir, ignore_errors=True)
        self.ctl_log.close()

    def psql_command(self, database="bastion", on_error_stop=True):
        return [PSQL, "-X", "-q", "-A", "-t", "-F", "\t", "-h", "127.0.0.1", "-p", str(self.port),
                "-U", "postgres", "-d", database, "-v", f"ON_ERROR_STOP={1 if on_error_stop else 0}"]

    def psql(self, sql, database="bastion", timeout=120):
        """Runs SQL directly against this cluster; returns psql's unaligned output, stripped."""
        result = subprocess.run(self.psql_command(database), input=sql, capture_output=True, text=True,
                                timeout=timeout, env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
        if result.returncode != 0:
            raise RuntimeError(f"psql on {self.name} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def rows(self, sql, database="bastion", timeout=120):
        """Like psql(), split into rows of tab-separated fields."""
        return [line.split("\t") for line in self.psql(sql, database, timeout).splitlines() if line]

    def session(self, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, on_error_stop=True):
        """A second client of the database beside the service: a psql process fed SQL on stdin."""
        return PsqlSession(self.psql_command(on_error_stop=on_error_stop), stdout, stderr)

    def add_password_role(self, role, password, database="bastion"):
        """A LOGIN role that is not a superuser (so a CONNECTION LIMIT applies to it), owner of `database`,
        whose password PostgreSQL checks with scram-sha-256 over TCP: its rules go before the trust rules
        of pg_hba.conf (a base backup of this cluster, a standby, carries them along)."""
        self.psql(f"SET password_encryption = 'scram-sha-256';\n"
                  f"CREATE ROLE {role} LOGIN PASSWORD '{password}';\n"
                  f"ALTER DATABASE {database} OWNER TO {role};", database="postgres")
        hba = self.psql("SHOW hba_file")
        with open(hba) as f:
            rules = f.read()
        ours = f"host all {role} 127.0.0.1/32 scram-sha-256\nhost all {role} ::1/128 scram-sha-256\n"
        with open(hba, "w") as f:  # rewritten in place: owner and mode stay postgres's
            f.write(ours + rules)
        self.psql("SELECT pg_reload_conf()")

    def refuse_logins(self, role, refuse=True):
        """pg_hba.conf of this node rejects (or, refuse=False, accepts again) `role`'s logins over TCP: one node
        refusing the service while the others accept it."""
        hba = self.psql("SHOW hba_file")
        with open(hba) as f:
            rules = f.read()
        ours = f"host all {role} 127.0.0.1/32 reject\nhost all {role} ::1/128 reject\n"
        rules = rules.replace(ours, "")
        with open(hba, "w") as f:  # rewritten in place: owner and mode stay postgres's
            f.write((ours if refuse else "") + rules)
        self.psql("SELECT pg_reload_conf()")

    def logs_in(self, role, password, database="bastion"):
        """Whether `role` logs in over TCP with `password` (a wrong one must be refused under scram-sha-256)."""
        result = subprocess.run([PSQL, "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", str(self.port), "-U", role,
                                 "-d", database, "-w", "-c", "SELECT current_user"], capture_output=True, text=True,
                                timeout=30, env={**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5"})
        return result.returncode == 0 and result.stdout.strip() == role

    def deadlocks(self):
        """Deadlocks PostgreSQL has detected in the database bastion so far (pg_stat_database)."""
        return int(self.psql("SELECT deadlocks FROM pg_stat_database WHERE datname = 'bastion'"))

    # --- streaming replication --------------------------------------------------------------------

    def create_standby(self, name):
        """A synchronous streaming standby of this cluster, started on its own port.

        Once it streams, this cluster's synchronous_standby_names names it, so every commit this
        cluster acknowledges is also on the standby: a failover to it loses no acknowledged write.
        """
        standby = Postgres(self.settings, name=name)
        shutil.chown(standby.dir, "postgres", "postgres")
        standby._as_postgres("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                             "-D", standby.data, "-R", "-X", "stream", "-c", "fast",
                             "-d", f"application_name={name}")
        # a base backup taken after synchronous_standby_names was set would carry it along
        standby.drop_auto_setting("synchronous_standby_names")
        standby._write_local_settings()
        standby._launch()
        self._wait_for_standby(name, "streaming", "state")
        self.psql(f"ALTER SYSTEM SET synchronous_standby_names = '\"{name}\"'")
        self.psql("SELECT pg_reload_conf()")
        self._wait_for_standby(name, "sync", "sync_state")
        return standby

    def _wait_for_standby(self, name, wanted, column, timeout=30):
        query = f"SELECT {column} FROM pg_stat_replication WHERE application_name = '{name}'"
        if not wait_until(lambda: self.psql(query) == wanted, timeout):
            raise RuntimeError(f"standby {name} did not reach {column}={wanted} within {timeout}s")

    def in_recovery(self):
        return self.psql("SELECT pg_is_in_recovery()") == "t"

    def promote(self):
        """Makes this standby a primary that commits on its own.

        An inherited synchronous_standby_names would make every COMMIT on the new primary wait for
        a standby that does not exist: it goes first, then `pg_ctl promote` (which waits).
        """
        if self.drop_auto_setting("synchronous_standby_names"):
            self.pg_ctl("reload")
        self.pg_ctl("promote")

    def drop_auto_setting(self, key):
        """Removes a setting from postgresql.auto.conf (ALTER SYSTEM's file); True if it was there."""
        path = os.path.join(self.data, "postgresql.auto.conf")
        if not os.path.exists(path):
            return False
        with open(path) as conf:
            lines = conf.readlines()
        kept = [line for line in lines if line.split("=", 1)[0].strip() != key]
        if len(kept) == len(lines):
            return False
        with open(path, "w") as conf:  # rewritten in place: owner and mode stay postgres's
            conf.writelines(kept)
        return True

    def _as_postgres(self, tool, *args):
        # cwd: the postgres user cannot necessarily read the repository directory
        subprocess.run(["runuser", "-u", "postgres", "--", postgres_bin(tool), *args], check=True,
                       cwd=self.dir, stdout=self.ctl_log, stderr=subprocess.STDOUT, timeout=120)


class PsqlSession:
    """A psql process fed SQL on stdin: a lock holder or a deadlocking client. Its stdout and stderr
    go where subprocess is told (DEVNULL, PIPE or a file)."""

    def __init__(self, command, stdout, stderr):
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, text=True)

    def send(self, sql):
        self.process.stdin.write(sql)
        self.process.stdin.flush()

    def wait_for(self, marker):
        """Reads psql's output up to a line `marker` (say, from `SELECT 'held'`); False when psql ended first."""
        while line := self.process.stdout.readline():
            if line.strip() == marker:
                return True
        return False

    def finish(self, timeout=15):
        """Ends the input: psql runs what it was sent, then exits (killed after timeout seconds).
        Returns psql's exit status."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        return self.process.returncode

    def errors(self):
        """What psql wrote to stderr (with stderr=PIPE), once it has ended."""
        return self.process.stderr.read().strip()


# ------------------------------------------------------------------------------------------------
# The service
# ------------------------------------------------------------------------------------------------

# Readiness lives here and nowhere else: moving it (say, to a management port) is a change to this
# method alone.
READINESS_TIMEOUT = 3  # seconds, as the readinessProbe's timeoutSeconds in k8s/deployment.yaml


def build_app_when_missing(app=APP, pom=None):
    if not os.path.exists(os.path.join(app, "quarkus-run.jar")):
        if APP_OVERRIDE and app == APP:
            raise RuntimeError(f"BASTION_APP_DIR={APP_OVERRIDE} holds no quarkus-run.jar (it is never built here)")
        extra = ["-f", pom] if pom else []
        log(f"building {app} (./mvnw package -DskipTests {' '.join(extra)})")
        subprocess.run(["flock", MAVEN_LOCK, os.path.join(ROOT, "mvnw"), "-B", "-q", *extra, "package", "-DskipTests"],
                       cwd=ROOT, check=True)


def container_jvm_options():
    """The JVM flags of the container image (src/main/docker/Dockerfile.jvm) under the memory limit of
    k8s/deployment.yaml, for running the jar here as it runs in a pod: JAVA_MAX_MEM_RATIO becomes
    -XX:MaxRAMPercentage as run-java.sh makes it, GC_CONTAINER_OPTIONS and the -XX/-Xss flags of
    JAVA_OPTS_APPEND are taken as they are (but the image's AOT cache, see ImageService), and
    -XX:MaxRAM stands in for the cgroup limit. Returns
    (flags, environment) so that MALLOC_ARENA_MAX reaches the process too."""
    env = {}
    with open(DOCKERFILE_JVM) as f:
        for key, quoted, bare in re.findall(r'^ENV (\w+)=(?:"([^"]*)"|(\S+))$', f.read(), re.M):
            env[key] = re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), quoted or bare)
    with open(os.path.join(ROOT, "k8s", "deployment.yaml")) as f:
        limit = re.search(r"limits:\s*\n(?:\s+cpu:.*\n)?\s+memory:\s*(\d+)Mi", f.read()).group(1)
    flags = [f"-XX:MaxRAM={limit}m", f"-XX:MaxRAMPercentage={env['JAVA_MAX_MEM_RATIO']}",
             *env.get("GC_CONTAINER_OPTIONS", "").split(),
             *(flag for flag in env.get("JAVA_OPTS_APPEND", "").split()
               if flag.startswith(("-XX:", "-Xss")) and not flag.startswith("-XX:AOTCache="))]
    return flags, {k: env[k] for k in ("MALLOC_ARENA_MAX",) if k in env}


def _java_major(java):
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else None


@functools.lru_cache(maxsize=None)
def image_java():
    """The java command of the JDK the JVM image runs (the NN of its openjdk-NN-runtime base image):
    a JDK of that major version under /usr/lib/jvm, else the default java, with a warning, as the
    image's AOT cache then cannot be measured."""
    with open(DOCKERFILE_JVM) as f:
        major = int(re.search(r"^FROM \S*openjdk-(\d+)", f.read(), re.M).group(1))
    for java in ["java", *sorted(glob.glob("/usr/lib/jvm/*/bin/java"))]:
        if _java_major(java) == major:
            return java
    log(f"no JDK {major} here (the JVM image's): measuring with the default java, without the image's AOT cache")
    return "java"


def aot_cache(app, path, flags, java):
    """The AOT cache of a quarkus-app directory, written by the same script the JVM image runs
    (src/main/docker/aot-cache.sh) with the given JVM flags and java; returns the flag that uses it,
    or None when that java cannot write one (before JDK 25)."""
    if (_java_major(java) or 0) < 25:
        return None
    if not os.path.exists(path):
        log(f"writing the AOT cache {path}")
        env = {**os.environ, "PATH": os.path.dirname(os.path.abspath(shutil.which(java))) + os.pathsep + os.environ["PATH"]}
        subprocess.run([os.path.join(ROOT, "src", "main", "docker", "aot-cache.sh"), path,
                        os.path.join(app, "quarkus-run.jar"), *flags], check=True, stdout=subprocess.DEVNULL, env=env)
    return f"-XX:AOTCache={path}"


class Service(_Process):
    """The packaged service (JVM jar) against a given PostgreSQL port (or a proxy in front of it)."""

    app = APP  # the quarkus-app directory this class runs
    # where the private copy goes when it must keep its path from start to start (an AOT cache
    # names the jar it was written for); None: a new temporary directory per start, removed at the end
    fixed_copy = None

    def __init__(self, db_port, env=None, name="service", java_options=(), http_timeout=10, java="java"):
        self.port = free_port()
        # health, metrics and OpenAPI (/q/*) are served on the management port only
        self.management_port = free_port()
        self.db_port = db_port
        self.env = env or {}
        self.name = name
        self.java_options = list(java_options)  # e.g. a JFR recording for a profile
        self.java = java  # the java command: the default JDK, or image_java()
        self.http_timeout = http_timeout  # seconds call() waits for an answer, unless told otherwise
        self.log_path = os.path.join(OUT, f"{name}.log")
        self.app_copy = None
        self.process = None
        self.pid = None
        self.startup_seconds = None
        self.startup_cpu_seconds = None  # CPU the JVM spent until ready: what load on a shared machine moves least

    def start(self, timeout=120):
        self.build_when_missing()
        os.makedirs(OUT, exist_ok=True)
        # a private copy: a rebuild of target/ during the run must not swap classes under the JVM
        self.app_copy = self.fixed_copy or tempfile.mkdtemp(prefix=f"bastion-bench-{self.name}-")
        if not os.path.exists(os.path.join(self.app_copy, "quarkus-app")):
            shutil.copytree(self.app, os.path.join(self.app_copy, "quarkus-app"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUARKUS_DATASOURCE_")}
        env.update({"DB_HOST": "127.0.0.1", "DB_PORT": str(self.db_port), "DB_NAME": "bastion",
                    "DB_USERNAME": "postgres", "DB_PASSWORD": "postgres", "PORT": str(self.port),
                    "MANAGEMENT_PORT": str(self.management_port),
                    "QUARKUS_LOG_LEVEL": "WARN", **self.env})
        started = time.monotonic()
        with open(self.log_path, "w") as out:
            self.process = subprocess.Popen(
                [self.java, *self.java_options, "-jar", os.path.join(self.app_copy, "quarkus-app", "quarkus-run.jar")],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.process.pid
        self.wait_ready(timeout)
        self.startup_seconds = time.monotonic() - started
        self.startup_cpu_seconds = self.cpu_seconds()
        return self

    def build_when_missing(self):
        build_app_when_missing()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def management_url(self, path):
        return f"http://127.0.0.1:{self.management_port}{path}"

    def readiness_url(self):
        return self.management_url("/q/health/ready")

    def readiness(self):
        """The readiness endpoint's HTTP status, or None when it did not answer in READINESS_TIMEOUT."""
        return httpload.get(self.readiness_url(), READINESS_TIMEOUT).status

    def ready(self):
        return self.readiness() == 200

    def alive(self):
        """Still the process started at the beginning (a restart would be a different one)."""
        return self.process is not None and self.process.poll() is None and self.process.pid == self.pid

    def wait_ready(self, timeout):
        def ready_or_exited():
            if not self.alive():
                raise RuntimeError(f"service exited, see {self.log_path}")
            return self.ready()

        # every 10 ms: start-up to ready is measured here, and a refused connection costs the service nothing
        if not wait_until(ready_or_exited, timeout, interval=0.01):
            raise RuntimeError(f"service not ready after {timeout}s, see {self.log_path}")

    def status(self, path):
        """Status of a GET; /q/* paths (health, metrics) go to the management port, the rest to the API."""
        return httpload.get(self.management_url(path) if path.startswith("/q/") else self.url(path), 2).status

    def call(self, method, path, body=None, headers=None, timeout=None):
        """One JSON request to the API on its own connection (httpload.Reply). body: a value to send as
        JSON, or bytes sent as they are."""
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        all_headers = {"Accept": "application/json", **(headers or {})}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        return httpload.call(self.port, method, path, body, all_headers, timeout or self.http_timeout)

    def served_buckets(self):
        """The service's own latency histogram of 2xx answers (http_server_requests), cumulative per bound;
        empty for an app without it (the reference)."""
        try:
            reply = httpload.call(self.management_port, "GET", "/q/metrics", timeout=10)
        except OSError:
            return {}
        return httpload.served_buckets(reply.text) if reply.status == 200 else {}

    def metric(self, name, labels):
        """Sum of a Prometheus series from /q/metrics whose labels include all of labels."""
        reply = httpload.call(self.management_port, "GET", "/q/metrics", timeout=10)
        if reply.status != 200:
            raise RuntimeError(f"/q/metrics answered {reply.label()}")
        return httpload.prometheus_sum(reply.text, name, labels)

    def rss_mb(self):
        return self._status_mb("VmRSS")

    def peak_rss_mb(self):
        """The kernel's high-water mark of the process's resident set (VmHWM) since it started."""
        return self._status_mb("VmHWM")

    def _status_mb(self, field):
        """A memory figure of /proc/PID/status (reported in kB), in MB; None when absent."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return None

    def cpu_seconds(self):
        """CPU time the process has used so far, all threads (JIT and GC included): utime + stime."""
        return _cpu_ticks(f"/proc/{self.process.pid}/stat") / os.sysconf("SC_CLK_TCK")

    def thread_cpu_seconds(self):
        """CPU seconds so far per thread group (by /proc comm name, digits dropped): event loops, JIT, GC."""
        ticks = collections.Counter()
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                with open(f"/proc/{self.pid}/task/{tid}/comm") as f:
                    name = re.sub(r"[#\-]?\d+$", "", f.read().strip())
                ticks[name] += _cpu_ticks(f"/proc/{self.pid}/task/{tid}/stat")
            except FileNotFoundError:
                continue  # a thread that ended meanwhile
        return {name: n / os.sysconf("SC_CLK_TCK") for name, n in ticks.items()}

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.app_copy and not self.fixed_copy:
            shutil.rmtree(self.app_copy, ignore_errors=True)
        self.app_copy = None


class ImageService(Service):
    """The jar as the JVM image runs it: the image's JDK, its flags under the pod's memory limit, and
    the AOT cache the image writes at build time (aot-cache.sh, run here the same way), from one fixed
    directory, as the cache names the jar it was written for. Call prepare() once before starting."""

    fixed_copy = None
    flags = []
    cache_flag = None

    @classmethod
    def prepare(cls, directory):
        """Copies the build into directory and writes its cache there; returns (flags, env, java)."""
        flags, env = container_jvm_options()
        cls.fixed_copy, cls.flags = directory, flags
        if not os.path.exists(os.path.join(directory, "quarkus-app")):
            build_app_when_missing()
            shutil.copytree(APP, os.path.join(directory, "quarkus-app"))
        cls.cache_flag = aot_cache(os.path.join(directory, "quarkus-app"), os.path.join(directory, "app.aot"), flags, image_java())
        return flags, env, image_java()

    def __init__(self, db_port, env=None, name="service", java_options=(), http_timeout=10):
        """java_options: more flags after the image's (a JFR recording, say)."""
        cache = [self.cache_flag] if self.cache_flag else []
        super().__init__(db_port, env, name, [*self.flags, *cache, *java_options], http_timeout, image_java())


class ReferenceService(Service):
    """bench/reference: the same two endpoints on the raw reactive pg client, the floor of the stack.

    It has no schema of its own: start it on a database the product (its schema migrations) has already migrated.
    """

    app = os.path.join(REFERENCE, "target", "quarkus-app")

    def build_when_missing(self):
        build_app_when_missing(self.app, os.path.join(REFERENCE, "pom.xml"))

    def readiness_url(self):
        return self.url("/ready")  # 200 once its pool has answered a query


def _cpu_ticks(stat_path):
    """utime + stime of a /proc/.../stat file, in clock ticks."""
    with open(stat_path) as stat:
        # the command name (field 2) may hold spaces: count fields from after its closing parenthesis
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


# ------------------------------------------------------------------------------------------------
# Readiness over a whole run
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReadinessSample:
    sent: float
    answered: float
    status: int | None  # 200 UP, 503 DOWN, None: no answer within the probe timeout


class ReadinessMonitor:
    """Polls a service's readiness four times a second until stopped, keeping every answer."""

    def __init__(self, service):
        self.service = service
        self.lock = threading.Lock()
        self.samples = []
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True, name="readiness")

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_flag.set()
        self.thread.join(5)

    def _poll(self):
        while not self.stop_flag.is_set():
            sent = time.monotonic()
            status = self.service.readiness()
            with self.lock:
                self.samples.append(ReadinessSample(sent, time.monotonic(), status))
            self.stop_flag.wait(0.25)

    def first_ready_after(self, moment):
        with self.lock:
            return next((s.answered for s in self.samples if s.sent >= moment and s.status == 200), None)

    def went_down_between(self, start, end):
        return any(s.status != 200 for s in self.between(start, end))

    def between(self, start, end):
        """Samples sent at or after `start` and answered by `end`."""
        with self.lock:
            return [s for s in self.samples if s.sent >= start and s.answered <= end]


def readiness_summary(samples):
    counts = collections.Counter("UP" if s.status == 200 else "DOWN" if s.status == 503 else "no answer"
                                 for s in samples)
    return "/".join(f"{counts[k]} {k}" for k in ("UP", "DOWN", "no answer") if counts[k]) or "no samples"


# ------------------------------------------------------------------------------------------------
# The command line and the report
# ------------------------------------------------------------------------------------------------

def argument_parser(doc, quick_help=None):
    """A bench's command line: its docstring as --help, and --quick (a short run) when quick_help says what it is."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if quick_help:
        parser.add_argument("--quick", action="store_true", help=quick_help)
    return parser


def run(main):
    """Exits with main()'s status (None: 0). SIGTERM behaves like Ctrl-C, so every finally and `with`
    block still stops the bench's PostgreSQL and service; an interrupted bench exits 130."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        status = main()
    except KeyboardInterrupt:
        log("interrupted")
        status = 130
    sys.exit(status or 0)


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


class Columns:
    """A table of fixed-width columns, each a title and a format spec (`<24`, `>7.0f`); the header is
    underlined by one rule, and a value None prints as a dash in its column's width."""

    def __init__(self, *columns):
        self.columns = columns

    def print_header(self):
        header = " ".join(format(title, _width(spec)) for title, spec in self.columns)
        print(header)
        print("-" * len(header))

    def print_row(self, *values):
        print(" ".join(format("—", _width(spec)) if value is None else format(value, spec)
                       for value, (_, spec) in zip(values, self.columns)))


def _width(spec):
    """A format spec without its precision and type: `>7.2f` -> `>7`."""
    return re.sub(r"(\.\d+)?[a-z%]$", "", spec)


def print_table(header, rows):
    """Columns as wide as their widest cell: the first left-aligned, the others (numbers) right-aligned."""
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def machine_description():
    cpu = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB"
