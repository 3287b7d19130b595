#!/usr/bin/env python3
"""Fault-injection benchmark for Bastion.

Starts a private PostgreSQL (Debian's binaries, as user postgres), a fault proxy in front of it and
the packaged service behind the proxy, then runs one phase per fault under steady mixed load and
audits the database directly after each phase: no acknowledged write lost, nothing applied twice,
credit conserved, the service back to ready on its own. Exits 1 when an invariant breaks.

    python3 bench/faults/run.py [--quick]

Python 3.11 standard library only. Logs go to bench/out/ (git-ignored).
"""
import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from proxy import FaultProxy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import ensure_packages, free_port, postgres_bin  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "bench", "out")
APP = os.path.join(ROOT, "target", "quarkus-app")
PSQL = "/usr/bin/psql"

ACCOUNTS = 10
OPENING_BALANCE = Decimal("1000.00")
WORKERS = 6
HTTP_TIMEOUT = 10
WRITE_RETRIES = 5
RETRY_STATUSES = {503, 504}
TRANSFER_OPERATION = "customer.transfer"
CREATE_OPERATION = "customer.create"

SERVICE_ENV = {
    "DB_HOST": "127.0.0.1", "DB_NAME": "bastion", "DB_USERNAME": "postgres", "DB_PASSWORD": "postgres",
    "DB_POOL_SIZE": "10", "DB_MAX_OVERFLOW": "10", "DB_POOL_TIMEOUT": "2", "DB_CONNECT_TIMEOUT": "2",
    "DB_COMMAND_TIMEOUT": "10", "DB_BREAKER_DELAY": "2", "QUARKUS_LOG_LEVEL": "WARN",
}

STARTED = time.monotonic()


def log(message):
    print(f"[faults {time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


@dataclass(frozen=True)
class Timing:
    load_before: float  # seconds of load before the fault is injected
    load_after: float   # seconds of load after the fault has ended


FULL = Timing(load_before=8, load_after=12)
QUICK = Timing(load_before=3, load_after=3)


# ------------------------------------------------------------------------------------------------
# PostgreSQL: a throwaway cluster from Debian's binaries
# ------------------------------------------------------------------------------------------------

def postgres_bin_dir():
    """Debian's PostgreSQL server binaries, installed from Debian's packages when missing."""
    ensure_packages({"/usr/lib/postgresql/*/bin/postgres": "postgresql", "psql": "postgresql-client"})
    return os.path.dirname(postgres_bin("postgres"))


class Postgres:
    def __init__(self):
        self.bin = postgres_bin_dir()
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bastion-faults-pg-")
        self.data = os.path.join(self.dir, "data")
        self.server_log = os.path.join(self.dir, "postgres.log")
        self.ctl_log = open(os.path.join(OUT, "faults-pg_ctl.log"), "w")
        self.started = False

    def start(self):
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.dir}'\nmax_connections = 100\n"
                       "deadlock_timeout = '100ms'\nlog_line_prefix = '%m [%p] %a '\n")
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as hba:
            hba.write("local all all trust\nhost all all 127.0.0.1/32 trust\n")
        self._pg_ctl("start", "-l", self.server_log)
        self.started = True
        self.psql("CREATE DATABASE bastion", database="postgres")

    def restart(self, mode):
        self._pg_ctl("restart", "-m", mode, "-l", self.server_log)

    def stop(self):
        if self.started:
            try:
                self._pg_ctl("stop", "-m", "fast")
            except subprocess.SubprocessError:
                self._pg_ctl("stop", "-m", "immediate")
            self.started = False

    def remove(self):
        if os.path.exists(self.server_log):
            shutil.copy(self.server_log, os.path.join(OUT, "faults-postgres.log"))
        shutil.rmtree(self.dir, ignore_errors=True)
        self.ctl_log.close()

    def psql_command(self, database="bastion", on_error_stop=True):
        return [PSQL, "-X", "-q", "-A", "-t", "-F", "\t", "-h", "127.0.0.1", "-p", str(self.port),
                "-U", "postgres", "-d", database, "-v", f"ON_ERROR_STOP={1 if on_error_stop else 0}"]

    def psql(self, sql, database="bastion", timeout=60):
        """Runs SQL directly against PostgreSQL (never through the proxy); returns the output rows."""
        result = subprocess.run(self.psql_command(database), input=sql, capture_output=True, text=True,
                                timeout=timeout, env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def _pg_ctl(self, *args):
        self._as_postgres("pg_ctl", "-D", self.data, "-w", "-t", "60", *args)

    def _as_postgres(self, tool, *args):
        # cwd: the postgres user cannot necessarily read the repository directory
        subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(self.bin, tool), *args], check=True,
                       cwd=self.dir, stdout=self.ctl_log, stderr=subprocess.STDOUT, timeout=120)


# ------------------------------------------------------------------------------------------------
# The service
# ------------------------------------------------------------------------------------------------

def wait_for_packaged_app():
    """Builds the packaged service when it is missing, as the other benchmarks do."""
    jar = os.path.join(APP, "quarkus-run.jar")
    if not os.path.exists(jar):
        log("building the service jar (./mvnw package -DskipTests)")
        subprocess.run([os.path.join(ROOT, "mvnw"), "-B", "-q", "package", "-DskipTests"], cwd=ROOT, check=True)


class Service:
    def __init__(self, db_port):
        self.port = free_port()
        self.db_port = db_port
        self.log_path = os.path.join(OUT, "faults-service.log")
        self.app_copy = None
        self.process = None
        self.pid = None

    def start(self):
        wait_for_packaged_app()
        # run a private copy: a rebuild of target/ during the run must not swap classes under the JVM
        self.app_copy = tempfile.mkdtemp(prefix="bastion-faults-app-")
        shutil.copytree(APP, os.path.join(self.app_copy, "quarkus-app"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUARKUS_DATASOURCE_")}
        env.update(SERVICE_ENV, DB_PORT=str(self.db_port), PORT=str(self.port))
        with open(self.log_path, "w") as out:
            self.process = subprocess.Popen(
                ["java", "-jar", os.path.join(self.app_copy, "quarkus-app", "quarkus-run.jar")],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.process.pid
        self.wait_ready(60)

    def alive(self):
        return self.process is not None and self.process.poll() is None and self.process.pid == self.pid

    def ready(self):
        return call(self.port, "GET", "/q/health/ready", timeout=2).status == 200

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"service exited during start-up, see {self.log_path}")
            if self.ready():
                return
            time.sleep(0.25)
        raise RuntimeError(f"service not ready after {timeout}s, see {self.log_path}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.app_copy:
            shutil.rmtree(self.app_copy, ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# HTTP: one connection per request, retries like a careful client
# ------------------------------------------------------------------------------------------------

@dataclass
class Reply:
    status: int | None  # None: timeout or connection error
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    error: str = ""
    finished: float = 0.0  # time.monotonic() when the answer (or the failure) arrived

    def json(self):
        return json.loads(self.body)

    def label(self):
        return str(self.status) if self.status is not None else f"conn:{self.error}"


def call(port, method, path, body=None, headers=None, timeout=HTTP_TIMEOUT):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        all_headers = {"Accept": "application/json", **(headers or {})}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        return Reply(response.status, response.read(), {k.lower(): v for k, v in response.getheaders()},
                     finished=time.monotonic())
    except socket.timeout:
        return Reply(None, error="timeout", finished=time.monotonic())
    except (OSError, http.client.HTTPException) as e:
        return Reply(None, error=type(e).__name__, finished=time.monotonic())
    finally:
        connection.close()


def call_with_retries(port, path, body, key, on_attempt):
    """POST with an Idempotency-Key; on 503/504/timeout/connection error or an unknown commit outcome,
    the same key and body again (the key makes every repeat safe)."""
    reply = None
    for attempt in range(WRITE_RETRIES + 1):
        reply = call(port, "POST", path, body=body, headers={"Idempotency-Key": key})
        on_attempt()
        unknown_outcome = reply.status == 500 and b"commit-outcome-unknown" in (reply.body or b"")
        if reply.status is not None and reply.status not in RETRY_STATUSES and not unknown_outcome:
            return reply
        if attempt < WRITE_RETRIES:
            time.sleep(min(2.0, 0.2 * 2 ** attempt) * random.uniform(0.75, 1.25))
    return reply


def status_class(reply):
    if reply.status is None:
        return "other"
    if 200 <= reply.status < 300:
        return "2xx"
    if 400 <= reply.status < 500:
        return "4xx"
    if reply.status == 503:
        return "503"
    return "other"


# ------------------------------------------------------------------------------------------------
# What the clients were told: acknowledged writes, per-phase counts
# ------------------------------------------------------------------------------------------------

@dataclass
class TransferAck:
    ledger_id: int
    source: int
    target: int
    amount: Decimal
    phase: str


class Acknowledged:
    """Every write the service acknowledged, across all phases (the audit compares these to the DB)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.creates = {}    # lower(email) -> (customer id, phase)
        self.transfers = {}  # idempotency key -> TransferAck

    def create(self, email, customer_id, phase):
        with self.lock:
            self.creates[email.lower()] = (customer_id, phase)

    def transfer(self, key, ack):
        with self.lock:
            self.transfers[key] = ack


class PhaseStats:
    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.finals = Counter()    # 2xx / 4xx / 503 / other, one per logical request
        self.statuses = Counter()  # exact final answer, for the detail lines
        self.attempts = 0
        self.replays = 0
        self.successes = []        # monotonic times of 2xx answers

    def attempt(self):
        with self.lock:
            self.attempts += 1

    def final(self, operation, reply):
        with self.lock:
            self.finals[status_class(reply)] += 1
            self.statuses[f"{operation} {reply.label()}"] += 1
            if reply.headers.get("idempotency-replayed") == "true":
                self.replays += 1
            if status_class(reply) == "2xx":
                self.successes.append(reply.finished)

    def first_success_after(self, moment):
        with self.lock:
            later = [t for t in self.successes if t >= moment]
        return min(later) if later else None

    @property
    def requests(self):
        return sum(self.finals.values())


class EventLog:
    """Unexpected client-side outcomes (500s, 409s on a retried create, ...), for the bug report."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.file = open(path, "w")
        self.count = 0

    def write(self, phase, what, reply, attempts=None):
        body = reply.body[:400].decode(errors="replace").replace("\n", " ")
        with self.lock:
            self.count += 1
            self.file.write(f"{time.monotonic() - STARTED:8.2f}s [{phase}] {what}: {reply.label()}"
                            f"{'' if attempts is None else f' after {attempts} attempt(s)'} {body}\n")
            self.file.flush()

    def note(self, phase, text):
        with self.lock:
            self.count += 1
            self.file.write(f"{time.monotonic() - STARTED:8.2f}s [{phase}] {text}\n")
            self.file.flush()

    def close(self):
        self.file.close()


# ------------------------------------------------------------------------------------------------
# Load: workers creating customers, transferring credit and reading
# ------------------------------------------------------------------------------------------------

def start_threads(target, count, name):
    """Daemon threads running target(rng), each with its own random sequence."""
    threads = [threading.Thread(target=target, args=(random.Random(),), daemon=True, name=f"{name}-{i}")
               for i in range(count)]
    for thread in threads:
        thread.start()
    return threads


class Load:
    def __init__(self, service, accounts, acks, events):
        self.service = service
        self.accounts = accounts
        self.acks = acks
        self.events = events
        self.stop_flag = threading.Event()
        self.threads = []
        self.readers_stop = threading.Event()
        self.readers = []
        self.stats = None

    def start(self, stats):
        self.stats = stats
        self.stop_flag.clear()
        self.threads = start_threads(self._work, WORKERS, "load")

    def stop(self):
        """Lets every worker finish its current logical request (including its retries)."""
        self.stop_flag.set()
        for thread in self.threads:
            thread.join(120)

    def add_readers(self, count):
        """Extra read-only threads on top of the mixed workers, until remove_readers()."""
        self.readers_stop.clear()
        self.readers = start_threads(self._read_only, count, "reader")

    def remove_readers(self):
        self.readers_stop.set()
        for thread in self.readers:
            thread.join(30)
        self.readers = []

    def _work(self, rng):
        operations = [self._create, self._transfer, self._read]
        while not self.stop_flag.is_set():
            self._guarded(rng.choices(operations, weights=[25, 45, 30])[0], rng)
            time.sleep(rng.uniform(0.005, 0.02))  # a little think time: the machine is shared

    def _read_only(self, rng):
        while not self.readers_stop.is_set() and not self.stop_flag.is_set():
            self._guarded(self._read, rng)
            time.sleep(rng.uniform(0.005, 0.02))

    def _guarded(self, operation, rng):
        """An unexpected answer (say, a 2xx without JSON) is logged; the worker carries on."""
        try:
            operation(rng)
        except Exception as e:
            self.events.note(self.stats.name, f"{operation.__name__} raised {type(e).__name__}: {e}")

    def _create(self, rng):
        token = uuid.uuid4().hex
        email = f"load-{token}@example.org"
        body = json.dumps({"name": f"Load {token[:8]}", "email": email}).encode()
        attempts = Counter()
        reply = call_with_retries(self.service.port, "/customers", body, str(uuid.uuid4()),
                                  lambda: (self.stats.attempt(), attempts.update(["n"])))
        self.stats.final("create", reply)
        if reply.status == 201:
            self.acks.create(email, reply.json()["id"], self.stats.name)
        elif reply.status not in RETRY_STATUSES and reply.status is not None:
            self.events.write(self.stats.name, f"create {email}", reply, attempts["n"])
        elif reply.status is None or reply.status == 504:
            self.events.write(self.stats.name, f"create {email} gave up", reply, attempts["n"])

    def _transfer(self, rng):
        source, target = rng.sample(self.accounts, 2)
        cents = rng.randint(100, 2000)
        amount = f"{cents // 100}.{cents % 100:02d}"
        body = f'{{"from":{source},"to":{target},"amount":{amount}}}'.encode()
        key = str(uuid.uuid4())
        attempts = Counter()
        reply = call_with_retries(self.service.port, "/customers/transfers", body, key,
                                  lambda: (self.stats.attempt(), attempts.update(["n"])))
        self.stats.final("transfer", reply)
        if reply.status == 200:
            self.acks.transfer(key, TransferAck(reply.json()["id"], source, target, Decimal(amount), self.stats.name))
        elif reply.status == 422 and _problem_kind(reply) == "insufficient-credit":
            pass  # a valid final answer
        elif reply.status not in RETRY_STATUSES and reply.status is not None:
            self.events.write(self.stats.name, f"transfer {key}", reply, attempts["n"])
        elif reply.status is None or reply.status == 504:
            self.events.write(self.stats.name, f"transfer {key} gave up", reply, attempts["n"])

    def _read(self, rng):
        account = rng.choice(self.accounts)
        reply = call(self.service.port, "GET", f"/customers/{account}")
        self.stats.attempt()
        self.stats.final("read", reply)
        if reply.status is not None and reply.status not in (200, 503, 504):
            self.events.write(self.stats.name, f"read {account}", reply)


def _problem_kind(reply):
    try:
        return reply.json().get("kind")
    except (ValueError, AttributeError):
        return None


class ReadinessMonitor:
    """Polls /q/health/ready four times a second for the whole run."""

    def __init__(self, service):
        self.service = service
        self.lock = threading.Lock()
        self.samples = []  # (monotonic time, ready?)
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True, name="readiness")

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(5)

    def _poll(self):
        while not self.stop_flag.is_set():
            ready = self.service.ready()
            with self.lock:
                self.samples.append((time.monotonic(), ready))
            self.stop_flag.wait(0.25)

    def first_ready_after(self, moment):
        with self.lock:
            return next((t for t, ready in self.samples if t >= moment and ready), None)

    def went_down_between(self, start, end):
        with self.lock:
            return any(not ready for t, ready in self.samples if start <= t <= end)


# ------------------------------------------------------------------------------------------------
# Faults: each blocks for the fault's duration and returns a short note
# ------------------------------------------------------------------------------------------------

def restart_postgres(pg, mode):
    pg.restart(mode)
    return f"pg_ctl restart -m {mode}"


def terminate_service_backends(pg, rounds=3, pause=1.0):
    killed = []
    for i in range(rounds):
        rows = pg.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE application_name = 'bastion'")
        killed.append(rows[0][0])
        if i < rounds - 1:
            time.sleep(pause)
    return f"terminated {'+'.join(killed)} backends"


def freeze_network(proxy, seconds=5):
    proxy.freeze()
    time.sleep(seconds)
    proxy.resume()
    dropped = proxy.reset()
    return f"froze {seconds}s, reset {dropped} connections"


def lock_storm(pg, accounts, seconds=5, sessions=3):
    """Second clients lock account rows in descending id order (the service locks ascending): deadlocks."""
    before = deadlock_count(pg)
    errors = open(os.path.join(OUT, "faults-lock-storm.log"), "w")
    clients = [subprocess.Popen(pg.psql_command(on_error_stop=False), stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=errors, text=True) for _ in range(sessions)]
    deadline = time.monotonic() + seconds
    feeders = [threading.Thread(target=_feed_lock_transactions, args=(client, accounts, deadline), daemon=True)
               for client in clients]
    try:
        for feeder in feeders:
            feeder.start()
        for feeder in feeders:
            feeder.join(seconds + 5)
    finally:
        for client in clients:
            _finish_psql(client)
        errors.close()
    return f"{sessions} lockers, {deadlock_count(pg) - before} deadlocks"


def _feed_lock_transactions(client, accounts, deadline):
    rng = random.Random()
    try:
        client.stdin.write("SET application_name = 'bench-lock-storm'; SET lock_timeout = '3s';\n")
        while time.monotonic() < deadline:
            high, low = sorted(rng.sample(accounts, 2), reverse=True)
            # hold the higher id while reaching for the lower one: the opposite of the service's order
            client.stdin.write(
                f"BEGIN; SELECT id FROM customer WHERE id = {high} FOR UPDATE; SELECT pg_sleep(0.05);\n"
                f"SELECT id FROM customer WHERE id = {low} FOR UPDATE; SELECT pg_sleep(0.1); COMMIT;\n")
            client.stdin.flush()
            time.sleep(0.2)  # roughly the transaction's own length, so psql never falls far behind
    except (BrokenPipeError, OSError):
        pass


def _finish_psql(client, timeout=15):
    try:
        client.stdin.close()
    except OSError:
        pass
    try:
        client.wait(timeout)
    except subprocess.TimeoutExpired:
        client.kill()
        client.wait(5)


def deadlock_count(pg):
    return int(pg.psql("SELECT deadlocks FROM pg_stat_database WHERE datname = 'bastion'")[0][0])


def starve_pool(pg, load, seconds=6, extra_readers=24):
    """Every service statement on customer queues behind this lock, holding its pool connection.

    Six workers alone never fill a pool of 10 + 10 overflow, so extra readers join while the lock is
    held: requests beyond the pool's 20 connections must get a fast 503 (pool timeout 2 s).
    """
    locker = subprocess.Popen(pg.psql_command(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    load.add_readers(extra_readers)
    try:
        locker.stdin.write(f"BEGIN; LOCK TABLE customer IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({seconds}); "
                           "COMMIT;\n")
        locker.stdin.close()
        time.sleep(seconds / 2)
        waiting = pg.psql("SELECT count(*) FROM pg_stat_activity "
                          "WHERE application_name = 'bastion' AND wait_event_type = 'Lock'")[0][0]
        locker.wait(seconds + 30)
    finally:
        load.remove_readers()
        if locker.poll() is None:
            locker.kill()
    if locker.returncode != 0:
        raise RuntimeError(f"lock holder failed: {locker.stderr.read().strip()}")
    return f"ACCESS EXCLUSIVE {seconds}s, +{extra_readers} readers, {waiting} pool conns waiting"


# ------------------------------------------------------------------------------------------------
# Audit: the database compared with what clients were told
# ------------------------------------------------------------------------------------------------

@dataclass
class Snapshot:
    customers: dict   # id -> (lower email, balance)
    transfers: dict   # ledger id -> (from, to, amount)
    keys: dict        # (operation, key) -> resource id or None


def read_snapshot(pg):
    """One REPEATABLE READ transaction, so every check sees the same instant."""
    rows = pg.psql("""
        BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
        SELECT 'customer', id, lower(email), credit_balance FROM customer;
        SELECT 'transfer', id, from_id, to_id, amount FROM credit_transfer;
        SELECT 'key', operation, idempotency_key, coalesce(resource_id::text, '') FROM idempotency_key;
        COMMIT;""")
    snapshot = Snapshot({}, {}, {})
    for row in rows:
        if row[0] == "customer":
            snapshot.customers[int(row[1])] = (row[2], Decimal(row[3]))
        elif row[0] == "transfer":
            snapshot.transfers[int(row[1])] = (int(row[2]), int(row[3]), Decimal(row[4]))
        elif row[0] == "key":
            snapshot.keys[(row[1], row[2])] = int(row[3]) if row[3] else None
    return snapshot


@dataclass
class Audit:
    lost: set = field(default_factory=set)        # acknowledged writes not in the database
    duplicates: set = field(default_factory=set)  # rows applied more than once
    failures: list = field(default_factory=list)  # every broken invariant, in words


def audit(snapshot, acks, accounts):
    result = Audit()
    audit_creates(snapshot, acks, result)
    audit_transfers(snapshot, acks, accounts, result)
    audit_balances(snapshot, accounts, result)
    return result


def audit_creates(snapshot, acks, result):
    ids_by_email = {}
    for customer_id, (email, _) in snapshot.customers.items():
        ids_by_email.setdefault(email, []).append(customer_id)
    with acks.lock:
        creates = dict(acks.creates)
    for email, (customer_id, phase) in creates.items():
        found = ids_by_email.get(email, [])
        if not found:
            result.lost.add(f"create:{email}")
            result.failures.append(f"acknowledged create {email} (id {customer_id}, {phase}) is missing")
        elif len(found) > 1:
            result.duplicates.add(f"create:{email}")
            result.failures.append(f"create {email} exists {len(found)} times: {found}")
        elif found[0] != customer_id:
            result.failures.append(f"create {email} acknowledged as id {customer_id} but stored as {found[0]}")
    for (operation, key), resource in snapshot.keys.items():
        if operation == CREATE_OPERATION and resource is not None and resource not in snapshot.customers:
            result.failures.append(f"create key {key} replays customer {resource}, which does not exist")


def audit_transfers(snapshot, acks, accounts, result):
    with acks.lock:
        transfers = dict(acks.transfers)
    for key, ack in transfers.items():
        row = snapshot.transfers.get(ack.ledger_id)
        if row is None:
            result.lost.add(f"transfer:{key}")
            result.failures.append(f"acknowledged transfer {ack.ledger_id} (key {key}, {ack.phase}) is missing")
        elif row != (ack.source, ack.target, ack.amount):
            result.failures.append(f"transfer {ack.ledger_id} is {row}, acknowledged as "
                                   f"{(ack.source, ack.target, ack.amount)}")
        stored = snapshot.keys.get((TRANSFER_OPERATION, key), "absent")
        if stored != ack.ledger_id:
            result.failures.append(f"transfer key {key} maps to {stored}, acknowledged ledger id {ack.ledger_id}")

    seeded = set(accounts)
    ledger = {i for i, (src, dst, _) in snapshot.transfers.items() if src in seeded and dst in seeded}
    keyed = [r for (op, _), r in snapshot.keys.items() if op == TRANSFER_OPERATION and r is not None]
    keyed_ids = set(keyed)
    # every transfer of the benchmark carries a key: a ledger row no key points at was applied twice
    for ledger_id in sorted(ledger - keyed_ids):
        result.duplicates.add(f"transfer-row:{ledger_id}")
    if len(ledger) != len(keyed_ids):
        result.failures.append(f"{len(ledger)} ledger rows between accounts but {len(keyed_ids)} distinct "
                               f"keyed transfer ids")
    if len(keyed) != len(keyed_ids):
        result.failures.append(f"{len(keyed) - len(keyed_ids)} ledger ids are claimed by more than one key")
    dangling = keyed_ids - set(snapshot.transfers)
    if dangling:
        result.failures.append(f"transfer keys point at missing ledger rows {sorted(dangling)[:10]}")


def audit_balances(snapshot, accounts, result):
    total = Decimal("0.00")
    for account in accounts:
        if account not in snapshot.customers:
            result.failures.append(f"account {account} is gone")
            continue
        balance = snapshot.customers[account][1]
        total += balance
        incoming = sum((a for _, (s, d, a) in snapshot.transfers.items() if d == account), Decimal("0"))
        outgoing = sum((a for _, (s, d, a) in snapshot.transfers.items() if s == account), Decimal("0"))
        if balance != OPENING_BALANCE + incoming - outgoing:
            result.failures.append(f"account {account}: balance {balance} but ledger says "
                                   f"{OPENING_BALANCE + incoming - outgoing}")
    if total != OPENING_BALANCE * len(accounts):
        result.failures.append(f"accounts hold {total}, expected {OPENING_BALANCE * len(accounts)}")
    negative = [i for i, (_, balance) in snapshot.customers.items() if balance < 0]
    if negative:
        result.failures.append(f"negative balances on customers {negative[:10]}")


# ------------------------------------------------------------------------------------------------
# Phases and the report
# ------------------------------------------------------------------------------------------------

@dataclass
class PhaseResult:
    fault: str
    stats: PhaseStats
    lost: int
    duplicates: int
    invariant: bool
    recovery: float | None
    note: str
    failures: list


class Bench:
    def __init__(self, timing):
        self.timing = timing
        self.pg = None
        self.proxy = None
        self.service = None
        self.monitor = None
        self.events = None
        self.load = None
        self.accounts = []
        self.acks = Acknowledged()
        self.reported_lost = set()
        self.reported_duplicates = set()

    def set_up(self):
        os.makedirs(OUT, exist_ok=True)
        self.events = EventLog(os.path.join(OUT, "faults-client.log"))
        self.pg = Postgres()
        self.pg.start()
        log(f"PostgreSQL {os.path.basename(os.path.dirname(self.pg.bin))} on 127.0.0.1:{self.pg.port}")
        self.proxy = FaultProxy(self.pg.port)
        self.proxy.start()
        log(f"proxy on 127.0.0.1:{self.proxy.port}")
        self.service = Service(self.proxy.port)
        self.service.start()
        log(f"service ready on 127.0.0.1:{self.service.port} (pid {self.service.pid})")
        self.accounts = self.seed_accounts()
        self.monitor = ReadinessMonitor(self.service)
        self.monitor.start()
        self.load = Load(self.service, self.accounts, self.acks, self.events)

    def seed_accounts(self):
        run = uuid.uuid4().hex[:8]
        ids = []
        for i in range(ACCOUNTS):
            body = json.dumps({"name": f"Account {i}", "email": f"account-{i}-{run}@example.org",
                               "creditBalance": 1000.00}).encode()
            reply = call(self.service.port, "POST", "/customers", body=body)
            if reply.status != 201:
                raise RuntimeError(f"seeding account {i} failed: {reply.label()} {reply.body[:300]!r}")
            ids.append(reply.json()["id"])
        log(f"seeded accounts {ids}")
        return ids

    def faults(self):
        return [
            ("pg restart fast", lambda: restart_postgres(self.pg, "fast")),
            ("pg restart immediate", lambda: restart_postgres(self.pg, "immediate")),
            ("terminate backends x3", lambda: terminate_service_backends(self.pg)),
            ("network freeze+reset", lambda: freeze_network(self.proxy)),
            ("lock storm/deadlocks", lambda: lock_storm(self.pg, self.accounts)),
            ("pool starvation", lambda: starve_pool(self.pg, self.load)),
        ]

    def run_phase(self, name, inject):
        log(f"phase '{name}': load for {self.timing.load_before}s")
        stats = PhaseStats(name)
        self.load.start(stats)
        time.sleep(self.timing.load_before)
        fault_start = time.monotonic()
        try:
            note = inject()
        except Exception as e:  # a fault that could not be injected is reported, not fatal
            note = f"injection failed: {e}"
        fault_end = time.monotonic()
        log(f"  fault done in {fault_end - fault_start:.1f}s ({note}); load for {self.timing.load_after}s more")
        time.sleep(self.timing.load_after)
        self.load.stop()
        recovery = self.measure_recovery(stats, fault_end)
        if self.monitor.went_down_between(fault_start, time.monotonic()):
            note += "; readiness went DOWN"
        return self.check_phase(name, stats, recovery, note)

    def measure_recovery(self, stats, fault_end):
        """Seconds from the fault's end until a request succeeded AND readiness was UP again."""
        first_success = stats.first_success_after(fault_end)
        first_ready = self.monitor.first_ready_after(fault_end)
        deadline = time.monotonic() + 60
        while (first_success is None or first_ready is None) and time.monotonic() < deadline and self.service.alive():
            # the load window ended before recovery: keep probing on our own
            if first_success is None:
                reply = call(self.service.port, "GET", f"/customers/{self.accounts[0]}", timeout=5)
                if reply.status == 200:
                    first_success = reply.finished
            first_ready = first_ready or self.monitor.first_ready_after(fault_end)
            time.sleep(0.25)
        if first_success is None or first_ready is None:
            return None
        return max(first_success, first_ready) - fault_end

    def check_phase(self, name, stats, recovery, note):
        result = audit(read_snapshot(self.pg), self.acks, self.accounts)
        if not self.service.alive():
            result.failures.append("the service process died")
        if recovery is None:
            result.failures.append("the service did not recover within 60 s")
        new_lost = result.lost - self.reported_lost
        new_duplicates = result.duplicates - self.reported_duplicates
        self.reported_lost |= result.lost
        self.reported_duplicates |= result.duplicates
        held = not result.failures
        if stats.replays:
            note += f"; {stats.replays} replays"
        for failure in result.failures[:20]:
            log(f"  INVARIANT: {failure}")
        log(f"  {stats.requests} requests, {dict(stats.finals)}, recovery "
            f"{'-' if recovery is None else f'{recovery:.1f}s'}, invariant {'held' if held else 'BROKEN'}")
        return PhaseResult(name, stats, len(new_lost), len(new_duplicates), held, recovery, note, result.failures)

    def tear_down(self):
        # each step on its own: one failing must not leave the others running
        for step in (lambda: self.load and self.load.stop(), lambda: self.monitor and self.monitor.stop(),
                     lambda: self.service and self.service.stop(), lambda: self.proxy and self.proxy.stop(),
                     lambda: self.pg and self.pg.stop(), lambda: self.pg and self.pg.remove(),
                     lambda: self.events and self.events.close()):
            try:
                step()
            except Exception as e:
                log(f"clean-up step failed: {e}")


def print_table(results):
    header = ["fault", "requests", "attempts", "2xx", "4xx", "503", "other", "lost", "dups", "invariant",
              "recovery s", "note"]
    rows = [[r.fault, r.stats.requests, r.stats.attempts, r.stats.finals["2xx"], r.stats.finals["4xx"],
             r.stats.finals["503"], r.stats.finals["other"], r.lost, r.duplicates, "yes" if r.invariant else "no",
             "-" if r.recovery is None else f"{r.recovery:.1f}", r.note] for r in results]
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    left = {0, len(header) - 1}  # text columns left-aligned, numbers right-aligned
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print()
    for r in results:
        detail = ", ".join(f"{k}×{v}" for k, v in sorted(r.stats.statuses.items()))
        print(f"{r.fault}: {detail}")


def write_results(results, path):
    with open(path, "w") as out:
        json.dump([{"fault": r.fault, "requests": r.stats.requests, "attempts": r.stats.attempts,
                    "finals": dict(r.stats.finals), "statuses": dict(r.stats.statuses), "lost": r.lost,
                    "duplicates": r.duplicates, "invariant": r.invariant, "recovery_seconds": r.recovery,
                    "note": r.note, "failures": r.failures} for r in results], out, indent=2)


def interrupt(signum, frame):
    """SIGTERM behaves like Ctrl-C, so main's finally block still cleans up."""
    raise KeyboardInterrupt()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short phases (about 1.5 minutes in total)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, interrupt)

    bench = Bench(QUICK if args.quick else FULL)
    results = []
    died = False
    try:
        bench.set_up()
        for name, inject in bench.faults():
            results.append(bench.run_phase(name, inject))
            if not bench.service.alive():
                died = True
                log("the service died: stopping here")
                break
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except Exception as e:
        log(f"benchmark could not run: {e}")
        return 2
    finally:
        bench.tear_down()
        if results:
            print()
            print_table(results)
            write_results(results, os.path.join(OUT, "faults-results.json"))
        log(f"logs in {os.path.relpath(OUT, os.getcwd())}/faults-*.log, "
            f"{bench.events.count if bench.events else 0} unexpected client outcomes logged")
    broken = died or any(r.lost or r.duplicates or not r.invariant for r in results)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
