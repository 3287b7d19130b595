#!/usr/bin/env python3
"""The transaction-pooling PgBouncer set-up of docs/kubernetes.md, run for real in front of the service.

Reads the guide (docs/kubernetes.md, "PgBouncer in front of PostgreSQL"): its pgbouncer.ini block, its
ALTER ROLE statements and the environment variables it tells users to set. Starts a private
PostgreSQL (Debian's binaries, as user postgres) with a role `bastion` (scram-sha-256), PgBouncer
(Debian's package, as user postgres, on a free port) with that pgbouncer.ini, in which only the
host and port of the database, listen_addr, listen_port, the auth_file path and the socket directory
are changed, the schema migrated directly against PostgreSQL (as the guide's migration Job does), and
the packaged service pointed at PgBouncer with exactly the guide's variables, not migrating (and
BASTION_IDEMPOTENCY_CLEANUP_INTERVAL=1). Then, through PgBouncer:

  * concurrent creates, keyed creates and keyed credit adjustments (each repeated with its key:
    same answer, one effect), transfers and savepoint imports, audited in PostgreSQL directly;
  * expired idempotency keys written into PostgreSQL are removed by the service's periodic clean-up,
    and no advisory lock is left behind (a session-level one would outlive its transaction);
  * PgBouncer's max_client_conn lowered (reloaded) to the client connections the service holds, with more
    readers than those: PgBouncer refuses each new one (FATAL 08P01), every read is served on the ones
    held, the breaker stays closed and readiness UP;
  * a restart of PostgreSQL behind PgBouncer under light load: writes succeed again within 15 s
    without restarting the service, every acknowledged write is there, a keyed write whose outcome
    was unknown resolves to one effect when repeated;
  * at the end, no server session idle in transaction, no advisory lock, no statement the server saw
    as a named prepared statement, no 500 other than commit-outcome-unknown.

The test breaks when the guide does: the ini block, the SQL and the variables are parsed out of the
README. Exits 0 when every check holds, 1 when one fails, 2 when it cannot set itself up.

    python3 bench/pgbouncer/run.py            # 8 clients, 30 s of mixed load
    python3 bench/pgbouncer/run.py --quick    # 8 clients, 6 s of mixed load (CI, under a minute)

Results: bench/out/pgbouncer.json; logs: bench/out/pgbouncer-*.log. Python 3.11 standard library only.
"""
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
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from httpload import KeepAlive, percentile  # noqa: E402

GUIDE = os.path.join(harness.ROOT, "docs", "kubernetes.md")
GUIDE_SECTION = "## PgBouncer in front of PostgreSQL"
MIGRATIONS = os.path.join(harness.ROOT, "src", "main", "resources", "db", "migration")
PGBOUNCER = "/usr/sbin/pgbouncer"
ROLE = "bastion"             # the role the guide's ALTER ROLE statements and userlist name
PASSWORD = "pgbouncer-bench-secret"
ACCOUNTS = 10
OPENING_BALANCE = Decimal("1000.00")
RECOVERY_ALLOWED = 15        # seconds from PostgreSQL back up to writes succeeding again, steadily
STEADY = 3                   # seconds of writes all succeeding that make a recovery steady
CAP_READERS = 24             # more readers than the connections the service holds: its pool wants more
HTTP_TIMEOUT = 40            # above the service's request deadline (30 s): a slow answer is measured, not cut
UNKNOWN_OUTCOME = "commit-outcome-unknown"
IMPORT_REJECTS = [4, 5]      # the rows of each import the database must refuse (see import_rows)
OPERATIONS = {"create": 2, "keyed create": 2, "keyed adjustment": 3, "transfer": 3, "import": 1}
TABLE = harness.Columns(("phase", "<8"), ("operation", "<25"), ("requests", ">8"), ("2xx", ">6"), ("4xx", ">4"),
                        ("5xx", ">4"), ("err", ">4"), ("p50 ms", ">8.1f"), ("p99 ms", ">8.1f"))


class SetupError(Exception):
    """Something this bench needs could not be set up (exit 2), as opposed to a check that failed."""


# ------------------------------------------------------------------------------------------------
# The guide
# ------------------------------------------------------------------------------------------------

@dataclass
class Guide:
    ini: str                    # the pgbouncer.ini block, verbatim
    role_sql: list              # the ALTER ROLE / ALTER DATABASE ... SET statements
    env: dict                   # the variables it tells users to set on the service
    table: list                 # rows (parameter, through-PgBouncer column) of the start-up parameter table


def read_guide(path=GUIDE):
    """The PgBouncer section of the guide, taken apart. Raises ValueError when a piece is missing."""
    with open(path) as f:
        text = f.read()
    start = text.find(GUIDE_SECTION)
    if start < 0:
        raise ValueError(f"{os.path.relpath(path, harness.ROOT)} has no section {GUIDE_SECTION!r}")
    following = re.search(r"^## ", text[start + len(GUIDE_SECTION):], re.M)
    section = text[start:start + len(GUIDE_SECTION) + following.start()] if following else text[start:]
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", section, re.M | re.S)
    ini = [body for lang, body in blocks if lang == "ini"]
    if len(ini) != 1:
        raise ValueError(f"the guide's PgBouncer section holds {len(ini)} ini blocks, expected 1")
    role_sql = []
    for lang, body in blocks:
        if lang == "sql":
            for line in body.splitlines():
                statement = line.split("--", 1)[0].strip()
                if re.match(r"ALTER\s+(ROLE|DATABASE)\s+\S+\s+SET\s+", statement, re.I):
                    role_sql.append(statement)
    env = {}
    for lang, body in blocks:
        if lang == "yaml":
            for key, value in re.findall(r'^\s*([A-Z][A-Z0-9_]*):\s*"?([^"\n]*?)"?\s*$', body, re.M):
                env[key] = value
    if not env:
        raise ValueError("the guide's PgBouncer section sets no service variable (no yaml block)")
    table = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4:
            for name in re.findall(r"`([^`]+)`", cells[0]):
                table.append((name, cells[3]))
    return Guide(ini[0], role_sql, env, table)


def ini_settings(ini):
    """{(section, key): value} of an ini text (';' and '#' comments)."""
    settings, section = {}, None
    for line in ini.splitlines():
        line = line.strip()
        if not line or line.startswith((";", "#")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings[(section, key.strip())] = value.strip()
    return settings


def local_ini(ini, db_port, listen_port, auth_file, socket_dir):
    """The guide's pgbouncer.ini with only what differs on this machine changed: the database's host and
    port, listen_addr, listen_port, auth_file, and (added) unix_socket_dir. Raises ValueError when one of
    the lines to change is not there."""
    replaced = Counter()
    lines = []
    section = None
    substitutions = {"listen_addr": "127.0.0.1", "listen_port": str(listen_port), "auth_file": auth_file}
    for line in ini.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.strip("[]")
            lines.append(line)
            if section == "pgbouncer":
                lines.append(f"unix_socket_dir = {socket_dir}")
            continue
        if stripped and not stripped.startswith((";", "#")) and "=" in stripped:
            key, _, value = stripped.partition("=")
            key = key.strip()
            if section == "databases":
                value = re.sub(r"\bhost=\S+", "host=127.0.0.1", value)
                value = re.sub(r"\bport=\d+", f"port={db_port}", value)
                line = f"{key} = {value.strip()}"
                replaced["databases"] += 1
            elif section == "pgbouncer" and key in substitutions:
                line = f"{key} = {substitutions[key]}"
                replaced[key] += 1
        lines.append(line)
    missing = [k for k in ["databases", *substitutions] if not replaced[k]]
    if missing:
        raise ValueError(f"the guide's pgbouncer.ini has no {', '.join(missing)}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------
# PgBouncer
# ------------------------------------------------------------------------------------------------

class PgBouncer(harness._Process):
    """PgBouncer as user postgres, on a free port, from a temporary directory; its log (stderr) goes to
    bench/out/<name>.log."""

    def __init__(self, ini_text_for, name="pgbouncer-pgbouncer"):
        self.port = harness.free_port()
        self.dir = tempfile.mkdtemp(prefix="bastion-bench-pgbouncer-")
        self.auth_file = os.path.join(self.dir, "userlist.txt")
        self.ini_path = os.path.join(self.dir, "pgbouncer.ini")
        self.ini = ini_text_for(self.port, self.auth_file, self.dir)
        self.log_path = harness.out_path(f"{name}.log")
        self.process = None

    def write_userlist(self, entries):
        with open(self.auth_file, "w") as f:
            for user, secret in entries.items():
                f.write(f'"{user}" "{secret}"\n')

    def start(self, timeout=15):
        with open(self.ini_path, "w") as f:
            f.write(self.ini)
        for path in (self.dir, self.ini_path, self.auth_file):
            shutil.chown(path, "postgres", "postgres")
        os.chmod(self.auth_file, 0o600)
        with open(self.log_path, "w") as out:
            self.process = subprocess.Popen(["runuser", "-u", "postgres", "--", PGBOUNCER, self.ini_path],
                                            cwd=self.dir, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

        def listening():
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited ({self.process.returncode}): {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                return False

        if not harness.wait_until(listening, timeout):
            raise RuntimeError(f"pgbouncer not listening on {self.port} after {timeout}s: {self.log_tail()}")
        return self

    def reload_with(self, **settings):
        """Rewrites the given [pgbouncer] settings in its ini and makes PgBouncer reload it (SIGHUP to the
        pgbouncer process itself: runuser, its parent, would take the signal as the end of its session)."""
        lines = []
        for line in self.ini.splitlines():
            key = line.partition("=")[0].strip()
            lines.append(f"{key} = {settings[key]}" if key in settings and "=" in line else line)
        self.ini = "\n".join(lines) + "\n"
        with open(self.ini_path, "w") as f:
            f.write(self.ini)
        pids = subprocess.run(["pgrep", "-f", f"^{PGBOUNCER} {re.escape(self.ini_path)}$"], capture_output=True,
                              text=True).stdout.split()
        if len(pids) != 1:
            raise RuntimeError(f"pgbouncer's own process not found ({pids})")
        os.kill(int(pids[0]), signal.SIGHUP)
        time.sleep(0.5)

    def setting(self, key):
        return ini_settings(self.ini).get(("pgbouncer", key))

    def log_tail(self, lines=10):
        try:
            with open(self.log_path) as f:
                return " | ".join(f.read().splitlines()[-lines:])
        except OSError:
            return ""

    def log_lines(self, pattern):
        with open(self.log_path) as f:
            return [line.rstrip() for line in f if re.search(pattern, line)]

    def psql(self, sql, user=ROLE, password=PASSWORD, database="bastion"):
        """A libpq client through PgBouncer (scram-sha-256 with the userlist); returns its output."""
        result = subprocess.run([harness.PSQL, "-X", "-q", "-A", "-t", "-F", "\t", "-h", "127.0.0.1",
                                 "-p", str(self.port), "-U", user, "-d", database, "-w", "-v", "ON_ERROR_STOP=1"],
                                input=sql, capture_output=True, text=True, timeout=30,
                                env={**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5"})
        if result.returncode != 0:
            raise RuntimeError(f"psql through pgbouncer failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def stop(self):
        if self.process and self.process.poll() is None:
            # SIGTERM: PgBouncer's immediate shutdown (the service is already stopped)
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


def pgbouncer_version():
    out = subprocess.run([PGBOUNCER, "--version"], capture_output=True, text=True).stdout
    match = re.search(r"PgBouncer (\S+)", out)
    return match.group(1) if match else out.strip()


# ------------------------------------------------------------------------------------------------
# Clients and what they saw
# ------------------------------------------------------------------------------------------------

@dataclass
class Record:
    phase: str
    operation: str
    method: str
    path: str
    body: dict | None
    key: str | None
    status: int | None
    text: str
    headers: dict
    sent: float
    elapsed: float
    replay: bool = False

    def kind(self):
        try:
            return json.loads(self.text).get("kind")
        except (ValueError, AttributeError):
            return None

    def json(self):
        return json.loads(self.text)

    def ok(self):
        return self.status is not None and 200 <= self.status < 300


class Recorder:
    def __init__(self):
        self.records = []
        self.lock = threading.Lock()

    def send(self, connection, phase, operation, method, path, body=None, key=None, replay=False):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        sent = time.monotonic()
        reply = connection.request(method, path, json.dumps(body).encode() if body is not None else None, headers)
        record = Record(phase, operation, method, path, body, key, reply.status,
                        reply.text if reply.status is not None else f"connection: {reply.error}", reply.headers,
                        sent, reply.elapsed, replay)
        with self.lock:
            self.records.append(record)
        return record

    def of(self, phase=None, operation=None, replay=None):
        with self.lock:
            return [r for r in self.records if (phase is None or r.phase == phase)
                    and (operation is None or r.operation == operation) and (replay is None or r.replay == replay)]


class Run:
    """What one run sets up, does and finds; each check is (name, ok, detail)."""

    def __init__(self, quick, clients):
        self.quick, self.clients = quick, clients
        self.tag = uuid.uuid4().hex[:8]  # in every e-mail and key of this run
        self.recorder = Recorder()
        self.checks = []
        self.findings = []   # service or guide problems, in words, for the report
        self.durations = {}
        self.counts = {}
        self.accounts = []   # ids of the customers credit moves between
        self.account_emails = []
        self.moments = {}    # name: time.monotonic() of a moment of the run, for the client log

    def check(self, name, ok, detail=""):
        self.checks.append((name, bool(ok), str(detail)))
        if not ok:
            harness.log(f"CHECK FAILED: {name}: {detail}")
        return ok

    def email(self, *parts):
        return f"pgb-{self.tag}-{'-'.join(str(p) for p in parts)}@example.org"

    def key(self, *parts):
        return f"pgb-{self.tag}-{'-'.join(str(p) for p in parts)}"


def import_rows(run, thread, n, taken_email):
    """Six rows: four new customers, then one whose e-mail an account already has and one that repeats
    the first row's e-mail in other letter case: the database refuses the last two (IMPORT_REJECTS)."""
    rows = [{"name": f"Imported {i}", "email": run.email("imp", thread, n, i), "creditBalance": "5.00"} for i in range(4)]
    rows.append({"name": "Imported taken", "email": taken_email})
    rows.append({"name": "Imported twice", "email": rows[0]["email"].upper()})
    return {"customers": rows}


def mixed_client(run, service, deadline, thread):
    """One keep-alive client sending the mix until the deadline; each keyed request is repeated with
    its key right after its first answer."""
    rng = random.Random(f"{run.tag}-{thread}")
    connection = KeepAlive(service.port, HTTP_TIMEOUT)
    send = run.recorder.send
    n = 0
    while time.monotonic() < deadline:
        n += 1
        operation = rng.choices(list(OPERATIONS), weights=list(OPERATIONS.values()))[0]
        if operation in ("create", "keyed create"):
            body = {"name": f"Client {thread}", "email": run.email("c", thread, n), "creditBalance": "10.00"}
            key = run.key("c", thread, n) if operation == "keyed create" else None
            first = send(connection, "mixed", operation, "POST", "/customers", body, key)
            if key and first.ok():
                send(connection, "mixed", operation, "POST", "/customers", body, key, replay=True)
        elif operation == "keyed adjustment":
            account = rng.choice(run.accounts)
            amount = Decimal(rng.randint(-500, 500) or 1) / 100
            body, key = {"amount": str(amount)}, run.key("a", thread, n)
            path = f"/customers/{account}/credit-adjustments"
            first = send(connection, "mixed", operation, "POST", path, body, key)
            if first.ok():
                send(connection, "mixed", operation, "POST", path, body, key, replay=True)
        elif operation == "transfer":
            source, target = rng.sample(run.accounts, 2)
            body = {"from": source, "to": target, "amount": str(Decimal(rng.randint(1, 500)) / 100)}
            send(connection, "mixed", operation, "POST", "/customers/transfers", body)
        else:
            body = import_rows(run, thread, n, run.account_emails[rng.randrange(ACCOUNTS)])
            key = run.key("i", thread, n) if rng.random() < 0.5 else None
            first = send(connection, "mixed", operation, "POST", "/customers/import", body, key)
            if key and first.ok():
                send(connection, "mixed", operation, "POST", "/customers/import", body, key, replay=True)


def light_client(run, service, stop, thread):
    """Creates, every other one keyed, about 20 a second, until stopped."""
    connection = KeepAlive(service.port, HTTP_TIMEOUT)
    n = 0
    while not stop.is_set():
        n += 1
        body = {"name": f"Light {thread}", "email": run.email("r", thread, n)}
        key = run.key("r", thread, n) if n % 2 else None
        run.recorder.send(connection, "restart", "keyed create" if key else "create", "POST", "/customers", body, key)
        stop.wait(0.05)


def run_clients(target, count, *args):
    threads = [threading.Thread(target=target, args=(*args, i), daemon=True, name=f"client-{i}") for i in range(count)]
    harness.start_all(threads)
    return threads


# ------------------------------------------------------------------------------------------------
# The phases
# ------------------------------------------------------------------------------------------------

def check_guide(run, guide):
    """What the guide says must hang together: transaction pooling, every start-up parameter the table
    routes through ignore_startup_parameters listed there, and every role setting it names in the SQL."""
    settings = ini_settings(guide.ini)
    run.check("guide: pool_mode = transaction", settings.get(("pgbouncer", "pool_mode")) == "transaction",
              settings.get(("pgbouncer", "pool_mode")))
    ignored = {p.strip() for p in settings.get(("pgbouncer", "ignore_startup_parameters"), "").split(",") if p.strip()}
    routed = {name for name, through in guide.table if "ignore_startup_parameters" in through}
    natively = {name for name, through in guide.table if "natively" in through}
    consistent = routed and routed <= ignored and not (natively & ignored)
    run.check("guide: table's ignored parameters in the ini", consistent,
              f"{len(routed)} in the table, all in ignore_startup_parameters" if consistent else
              f"not in ignore_startup_parameters: {sorted(routed - ignored)}; listed though handled natively: "
              f"{sorted(natively & ignored)}")
    on_role = {name for name, through in guide.table if "ALTER ROLE" in through}
    set_in_sql = {m.group(1) for s in guide.role_sql if (m := re.search(r"\bSET\s+(\w+)", s, re.I))}
    run.check("guide: table's role settings in the SQL", on_role <= set_in_sql,
              f"missing from the ALTER ROLE statements: {sorted(on_role - set_in_sql) or 'none'}")
    run.counts["guide_role_statements"] = len(guide.role_sql)
    run.counts["guide_service_variables"] = sorted(guide.env)


def apply_role_settings(run, pg, bouncer, guide):
    """The guide's ALTER ROLE statements, as a superuser, then what a session through PgBouncer gets."""
    for statement in guide.role_sql:
        pg.psql(statement + ("" if statement.endswith(";") else ";"))
    wrong = []
    for statement in guide.role_sql:
        name, value = re.search(r"\bSET\s+(\w+)\s*(?:=|\bTO\b)\s*(.+?);?$", statement, re.I).groups()
        # the same value SET on a TCP session straight to PostgreSQL, as PostgreSQL prints it back
        wanted = pg.psql(f"SET {name} = {value}; SELECT current_setting('{name}')")
        got = bouncer.psql(f"SELECT current_setting('{name}')")
        if got != wanted:
            wrong.append(f"{name}: {got} (wanted {wanted})")
    run.check("role settings on PgBouncer's server sessions", not wrong,
              "; ".join(wrong) or f"{len(guide.role_sql)} settings as the guide's ALTER ROLE")


def start_service(run, pg, bouncer, guide):
    """As in Kubernetes: the release's migration Job against PostgreSQL itself (the guide: Flyway holds a
    session-level advisory lock, which transaction pooling would leak), then the service against PgBouncer
    with the guide's variables, not migrating (the ConfigMap's DB_MIGRATE_AT_START=false)."""
    env = {**guide.env, "DB_USERNAME": ROLE, "DB_PASSWORD": PASSWORD, "BASTION_IDEMPOTENCY_CLEANUP_INTERVAL": "1"}
    harness.log("the migration Job: directly against PostgreSQL, then the service against PgBouncer")
    migrator = harness.Service(pg.port, env={"DB_USERNAME": ROLE, "DB_PASSWORD": PASSWORD, "DB_MIGRATE_AT_START": "true"},
                               name="pgbouncer-migrate-service")
    try:
        migrator.start(timeout=60)
    except RuntimeError as e:
        raise SetupError(f"the migration does not run directly against PostgreSQL: {e}") from e
    finally:
        migrator.stop()
    check_migrations(run, pg)
    service = harness.Service(bouncer.port, env={"DB_MIGRATE_AT_START": "false", **env}, name="pgbouncer-service",
                              http_timeout=HTTP_TIMEOUT)
    try:
        service.start(timeout=60)
    except RuntimeError as e:
        service.stop()
        run.findings.append({"problem": "the service did not start through PgBouncer on the migrated schema",
                             "error": str(e), "log": log_lines(service.log_path, r"ERROR|FATAL|Exception", 15)})
        run.check("service starts through PgBouncer (schema migrated by the Job, directly)", False, str(e))
        return None
    run.durations["service_start_s"] = round(service.startup_seconds, 2)
    run.check("service starts through PgBouncer (schema migrated by the Job, directly)", True,
              f"ready in {service.startup_seconds:.1f} s")
    return service


def check_migrations(run, pg):
    """The schema history PostgreSQL holds: every migration the service ships, each a success."""
    shipped = len([f for f in os.listdir(MIGRATIONS) if re.match(r"V\d+__.*\.sql$", f)])
    applied, failed = pg.rows("SELECT count(*), count(*) FILTER (WHERE NOT success) FROM flyway_schema_history")[0]
    run.check("schema history: every shipped migration applied", int(applied) == shipped and failed == "0",
              f"{applied} applied ({failed} failed), {shipped} shipped")


def log_lines(path, pattern, limit=None):
    try:
        with open(path, errors="replace") as f:
            lines = [line.rstrip() for line in f if re.search(pattern, line)]
    except OSError:
        return []
    return lines[-limit:] if limit else lines


def open_accounts(run, service):
    connection = KeepAlive(service.port, HTTP_TIMEOUT)
    run.account_emails[:] = [run.email("acct", i) for i in range(ACCOUNTS)]
    for email in run.account_emails:
        record = run.recorder.send(connection, "setup", "create", "POST", "/customers",
                                   {"name": "Account", "email": email, "creditBalance": str(OPENING_BALANCE)})
        if record.status != 201:
            raise RuntimeError(f"opening an account through PgBouncer answered {record.status}: {record.text[:300]}")
        run.accounts.append(record.json()["id"])


def mixed_phase(run, service, pg, seconds):
    started = time.monotonic()
    harness.join_all(run_clients(mixed_client, run.clients, run, service, started + seconds), seconds + HTTP_TIMEOUT * 3)
    run.durations["mixed_load_s"] = round(time.monotonic() - started, 2)
    audit_mixed(run, pg)


def audit_mixed(run, pg):
    records = run.recorder.of("mixed")
    first = [r for r in records if not r.replay]
    replays = [r for r in records if r.replay]
    not_2xx = [r for r in records if not r.ok()]
    run.counts["mixed_requests"] = len(records)
    run.counts["mixed_by_operation"] = dict(Counter(r.operation for r in first))
    run.check("every request under load answered 2xx", not not_2xx,
              f"{len(records)} requests" if not not_2xx else
              "; ".join(f"{r.operation} {r.status} {r.kind()}" for r in not_2xx[:5]) + f" ({len(not_2xx)} in all)")

    # a repeat with the key: the first answer, verbatim, marked replayed
    originals = {(r.operation, r.key): r for r in first if r.key and r.ok()}
    differing = [r for r in replays if r.status != originals[(r.operation, r.key)].status
                 or r.text != originals[(r.operation, r.key)].text or r.headers.get("idempotency-replayed") != "true"]
    run.check("keyed repeats: the first answer, marked replayed", replays and not differing,
              f"{len(replays)} repeats, {len(differing)} differing")

    keyed = [r for r in first if r.key and r.ok()]
    stored = int(pg.psql(f"SELECT count(*) FROM idempotency_key WHERE idempotency_key LIKE 'pgb-{run.tag}-%'"))
    run.check("one stored key per acknowledged keyed request", stored == len(keyed), f"{stored} stored, {len(keyed)} acknowledged")

    # customers: accounts + acknowledged creates (keyed ones once) + what imports created
    created = [r for r in first if r.operation in ("create", "keyed create") and r.status == 201]
    imports = [r for r in first if r.operation == "import" and r.ok()]
    imported = sum(len(r.json()["created"]) for r in imports)
    wanted = ACCOUNTS + len(created) + imported
    have = int(pg.psql(f"SELECT count(*) FROM customer WHERE email LIKE 'pgb-{run.tag}-%'"))
    emails = {row[0] for row in pg.rows(f"SELECT lower(email) FROM customer WHERE email LIKE 'pgb-{run.tag}-%'")}
    missing = [r.body["email"] for r in created if r.body["email"].lower() not in emails]
    run.check("customers: every acknowledged create once, nothing else", have == wanted and not missing,
              f"{have} in PostgreSQL, {wanted} acknowledged, {len(missing)} missing")

    # imports: four rows in, the two taken e-mails refused in their savepoints, the rest committed
    wrong_reports = []
    for r in imports:
        report = r.json()
        rejected = [(x["index"], x["kind"]) for x in report["rejected"]]
        if len(report["created"]) != 4 or rejected != [(i, "unique-violation") for i in IMPORT_REJECTS]:
            wrong_reports.append(report)
        elif any(c["email"].lower() not in emails for c in report["created"]):
            wrong_reports.append(report)
    run.check("savepoint imports: 4 rows in, 2 refused, committed", imports and not wrong_reports,
              f"{len(imports)} imports, {imported} rows created, {len(wrong_reports)} wrong"
              + (f": {json.dumps(wrong_reports[0])[:300]}" if wrong_reports else ""))

    # credit: each account = opening + acknowledged adjustments (once each) + transfers in - transfers out
    expected = {a: OPENING_BALANCE for a in run.accounts}
    for r in first:
        if r.operation == "keyed adjustment" and r.ok():
            expected[int(r.path.split("/")[2])] += Decimal(r.body["amount"])
        elif r.operation == "transfer" and r.ok():
            expected[r.body["from"]] -= Decimal(r.body["amount"])
            expected[r.body["to"]] += Decimal(r.body["amount"])
    ids = ",".join(map(str, run.accounts))
    balances = {int(i): Decimal(b) for i, b in pg.rows(f"SELECT id, credit_balance FROM customer WHERE id IN ({ids})")}
    off = {a: (balances.get(a), e) for a, e in expected.items() if balances.get(a) != e}
    run.check("balances = opening + adjustments (once) + transfers", not off,
              f"{ACCOUNTS} accounts" if not off else f"{len(off)} off, e.g. {next(iter(off.items()))}")

    transfers = [r for r in first if r.operation == "transfer" and r.ok()]
    ledger = pg.rows(f"SELECT count(*), coalesce(sum(amount), 0) FROM credit_transfer WHERE from_id IN ({ids})")[0]
    sent = sum((Decimal(r.body["amount"]) for r in transfers), Decimal("0"))
    run.check("ledger: one row per acknowledged transfer", int(ledger[0]) == len(transfers) and Decimal(ledger[1]) == sent,
              f"{ledger[0]} rows / {ledger[1]} in PostgreSQL, {len(transfers)} / {sent} acknowledged")


def quiet_locks_and_sessions(pg, label):
    """Advisory locks and sessions idle in a transaction once nothing runs: each must go within 3 s
    (a clean-up batch of the service may hold its transaction lock for an instant)."""
    advisory_sql = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
    idle_sql = ("SELECT count(*) FROM pg_stat_activity WHERE datname = 'bastion' "
                "AND state LIKE 'idle in transaction%'")
    advisory = harness.wait_until(lambda: pg.psql(advisory_sql) == "0", 3, 0.1)
    idle = harness.wait_until(lambda: pg.psql(idle_sql) == "0", 3, 0.1)
    details = {}
    if not advisory:
        details["advisory"] = pg.rows("SELECT l.pid, l.classid, l.objid, l.granted, a.state, a.application_name, "
                                      "left(a.query, 120) FROM pg_locks l LEFT JOIN pg_stat_activity a USING (pid) "
                                      "WHERE l.locktype = 'advisory'")
    if not idle:
        details["idle_in_transaction"] = pg.rows("SELECT pid, application_name, state, now() - state_change, "
                                                 "left(query, 120) FROM pg_stat_activity WHERE datname = 'bastion' "
                                                 "AND state LIKE 'idle in transaction%'")
    return bool(advisory), bool(idle), details


def cleanup_phase(run, pg):
    """Expired keys written straight into PostgreSQL: the service's clean-up (every second) removes them
    through PgBouncer, and leaves the live keys and no lock behind."""
    live_sql = "SELECT count(*) FROM idempotency_key WHERE expires_at >= now()"
    live_before = int(pg.psql(live_sql))
    count = 250
    pg.psql(f"""INSERT INTO idempotency_key (idempotency_key, operation, request_hash, response_status, response_body,
                                             created_at, expires_at)
                SELECT 'pgb-{run.tag}-expired-' || g, 'bench.expired', repeat('0', 64), 200, '{{}}',
                       now() - interval '2 days', now() - interval '1 hour'
                  FROM generate_series(1, {count}) g""")
    started = time.monotonic()
    left_sql = f"SELECT count(*) FROM idempotency_key WHERE idempotency_key LIKE 'pgb-{run.tag}-expired-%'"
    gone = harness.wait_until(lambda: pg.psql(left_sql) == "0", 10, 0.1)
    waited = time.monotonic() - started
    run.durations["expired_keys_removed_s"] = round(waited, 2)
    run.check("expired keys removed by the clean-up through PgBouncer", gone,
              f"{count} removed in {waited:.1f} s" if gone else f"{pg.psql(left_sql)} of {count} left after {waited:.0f} s")
    live_after = int(pg.psql(live_sql))
    run.check("clean-up leaves live keys", live_after == live_before, f"{live_before} before, {live_after} after")
    advisory, idle, details = quiet_locks_and_sessions(pg, "after clean-up")
    run.check("no advisory lock left after the clean-up", advisory, details.get("advisory", "none held"))


def service_client_connections(bouncer):
    """TCP connections established to PgBouncer's port: the service's (nothing else connects meanwhile)."""
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( dport = :{bouncer.port} )"],
                         capture_output=True, text=True, timeout=10).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def client_cap_phase(run, service, bouncer, seconds):
    """PgBouncer's max_client_conn reached while the service holds client connections through it (other
    applications' clients took the rest, or a smaller setting was reloaded): PgBouncer refuses each new
    one with FATAL 08P01 "no more connections allowed (max_client_conn)", while those the service holds
    still work. With more readers than those connections, the pool wants to grow: every read must still
    be served on the connections it has, the breaker stay closed and readiness UP."""
    original = bouncer.setting("max_client_conn")
    held = service_client_connections(bouncer)
    harness.log(f"PgBouncer's max_client_conn {original} -> {held}, the client connections the service holds, "
                f"with {CAP_READERS} readers for {seconds:.0f} s")
    breaker, readiness = [], Counter()
    bouncer.reload_with(max_client_conn=held)
    try:
        try:
            bouncer.psql("SELECT 1")
            refusal = "a new client was let in"
        except RuntimeError as e:
            refusal = str(e)
        run.check("PgBouncer refuses one more client at max_client_conn", "max_client_conn" in refusal, refusal[-160:])
        deadline = time.monotonic() + seconds

        def reader(thread):
            connection = KeepAlive(service.port, HTTP_TIMEOUT)
            n = 0
            while time.monotonic() < deadline:
                n += 1
                run.recorder.send(connection, "cap", "read", "GET", f"/customers/{run.accounts[(thread + n) % ACCOUNTS]}")

        readers = run_clients(reader, CAP_READERS)
        while time.monotonic() < deadline:
            breaker.append(service.metric("bastion_db_circuit_breaker_state", {}))
            readiness[service.readiness()] += 1
            time.sleep(0.25)
        harness.join_all(readers, HTTP_TIMEOUT + 5)
        held_at_end = service_client_connections(bouncer)
    finally:
        bouncer.reload_with(max_client_conn=original)
    reads = run.recorder.of("cap")
    statuses = Counter(f"{r.status} {r.kind() or ''}".strip() for r in reads)
    run.counts["client_cap"] = {"held": held, "held_at_end": held_at_end, "reads": len(reads),
                                "by_status": dict(statuses), "readiness": dict(readiness)}
    served = sum(1 for r in reads if r.ok())
    run.check(f"PgBouncer's client cap: every read served on the {held} connections held", reads and served == len(reads),
              f"{served} of {len(reads)} served" + (f"; {dict(statuses)}" if served != len(reads) else ""))
    run.check("PgBouncer's client cap: breaker closed, readiness UP",
              breaker and max(breaker) == 0 and set(readiness) == {200},
              f"breaker states {sorted(set(breaker))}, readiness {dict(readiness)}")
    learned = log_lines(service.log_path, r"PgBouncer refuses new client connections", 3)
    run.check("PgBouncer's client cap: the service learned it", learned, learned[-1][-200:] if learned else "no log line")
    body = {"name": "After the cap", "email": run.email("cap")}
    after = run.recorder.send(KeepAlive(service.port, HTTP_TIMEOUT), "cap", "create", "POST", "/customers", body)
    run.check("PgBouncer's client cap lifted: a create succeeds", after.ok(), f"{after.status} {after.kind() or ''}")


def restart_phase(run, service, pg):
    """Light load; `pg_ctl restart -m fast` behind PgBouncer; writes must succeed again within
    RECOVERY_ALLOWED seconds of PostgreSQL being back, with the same service process."""
    stop = threading.Event()
    clients = run_clients(light_client, 2, run, service, stop)
    time.sleep(2)
    harness.log("restarting PostgreSQL (pg_ctl restart -m fast) behind PgBouncer")
    began = time.monotonic()
    run.moments["restart_began"] = began
    pg.restart("fast")
    back = run.moments["postgres_back"] = time.monotonic()
    run.durations["postgres_restart_s"] = round(back - began, 2)

    def steady_since():
        """The first write answered 2xx after which no write sent has failed, once writes have gone on
        succeeding for STEADY seconds after it; None before that."""
        records = sorted((r for r in run.recorder.of("restart") if r.sent >= began), key=lambda r: r.sent)
        last_failure = max((r.sent for r in records if not r.ok()), default=began)
        first_ok = next((r for r in records if r.ok() and r.sent > last_failure and r.sent >= back), None)
        return first_ok if first_ok and time.monotonic() - (first_ok.sent + first_ok.elapsed) >= STEADY else None

    steady = harness.wait_until(steady_since, RECOVERY_ALLOWED + STEADY + 10, 0.1)
    stop.set()
    harness.join_all(clients, HTTP_TIMEOUT + 5)
    records = run.recorder.of("restart")
    first_ok = min((r.sent + r.elapsed for r in records if r.sent >= back and r.ok()), default=None)
    run.durations["first_write_after_restart_s"] = round(first_ok - back, 2) if first_ok else None
    recovery = steady.sent + steady.elapsed - back if steady else None
    run.durations["write_recovery_s"] = round(recovery, 2) if recovery is not None else None
    run.check(f"writes succeed again, steadily, within {RECOVERY_ALLOWED} s of PostgreSQL back",
              recovery is not None and recovery <= RECOVERY_ALLOWED,
              f"{recovery:.1f} s (first success {first_ok - back:.1f} s)" if recovery is not None else
              f"not steady within {RECOVERY_ALLOWED + 10} s" + (f" (first success {first_ok - back:.1f} s)" if first_ok else ""))
    run.counts["restart_requests"] = len(records)
    run.counts["restart_by_status"] = dict(Counter(f"{r.status} {r.kind() or ''}".strip() for r in records))
    run.counts["restart_failed_after_first_success"] = sum(1 for r in records if first_ok and r.sent >= first_ok and not r.ok())
    run.check("same service process throughout (no restart)", service.alive() and service.ready(), f"pid {service.pid}")

    # acknowledged creates are there; keyed ones whose outcome was unknown (or refused) resolve when repeated
    emails = {row[0] for row in pg.rows(f"SELECT lower(email) FROM customer WHERE email LIKE 'pgb-{run.tag}-r-%'")}
    lost = [r for r in records if r.status == 201 and r.body["email"].lower() not in emails]
    run.check("restart: every acknowledged create is in PostgreSQL", not lost,
              f"{sum(r.status == 201 for r in records)} acknowledged, {len(lost)} missing")
    connection = KeepAlive(service.port, HTTP_TIMEOUT)
    unresolved = []
    repeated = [r for r in records if r.key and not r.ok()]
    deadline = time.monotonic() + RECOVERY_ALLOWED
    for r in repeated:
        # repeated as a client would: again after Retry-After while the answer is a 503
        while True:
            again = run.recorder.send(connection, "resolve", r.operation, r.method, r.path, r.body, r.key, replay=True)
            if again.status != 503 or time.monotonic() >= deadline:
                break
            time.sleep(min(float(again.headers.get("retry-after") or 1), 2))
        if again.status != 201:
            unresolved.append(f"{r.key}: {again.status} {again.kind()}")
    count_sql = "SELECT count(*) FROM customer WHERE lower(email) = ANY(ARRAY[{}]::text[])"
    once = int(pg.psql(count_sql.format(",".join(f"'{r.body['email'].lower()}'" for r in repeated)))) if repeated else 0
    run.check("keyed writes that failed resolve to one effect when repeated", not unresolved and once == len(repeated),
              (f"{len(repeated)} repeated, {once} customers, {len(unresolved)} unresolved"
               + (f": {unresolved[:3]}" if unresolved else "")) if repeated else "no keyed write failed")


def final_checks(run, pg, bouncer, service):
    advisory, idle, details = quiet_locks_and_sessions(pg, "at the end")
    run.check("no server session idle in transaction", idle, details.get("idle_in_transaction", "none"))
    run.check("no advisory lock left at the end", advisory, details.get("advisory", "none held"))

    records = run.recorder.of()
    five_hundreds = [r for r in records if r.status == 500]
    other = [r for r in five_hundreds if r.kind() != UNKNOWN_OUTCOME]
    for r in other[:10]:  # the first ten in full, with their log lines; the rest counted
        incident = None
        try:
            incident = r.json().get("incident")
        except ValueError:
            pass
        run.findings.append({"problem": "500 other than commit-outcome-unknown", "phase": r.phase,
                             "request": f"{r.method} {r.path} {json.dumps(r.body)[:300]}"
                                        + (f" Idempotency-Key: {r.key}" if r.key else ""),
                             "response": r.text[:1000],
                             "log": log_lines(service.log_path, re.escape(incident), 10) if incident else []})
    if len(other) > 10:
        run.findings.append({"problem": f"{len(other) - 10} more 500s other than commit-outcome-unknown",
                             "kinds": dict(Counter(f"{r.operation}: {r.kind()}" for r in other[10:]))})
    run.check("no 500 other than commit-outcome-unknown", not other,
              f"{len(five_hundreds)} 500s, {len(five_hundreds) - len(other)} commit-outcome-unknown")
    errors = [r for r in records if r.status is None]
    run.check("every request answered (no connection error, no timeout)", not errors,
              f"{len(records)} requests" if not errors else f"{len(errors)}: {errors[0].method} {errors[0].path} {errors[0].text}")
    unknown = [r for r in records if r.kind() == UNKNOWN_OUTCOME and r.path == "/customers" and not r.key]
    if unknown:
        emails = ",".join(f"'{r.body['email'].lower()}'" for r in unknown)
        landed = int(pg.psql(f"SELECT count(*) FROM customer WHERE lower(email) IN ({emails})"))
        run.counts["unknown_outcome_creates"] = {"answered": len(unknown), "landed": landed}

    # the statements PostgreSQL saw: no named prepared statement, none missing
    server_log = pg.server_log
    named = log_lines(server_log, r"LOG:\s+execute (?!<unnamed>)[^\s:]+:")
    unnamed = log_lines(server_log, r"LOG:\s+execute <unnamed>[/:]")
    missing = log_lines(server_log, r"prepared statement .* (does not exist|already exists)")
    run.counts["server_statements_unnamed"] = len(unnamed)
    run.check("only unnamed prepared statements reached PostgreSQL", unnamed and not named and not missing,
              f"{len(unnamed)} unnamed, {len(named)} named, {len(missing)} errors"
              + (f": {(named or missing)[0][:200]}" if named or missing else ""))
    refused = bouncer.log_lines(r"unsupported startup parameter")
    run.check("PgBouncer refused no start-up parameter", not refused, refused[0][:200] if refused else "none")
    run.counts["service_log_error_lines"] = len(log_lines(service.log_path, r"\bERROR\b"))


# ------------------------------------------------------------------------------------------------
# The report
# ------------------------------------------------------------------------------------------------

def write_client_log(run, origin):
    """Every request of the run, one JSON object a line, times in seconds from the start of the run."""
    with open(harness.out_path("pgbouncer-client.log"), "w") as f:
        for r in sorted(run.recorder.of(), key=lambda r: r.sent):
            f.write(json.dumps({"t": round(r.sent - origin, 3), "elapsed": round(r.elapsed, 3), "phase": r.phase,
                                "operation": r.operation, "repeat": r.replay, "path": r.path, "key": r.key,
                                "status": r.status, "kind": r.kind(), "retry_after": r.headers.get("retry-after"),
                                "body": r.text[:300] if not r.ok() else None}) + "\n")
    for name, moment in run.moments.items():
        run.durations[f"{name}_at_s"] = round(moment - origin, 2)


def print_operations(run):
    print()
    TABLE.print_header()
    for phase in ("setup", "mixed", "cap", "restart", "resolve"):
        records = run.recorder.of(phase)
        for operation in dict.fromkeys(r.operation + (" (repeat)" if r.replay else "") for r in records):
            rows = [r for r in records if r.operation + (" (repeat)" if r.replay else "") == operation]
            statuses = Counter((r.status or 0) // 100 for r in rows)
            latencies = sorted(r.elapsed * 1000 for r in rows)
            TABLE.print_row(phase, operation, len(rows), statuses[2], statuses[4], statuses[5], statuses[0],
                            percentile(latencies, 0.5), percentile(latencies, 0.99))


def report(run, versions, started):
    write_client_log(run, started)
    run.durations["total_s"] = round(time.monotonic() - started, 1)
    print()
    print(f"PgBouncer {versions.get('pgbouncer')} (transaction pooling, docs/kubernetes.md's pgbouncer.ini) in front of "
          f"PostgreSQL {versions.get('postgres')}, {run.clients} clients, {harness.machine_description()}")
    width = max((len(name) for name, _, _ in run.checks), default=5)
    print(f"{'check':<{width}}  result  detail")
    print(f"{'-' * width}  ------  {'-' * 40}")
    for name, ok, detail in run.checks:
        print(f"{name:<{width}}  {'ok' if ok else 'FAIL':<6}  {detail[:120]}")
    print("durations: " + ", ".join(f"{k} {v}" for k, v in run.durations.items()))
    if run.findings:
        print(f"findings ({len(run.findings)}):")
        for finding in run.findings:
            print(f"  {json.dumps(finding)[:1500]}")
    failed = sum(not ok for _, ok, _ in run.checks)
    print(f"pgbouncer: {len(run.checks) - failed} passed, {failed} failed")
    with open(harness.out_path("pgbouncer.json"), "w") as f:
        json.dump({"quick": run.quick, "clients": run.clients, "versions": versions,
                   "checks": [{"check": n, "ok": ok, "detail": d} for n, ok, d in run.checks],
                   "counts": run.counts, "durations": run.durations, "findings": run.findings}, f, indent=2, default=str)
    return 1 if failed else 0


def main():
    parser = harness.argument_parser(__doc__, "6 s of mixed load (CI)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=None, help="mixed load duration (default 30, quick 6)")
    args = parser.parse_args()
    run = Run(args.quick, args.clients)
    seconds = args.seconds or (6 if args.quick else 30)
    started = time.monotonic()
    versions = {}

    try:
        guide = read_guide()
    except (OSError, ValueError) as e:
        run.check("guide: the PgBouncer set-up can be read", False, e)
        return report(run, versions, started)
    check_guide(run, guide)

    try:
        harness.ensure_packages({PGBOUNCER: "pgbouncer", "/usr/lib/postgresql/*/bin/postgres": "postgresql",
                                 "psql": "postgresql-client"})
        versions["pgbouncer"] = pgbouncer_version()
        harness.build_app_when_missing()  # BASTION_APP_DIR, or target/quarkus-app
        # log_statement: the server log tells named prepared statements from unnamed ones
        pg = harness.Postgres({"log_statement": "'all'"}, name="pgbouncer-postgres")
    except (subprocess.SubprocessError, OSError, RuntimeError) as e:
        harness.log(f"cannot set up: {e}")
        return 2

    services = []
    bouncer = None
    try:
        try:
            pg.start()
            versions["postgres"] = pg.psql("SHOW server_version")
            pg.add_password_role(ROLE, PASSWORD)
            secret = pg.psql(f"SELECT rolpassword FROM pg_authid WHERE rolname = '{ROLE}'")
        except (subprocess.SubprocessError, OSError, RuntimeError) as e:
            raise SetupError(f"PostgreSQL: {e}") from e
        try:
            bouncer = PgBouncer(lambda port, auth, sockets: local_ini(guide.ini, pg.port, port, auth, sockets))
        except ValueError as e:
            run.check("guide's pgbouncer.ini usable here", False, e)
            return report(run, versions, started)
        bouncer.write_userlist({ROLE: secret})
        try:
            bouncer.start()
            run.check("PgBouncer starts with the guide's pgbouncer.ini", True, f"port {bouncer.port}")
        except RuntimeError as e:
            run.check("PgBouncer starts with the guide's pgbouncer.ini", False, e)
            return report(run, versions, started)
        try:
            return exercise(run, pg, bouncer, guide, seconds, versions, started, lambda s: services.append(s))
        except (SetupError, KeyboardInterrupt):
            raise
        except Exception as e:  # noqa: BLE001 - a bug or a surprise answer: a failed run, reported
            import traceback
            traceback.print_exc()
            run.check("the bench ran to its end", False, f"{type(e).__name__}: {e}")
            return report(run, versions, started)
    except SetupError as e:
        harness.log(f"cannot set up: {e}")
        return 2
    finally:
        for service in services:
            service.stop()
        if bouncer:
            bouncer.stop()
        pg.stop()


def exercise(run, pg, bouncer, guide, seconds, versions, started, keep):
    """Everything after PgBouncer is up: the role settings, the service, the phases, the report."""
    apply_role_settings(run, pg, bouncer, guide)

    service = start_service(run, pg, bouncer, guide)
    if service is None:
        return report(run, versions, started)
    keep(service)
    try:
        open_accounts(run, service)
    except RuntimeError as e:
        run.check("accounts opened through PgBouncer", False, e)
        run.findings.append({"problem": "a plain create through PgBouncer failed", "error": str(e),
                             "log": log_lines(service.log_path, r"ERROR|FATAL|Exception", 15)})
        return report(run, versions, started)
    harness.log(f"mixed load through PgBouncer: {run.clients} clients x {seconds:.0f} s")
    mixed_phase(run, service, pg, seconds)
    advisory, idle, details = quiet_locks_and_sessions(pg, "after the load")
    run.check("no advisory lock or open transaction after the load", advisory and idle, details or "none")
    cleanup_phase(run, pg)
    client_cap_phase(run, service, bouncer, 3 if run.quick else 10)
    restart_phase(run, service, pg)
    final_checks(run, pg, bouncer, service)
    print_operations(run)
    return report(run, versions, started)


if __name__ == "__main__":
    harness.run(main)
