"""Shared pieces of the benchmarks: a PostgreSQL of their own, the packaged service, free ports.

Everything runs on loopback. PostgreSQL comes from Debian's packages and runs as user postgres;
the service is the JVM jar built by ./mvnw package, copied aside so a rebuild cannot pull it away
from under a running benchmark.
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


def _exists(cmd):
    return bool(glob.glob(cmd)) if cmd.startswith("/") else shutil.which(cmd) is not None


def postgres_bin(tool):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if not found:
        raise RuntimeError(f"{tool} not found under /usr/lib/postgresql")
    return found[-1]


class Postgres:
    """A throwaway PostgreSQL cluster from Debian's binaries, as user postgres, on a free port."""

    def __init__(self, settings=None):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bastion-bench-pg-")
        self.data = os.path.join(self.dir, "data")
        self.settings = {"max_connections": "300", "shared_buffers": "256MB", "listen_addresses": "'127.0.0.1'",
                         "unix_socket_directories": f"'{self.dir}'", "port": str(self.port),
                         "deadlock_timeout": "100ms", **(settings or {})}

    def start(self):
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres([postgres_bin("initdb"), "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            for key, value in self.settings.items():
                conf.write(f"{key} = {value}\n")
        self.pg_ctl("start", "-w", "-l", os.path.join(self.dir, "server.log"))
        self.psql("CREATE DATABASE bastion", database="postgres")
        return self

    def pg_ctl(self, *args):
        self._as_postgres([postgres_bin("pg_ctl"), "-D", self.data, *args])

    def stop(self):
        try:
            self.pg_ctl("stop", "-m", "immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def psql(self, sql, database="bastion"):
        result = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
                                 "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
                                check=True, capture_output=True, text=True)
        return result.stdout.strip()

    def _as_postgres(self, command):
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, stdout=subprocess.DEVNULL)


class Service:
    """The packaged service (JVM jar) against a given PostgreSQL port."""

    def __init__(self, db_port, env=None, name="service"):
        self.port = free_port()
        # health, metrics and OpenAPI (/q/*) are served on the management port only
        self.management_port = free_port()
        self.db_port = db_port
        self.env = env or {}
        self.name = name
        self.process = None
        self.startup_seconds = None

    def start(self):
        app = os.path.join(OUT, "app")
        source = os.path.join(ROOT, "target", "quarkus-app")
        if not os.path.exists(os.path.join(source, "quarkus-run.jar")):
            log("building the service jar (./mvnw package -DskipTests)")
            subprocess.run([os.path.join(ROOT, "mvnw"), "-B", "-q", "package", "-DskipTests"], cwd=ROOT, check=True)
        shutil.rmtree(app, ignore_errors=True)
        shutil.copytree(source, app)
        env = {**os.environ, "DB_HOST": "127.0.0.1", "DB_PORT": str(self.db_port), "DB_NAME": "bastion",
               "DB_USERNAME": "postgres", "DB_PASSWORD": "postgres", "PORT": str(self.port),
               "MANAGEMENT_PORT": str(self.management_port),
               "QUARKUS_LOG_LEVEL": "WARN", **self.env}
        self.log_path = os.path.join(OUT, f"{self.name}.log")
        started = time.monotonic()
        self.process = subprocess.Popen(["java", "-jar", os.path.join(app, "quarkus-run.jar")], env=env,
                                        stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        self.wait_ready(120)
        self.startup_seconds = time.monotonic() - started
        return self

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def management_url(self, path):
        return f"http://127.0.0.1:{self.management_port}{path}"

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited, see {self.log_path}")
            if self.status("/q/health/ready") == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(f"service not ready after {timeout}s, see {self.log_path}")

    def status(self, path):
        """Status of a GET; /q/* paths (health, metrics) go to the management port, the rest to the API."""
        url = self.management_url(path) if path.startswith("/q/") else self.url(path)
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
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
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return None

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def machine_description():
    cpu = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB"
