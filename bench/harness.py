"""Shared pieces of the benchmarks: PostgreSQL clusters of their own, the packaged service, free ports.

Everything runs on loopback. PostgreSQL comes from Debian's packages and runs as user postgres (a
primary, and when a benchmark needs a failover, a synchronous streaming standby of it); the service
is the JVM jar built by ./mvnw package, copied aside so a rebuild cannot pull it away from under a
running benchmark.
"""
import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
APP = os.path.join(ROOT, "target", "quarkus-app")
REFERENCE = os.path.join(ROOT, "bench", "reference")
MAVEN_LOCK = "/tmp/bastion-maven.lock"  # one Maven build at a time on these shared machines
PSQL = "/usr/bin/psql"


def log(message):
    print(f"[bench] {message}", flush=True)


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
# PostgreSQL
# ------------------------------------------------------------------------------------------------

class Postgres:
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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.psql(f"SELECT {column} FROM pg_stat_replication WHERE application_name = '{name}'") == wanted:
                return
            time.sleep(0.1)
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


# ------------------------------------------------------------------------------------------------
# The service
# ------------------------------------------------------------------------------------------------

# Readiness lives here and nowhere else: moving it (say, to a management port) is a change to this
# method alone.
READINESS_TIMEOUT = 3  # seconds, as the readinessProbe's timeoutSeconds in k8s/deployment.yaml


def build_app_when_missing(app=APP, pom=None):
    if not os.path.exists(os.path.join(app, "quarkus-run.jar")):
        extra = ["-f", pom] if pom else []
        log(f"building {app} (./mvnw package -DskipTests {' '.join(extra)})")
        subprocess.run(["flock", MAVEN_LOCK, os.path.join(ROOT, "mvnw"), "-B", "-q", *extra, "package", "-DskipTests"],
                       cwd=ROOT, check=True)


class Service:
    """The packaged service (JVM jar) against a given PostgreSQL port (or a proxy in front of it)."""

    app = APP  # the quarkus-app directory this class runs

    def __init__(self, db_port, env=None, name="service", java_options=()):
        self.port = free_port()
        # health, metrics and OpenAPI (/q/*) are served on the management port only
        self.management_port = free_port()
        self.db_port = db_port
        self.env = env or {}
        self.name = name
        self.java_options = list(java_options)  # e.g. a JFR recording for a profile
        self.log_path = os.path.join(OUT, f"{name}.log")
        self.app_copy = None
        self.process = None
        self.pid = None
        self.startup_seconds = None

    def start(self, timeout=120):
        self.build_when_missing()
        os.makedirs(OUT, exist_ok=True)
        # a private copy: a rebuild of target/ during the run must not swap classes under the JVM
        self.app_copy = tempfile.mkdtemp(prefix=f"bastion-bench-{self.name}-")
        shutil.copytree(self.app, os.path.join(self.app_copy, "quarkus-app"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUARKUS_DATASOURCE_")}
        env.update({"DB_HOST": "127.0.0.1", "DB_PORT": str(self.db_port), "DB_NAME": "bastion",
                    "DB_USERNAME": "postgres", "DB_PASSWORD": "postgres", "PORT": str(self.port),
                    "MANAGEMENT_PORT": str(self.management_port),
                    "QUARKUS_LOG_LEVEL": "WARN", **self.env})
        started = time.monotonic()
        with open(self.log_path, "w") as out:
            self.process = subprocess.Popen(
                ["java", *self.java_options, "-jar", os.path.join(self.app_copy, "quarkus-app", "quarkus-run.jar")],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.process.pid
        self.wait_ready(timeout)
        self.startup_seconds = time.monotonic() - started
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
        return self._status_of(self.readiness_url(), READINESS_TIMEOUT)

    def ready(self):
        return self.readiness() == 200

    def alive(self):
        """Still the process started at the beginning (a restart would be a different one)."""
        return self.process is not None and self.process.poll() is None and self.process.pid == self.pid

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"service exited, see {self.log_path}")
            if self.ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"service not ready after {timeout}s, see {self.log_path}")

    def status(self, path):
        """Status of a GET; /q/* paths (health, metrics) go to the management port, the rest to the API."""
        return self._status_of(self.management_url(path) if path.startswith("/q/") else self.url(path), 2)

    @staticmethod
    def _status_of(url, timeout):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def request(self, method, path, body=None, headers=None, timeout=10):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url(path), data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

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
        with open(f"/proc/{self.process.pid}/stat") as stat:
            # the command name (field 2) may hold spaces: count fields from after its closing parenthesis
            fields = stat.read().rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
        return (utime + stime) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.app_copy:
            shutil.rmtree(self.app_copy, ignore_errors=True)
            self.app_copy = None


class ReferenceService(Service):
    """bench/reference: the same two endpoints on the raw reactive pg client, the floor of the stack.

    It has no schema of its own: start it on a database the product (its Flyway) has already migrated.
    """

    app = os.path.join(REFERENCE, "target", "quarkus-app")

    def build_when_missing(self):
        build_app_when_missing(self.app, os.path.join(REFERENCE, "pom.xml"))

    def readiness_url(self):
        return self.url("/ready")  # 200 once its pool has answered a query


def machine_description():
    cpu = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB"
