"""The fault bench's phases: what each fault does to PostgreSQL, the network or the service's clients,
and the checks of its own (Phase, Fault; faults(bench) lists the phases in the order they run)."""
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
import httpload  # noqa: E402
from audit import (OPENING_BALANCE, TRANSFER_OPERATION, describe_gauge, p99, samples_of,  # noqa: E402
                   service_sessions, tally, wait_for_no_idle_transactions)
from harness import READINESS_TIMEOUT, readiness_summary, wait_until  # noqa: E402
from load import UNKNOWN_OUTCOME, TransferAck, retry_after_seconds  # noqa: E402

REQUEST_DEADLINE = 10                     # DB_REQUEST_TIMEOUT: the most one request may spend on the database
WRITE_RECOVERY_ALLOWED = 10               # after the network returns, a write must succeed within this
PROMOTE_AFTER = 3                         # seconds the stable address points at a standby still read-only

MAX_CONNECTIONS_PER_ROW = 2             # DB_MAX_CONNECTIONS_PER_ROW: writers of one row holding a connection at once
SERVICE_ROLE = "bastion_app"              # the service's login role: no superuser, scram-sha-256 password from a file


# ------------------------------------------------------------------------------------------------
# Faults: each blocks for the fault's duration and returns a short note
# ------------------------------------------------------------------------------------------------

def restart_postgres(pg, mode):
    pg.restart(mode)
    return f"pg_ctl restart -m {mode}"


def terminate_service_backends(pg, rounds=3, pause=1.0):
    killed = []
    for i in range(rounds):
        rows = pg.rows("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE application_name = 'bastion'")
        killed.append(rows[0][0])
        if i < rounds - 1:
            time.sleep(pause)
    return f"terminated {'+'.join(killed)} backends"


def cancel_service_statements(bench, seconds=3.0, pause=0.01):
    """pg_cancel_backend of every statement the service is running, every `pause` s for `seconds`: the
    sessions live on, their transactions roll back and are run again (statement-cancelled)."""
    def retried():
        reply = httpload.call(bench.service.management_port, "GET", "/q/metrics", timeout=10)
        return httpload.prometheus_sum(reply.text, "bastion_db_retries_total", {"kind": "statement-cancelled"})

    before = retried()
    cancelled = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rows = bench.pg.rows("SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE application_name = "
                             "'bastion' AND state = 'active' AND wait_event_type IS DISTINCT FROM 'Client'")
        cancelled += int(rows[0][0])
        time.sleep(pause)
    return (f"cancel requests for {cancelled} running statements in {seconds:g}s; attempts run again after a "
            f"cancel: {retried() - before:.0f}")


def freeze_network(proxy, seconds=5):
    proxy.freeze()
    time.sleep(seconds)
    proxy.resume()
    dropped = proxy.reset()
    return f"froze {seconds}s, reset {dropped} connections"


def lock_storm(pg, accounts, seconds=5, sessions=3):
    """Second clients lock account rows in descending id order (the service locks ascending): deadlocks."""
    before = pg.deadlocks()
    errors = open(harness.out_path("faults-lock-storm.log"), "w")
    clients = [pg.session(stderr=errors, on_error_stop=False) for _ in range(sessions)]
    deadline = time.monotonic() + seconds
    feeders = [threading.Thread(target=_feed_lock_transactions, args=(client, accounts, deadline), daemon=True)
               for client in clients]
    try:
        harness.join_all(harness.start_all(feeders), seconds + 5)
    finally:
        for client in clients:
            client.finish()
        errors.close()
    return f"{sessions} lockers, {pg.deadlocks() - before} deadlocks"


def _feed_lock_transactions(client, accounts, deadline):
    rng = random.Random()
    try:
        client.send("SET application_name = 'bench-lock-storm'; SET lock_timeout = '3s';\n")
        while time.monotonic() < deadline:
            high, low = sorted(rng.sample(accounts, 2), reverse=True)
            # hold the higher id while reaching for the lower one: the opposite of the service's order
            client.send(
                f"BEGIN; SELECT id FROM customer WHERE id = {high} FOR UPDATE; SELECT pg_sleep(0.05);\n"
                f"SELECT id FROM customer WHERE id = {low} FOR UPDATE; SELECT pg_sleep(0.1); COMMIT;\n")
            time.sleep(0.2)  # roughly the transaction's own length, so psql never falls far behind
    except (BrokenPipeError, OSError):
        pass


def starve_pool(pg, load, seconds=6, extra_readers=24):
    """Every service statement on customer queues behind this lock, holding its pool connection.

    Six workers alone never fill a pool of 10 + 10 overflow, so extra readers join while the lock is
    held: requests beyond the pool's 20 connections must get a fast 503 (pool timeout 2 s).
    """
    locker = pg.session()
    load.add_readers(extra_readers)
    try:
        locker.send(f"BEGIN; LOCK TABLE customer IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({seconds}); COMMIT;\n")
        time.sleep(seconds / 2)
        waiting = service_sessions(pg, "wait_event_type = 'Lock'")
    finally:
        status = locker.finish(seconds + 30)
        load.remove_readers()
    if status != 0:
        raise RuntimeError(f"lock holder failed: {locker.errors()}")
    return f"ACCESS EXCLUSIVE {seconds}s, +{extra_readers} readers, {waiting} pool conns waiting"


class Phase:
    """One fault's run: notes and broken invariants of its own, checks that wait for the load to stop."""

    def __init__(self, name, stats):
        self.name = name
        self.stats = stats
        self.notes = []
        self.failures = []
        self.started = None      # the phase's load started (monotonic)
        self.fault_start = None  # set by faults that begin later than their injection is called
        self.fault_end = None    # set by faults whose recovery clock starts before they return
        self.finished = None     # the load stopped and recovery was measured
        self.markers = []        # (moment, label): other moments of the fault, for the incident picture
        self.after_load = []     # callables(phase), run once the load has stopped

    def note(self, text):
        self.notes.append(text)

    def mark(self, label, moment=None):
        """Records a moment of the fault (for the incident picture); returns it."""
        moment = time.monotonic() if moment is None else moment
        self.markers.append((moment, label))
        return moment

    def fail(self, text):
        self.failures.append(text)


@dataclass
class Fault:
    name: str
    inject: object           # callable(phase): blocks for the fault's duration, may return a note
    prepare: object = None   # callable(): set-up before the phase's load starts
    with_load: object = None  # callable(phase): right after the phase's load started (extra client threads)


def fail_over(bench, phase):
    """The primary dies; the stable address moves to the synchronous standby at once; the standby
    stays read-only for PROMOTE_AFTER seconds, then is promoted. The bench goes on with it."""
    old, standby = bench.pg, bench.standby
    old.kill()
    bench.proxy.switch_upstream(standby.port)
    switched = time.monotonic()
    if not standby.in_recovery():
        phase.fail("the standby was not read-only before its promotion")
    time.sleep(max(0.0, switched + PROMOTE_AFTER / 2 - time.monotonic()))
    # what the readiness probe says about the read-only standby: asked until it says so or the promotion comes
    # (a loaded machine may take longer to notice the node it reaches is read-only); an UP that claims writes
    # (readOnly absent or false) is noted whenever it comes
    claimed_writes = []
    while True:
        left = switched + PROMOTE_AFTER - 0.2 - time.monotonic()
        seen = readiness_data(bench.service, timeout=max(0.2, min(READINESS_TIMEOUT, left)))
        says_read_only = bool((seen[1] or {}).get("readOnly"))
        if seen[0] == 200 and not says_read_only:
            claimed_writes.append(seen[1])
        if (seen[0] == 200 and says_read_only) or time.monotonic() > switched + PROMOTE_AFTER - 0.3:
            break
        time.sleep(0.1)
    if claimed_writes:
        phase.fail(f"readiness said UP without readOnly while only a read-only standby was reachable: {claimed_writes[:3]}")
    time.sleep(max(0.0, switched + PROMOTE_AFTER - time.monotonic()))
    promoting = time.monotonic()
    standby.promote()
    promoted = phase.fault_end = time.monotonic()
    bench.pg, bench.standby = standby, None
    bench.retired.append(old)
    up_again = wait_until(lambda: bench.monitor.first_ready_after(promoted), 30)
    if up_again is None:
        phase.fail("readiness was not UP within 30 s of the promotion")
    # the first samples after the switch may still be about the dead primary
    read_only = bench.monitor.between(switched + 0.5, promoting)
    # a read-only writer address is shared by every pod, and reads still work there: readiness stays UP and
    # says readOnly (docs/failure-model.md, "Readiness"); what it must not do is claim the node takes writes
    if seen[0] != 200 or not (seen[1] or {}).get("readOnly"):
        phase.fail(f"readiness did not answer UP with data.readOnly=true while only a read-only standby was "
                   f"reachable ({readiness_summary(read_only)}; {seen[0]} with data {seen[1]})")
    return (f"primary killed, address on the read-only standby {promoting - switched:.1f}s, then promoted; "
            f"readiness while read-only {readiness_summary(read_only)}, UP "
            f"{'-' if up_again is None else f'{up_again - promoted:.1f}s'} after the promotion")


def silent_network(bench, phase, seconds):
    """Blackhole: no byte moves, nothing is closed, new connections are accepted and never answered."""
    held_before = bench.proxy.connections_held
    bench.proxy.blackhole()
    start = time.monotonic()
    time.sleep(seconds)
    bench.proxy.restore()
    restored = phase.fault_end = time.monotonic()
    silent = bench.monitor.between(start + 0.5, restored)
    if not any(s.status == 503 for s in silent):
        phase.fail(f"readiness never answered DOWN during the blackhole ({readiness_summary(silent)})")
    elif any(s.status != 503 for s in silent):
        phase.fail(f"readiness was not DOWN within its {READINESS_TIMEOUT}s probe timeout throughout "
                   f"the blackhole ({readiness_summary(silent)})")
    write_after = first_write_after(bench.load, restored, give_up=30)
    if write_after is None or write_after > WRITE_RECOVERY_ALLOWED:
        phase.fail(f"no write succeeded within {WRITE_RECOVERY_ALLOWED}s of the network's return "
                   f"({'none in 30s' if write_after is None else f'{write_after:.1f}s'})")
    return (f"blackhole {seconds:g}s, {bench.proxy.connections_held - held_before} new connections held "
            f"unanswered; readiness {readiness_summary(silent)}; first write "
            f"{'-' if write_after is None else f'{write_after:.1f}s'} after restore")


def first_write_after(load, moment, give_up):
    """Creates (each retried like a careful client) until one is acknowledged; seconds since moment."""
    deadline = moment + give_up
    while time.monotonic() < deadline:
        reply = load.create_once()
        if reply.status == 201:
            return reply.finished - moment
        time.sleep(0.1)
    return None


class ClientHangUp:
    """Clients give up on an import and two transfers that an outside transaction's locks hold.

    The import's second e-mail is inserted (uncommitted) by the outside transaction, so the import
    waits on the unique index; the transfers wait on the source account's row lock. After the
    clients have hung up, the outside transaction rolls back. Then: no service session is left idle
    in a transaction, the next requests succeed, and each abandoned unit is all there or not at all.
    """

    GIVE_UP = 1.0  # seconds, as `curl --max-time 1`
    IMPORT_ROWS = 3
    TRANSFER = Decimal("10.00")
    KEYED_TRANSFER = Decimal("5.00")
    FOLLOW_UP = Decimal("1.00")
    OPENING = Decimal("100.00")

    def __init__(self, bench):
        self.bench = bench
        self.service = bench.service
        self.token = uuid.uuid4().hex[:12]
        self.emails = [f"hangup-{self.token}-{i}@example.org" for i in range(self.IMPORT_ROWS)]
        self.key = f"hangup-{self.token}"
        self.source = self.target = None
        self.follow_up_id = None

    def __call__(self, phase):
        self.source = self._account("source", self.OPENING, phase)
        self.target = self._account("target", Decimal("0.00"), phase)
        locker = self.bench.pg.session(stdout=subprocess.PIPE)
        try:
            locker.send("SET application_name = 'bench-hang-up'; BEGIN;\n"
                        f"INSERT INTO customer (name, email) VALUES ('Hang-up blocker', '{self.emails[1]}');\n"
                        f"SELECT id FROM customer WHERE id = {self.source} FOR UPDATE;\nSELECT 'held';\n")
            if not locker.wait_for("held"):
                raise RuntimeError(f"lock holder failed: {locker.errors()}")
            abandoned = self._abandon()
            waiting = service_sessions(self.bench.pg, "wait_event_type = 'Lock'")
            time.sleep(1.0)  # the units stay blocked a moment after their clients have gone
            locker.send("ROLLBACK;\n")
        finally:
            locker.finish()
        released = phase.fault_end = time.monotonic()
        for what, reply in abandoned.items():
            if reply.status is not None:
                phase.fail(f"the {what} answered {reply.label()} within {self.GIVE_UP}s: the lock did not hold it")
        # a leaked session shows as idle in transaction for good; the filter needs it idle > 1 s
        time.sleep(max(0.0, released + 2.0 - time.monotonic()))
        leaked = wait_for_no_idle_transactions(self.bench.pg)
        if leaked:
            phase.fail(f"{leaked} service session(s) left idle in transaction after the clients hung up")
        self._follow_up(phase)
        phase.after_load.append(self._verify)
        return (f"import + 2 transfers abandoned after {self.GIVE_UP:g}s ({waiting} service sessions waiting "
                f"on the lock), lock released; {leaked} left idle in transaction")

    def _account(self, role, balance, phase):
        email = f"hangup-{role}-{self.token}@example.org"
        reply = self.service.call("POST", "/customers",
                                  {"name": f"Hang-up {role}", "email": email, "creditBalance": float(balance)})
        if reply.status != 201:
            raise RuntimeError(f"creating the {role} account failed: {reply.label()} {reply.body[:200]!r}")
        customer_id = reply.json()["id"]
        self.bench.acks.create(email, customer_id, phase.name)
        return customer_id

    def _transfer_body(self, amount):
        return {"from": self.source, "to": self.target, "amount": float(amount)}

    def _abandon(self):
        rows = [{"name": f"Hang-up import {i}", "email": email} for i, email in enumerate(self.emails)]
        return {
            "import": self.service.call("POST", "/customers/import", {"customers": rows}, timeout=self.GIVE_UP),
            "transfer": self.service.call("POST", "/customers/transfers", self._transfer_body(self.TRANSFER),
                                          timeout=self.GIVE_UP),
            "keyed transfer": self.service.call("POST", "/customers/transfers",
                                                self._transfer_body(self.KEYED_TRANSFER),
                                                headers={"Idempotency-Key": self.key}, timeout=self.GIVE_UP),
        }

    def _follow_up(self, phase):
        """The next import and transfer after the release must simply succeed."""
        email = f"hangup-{self.token}-next@example.org"
        reply = self.service.call("POST", "/customers/import",
                                  {"customers": [{"name": "Hang-up next", "email": email}]})
        if reply.status == 200 and len(reply.json()["created"]) == 1:
            self.bench.acks.create(email, reply.json()["created"][0]["id"], phase.name)
        else:
            phase.fail(f"the import after the release answered {reply.label()} {reply.body[:200]!r}")
        key = f"{self.key}-next"
        reply = self.service.call("POST", "/customers/transfers", self._transfer_body(self.FOLLOW_UP),
                                  headers={"Idempotency-Key": key})
        if reply.status == 200:
            self.follow_up_id = reply.json()["id"]
            self.bench.acks.transfer(key, TransferAck(self.follow_up_id, self.source, self.target, self.FOLLOW_UP,
                                                      phase.name))
        else:
            phase.fail(f"the transfer after the release answered {reply.label()} {reply.body[:200]!r}")

    def _verify(self, phase):
        """Each abandoned unit fully applied or fully absent, read directly from PostgreSQL."""
        pg = self.bench.pg
        emails = ", ".join(f"'{e}'" for e in self.emails)
        imported = int(pg.rows(f"SELECT count(*) FROM customer WHERE lower(email) IN ({emails})")[0][0])
        if imported not in (0, self.IMPORT_ROWS):
            phase.fail(f"the abandoned import is half applied: {imported} of {self.IMPORT_ROWS} rows")
        ledger = [(int(i), Decimal(a)) for i, a in pg.rows(
            f"SELECT id, amount FROM credit_transfer WHERE from_id = {self.source} AND to_id = {self.target}")]
        balances = dict((int(i), Decimal(b)) for i, b in pg.rows(
            f"SELECT id, credit_balance FROM customer WHERE id IN ({self.source}, {self.target})"))
        amounts = Counter(a for _, a in ledger)
        if any(n > 1 for n in amounts.values()) or set(amounts) - {self.TRANSFER, self.KEYED_TRANSFER, self.FOLLOW_UP}:
            phase.fail(f"unexpected ledger rows between the hang-up accounts: {ledger}")
        moved = sum(amounts.elements(), Decimal("0"))
        if balances != {self.source: self.OPENING - moved, self.target: moved}:
            phase.fail(f"hang-up balances {balances} do not match their ledger rows {ledger}: "
                       "a transfer moved credit without its ledger row, or the reverse")
        keyed_row = next((i for i, a in ledger if a == self.KEYED_TRANSFER), None)
        stored = pg.rows("SELECT coalesce(resource_id::text, '') FROM idempotency_key "
                         f"WHERE operation = '{TRANSFER_OPERATION}' AND idempotency_key = '{self.key}'")
        stored_id = int(stored[0][0]) if stored and stored[0][0] else None
        if (keyed_row is None) != (not stored) or (keyed_row is not None and stored_id != keyed_row):
            phase.fail(f"the abandoned keyed transfer's key ({stored}) and ledger row ({keyed_row}) disagree")
        state = lambda applied: "applied" if applied else "absent"  # noqa: E731
        phase.note(f"abandoned import {state(imported)}, transfer {state(self.TRANSFER in amounts)}, "
                   f"keyed transfer {state(keyed_row is not None)}")


# ------------------------------------------------------------------------------------------------
# Partial database problems: a held row, a rotated password, a read-only database, a connection cap
# ------------------------------------------------------------------------------------------------

def terminate_role_sessions(pg, role=SERVICE_ROLE):
    """Ends every session of the service's role (its pool and its readiness probe), as a DBA or a rotation would."""
    return int(pg.psql(f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '{role}'"))


def readiness_data(service, timeout=READINESS_TIMEOUT):
    """(HTTP status, the database check's data) of one readiness probe; the data is {} when absent."""
    reply = httpload.get(service.readiness_url(), timeout)
    try:
        checks = reply.json().get("checks", [])
    except (ValueError, AttributeError):
        return reply.status, {}
    return reply.status, next((c.get("data") or {} for c in checks if c.get("name") == "database"), {})


def metric_or_none(service, name):
    """The sum of a Prometheus series, None when /q/metrics has no such series (a meter registered lazily)."""
    reply = httpload.call(service.management_port, "GET", "/q/metrics", timeout=10)
    if reply.status != 200:
        raise RuntimeError(f"/q/metrics answered {reply.label()}")
    if not any(line.startswith((name + "{", name + " ")) for line in reply.text.splitlines()):
        return None
    return httpload.prometheus_sum(reply.text, name, {}) + sum(
        float(line.rsplit(" ", 1)[1]) for line in reply.text.splitlines() if line.startswith(name + " "))


def breaker_state(service):
    """bastion_db_circuit_breaker_state: 0 closed, 1 half-open, 2 open (None: not exported)."""
    return metric_or_none(service, "bastion_db_circuit_breaker_state")


class LockWaitSampler:
    """Every `interval` seconds, over one psql session: how many service sessions wait on a lock behind
    a given backend (directly, or behind another waiter, as a row's second waiter queues on the first's
    tuple lock), how long the longest of them has waited, and how many service sessions wait on any lock."""

    QUERY = """WITH RECURSIVE behind(pid) AS (
        SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND {holder} = ANY(pg_blocking_pids(pid))
      UNION
        SELECT a.pid FROM pg_stat_activity a JOIN behind b ON b.pid = ANY(pg_blocking_pids(a.pid))
        WHERE a.wait_event_type = 'Lock')
    SELECT count(*) FILTER (WHERE pid IN (SELECT pid FROM behind)),
           coalesce(max(extract(epoch FROM clock_timestamp() - query_start))
                    FILTER (WHERE pid IN (SELECT pid FROM behind)), 0),
           count(*)
    FROM pg_stat_activity WHERE application_name = 'bastion' AND wait_event_type = 'Lock';
"""

    def __init__(self, pg, holder_pid, interval=0.1):
        self.pg = pg
        self.query = self.QUERY.format(holder=int(holder_pid))
        self.interval = interval
        self.samples = []  # (moment, waiting behind the holder, longest of their waits in s, waiting on any lock)
        self.error = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="lock-sampler")

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(10)

    def _run(self):
        session = self.pg.session(stdout=subprocess.PIPE)
        try:
            session.send("SET application_name = 'bench-lock-sampler';\n")
            while not self.stopping.is_set():
                moment = time.monotonic()
                session.send(self.query)
                line = session.process.stdout.readline()
                if not line:
                    self.error = "psql ended"
                    break
                behind, longest, any_lock = line.strip().split("\t")
                self.samples.append((moment, int(behind), float(longest), int(any_lock)))
                self.stopping.wait(max(0.0, moment + self.interval - time.monotonic()))
        except (OSError, ValueError) as e:
            self.error = f"{type(e).__name__}: {e}"
        finally:
            status = session.finish()
            if self.error and status:
                self.error += f" ({session.errors()[:200]})"


class HeldRow:
    """An outside transaction holds one account's row (SELECT ... FOR UPDATE) for `seconds` while the
    load keeps writing to it (its transfers pick that account like any other, and two more writers
    transfer to and from it all the time) and bystanders transfer between, and read, accounts of their own.

    DB_MAX_CONNECTIONS_PER_ROW bounds the service sessions waiting in PostgreSQL on the row, the request
    deadline ends each wait (503 request-deadline-exceeded inside PostgreSQL, 503 lock-not-available for
    those waiting in memory), and the bystanders' requests do not notice. The held account is the one
    with the lowest id: the service locks rows in ascending id order, so a transfer reaches the held row
    before it locks its other account (with another account, the waiting transfers would also hold their
    partner's row in PostgreSQL, and the bystanders' checks would be about that wider fault).

    With --held-row-among-partners, that wider fault: the held account is in the middle of the ids and the
    bystanders' writers transfer among its partners. The sessions waiting behind the holder (directly, or
    behind a transfer that waits on the held row holding its partner's) are then reported, not checked
    against DB_MAX_CONNECTIONS_PER_ROW; the other checks stand.
    """

    BYSTANDERS = 4
    HELD_WRITERS = 2
    BYSTANDER_WRITERS = 2
    BYSTANDER_READERS = 2
    SUCCESS_REQUIRED = 0.99
    WAIT_ALLOWED = REQUEST_DEADLINE + 1
    REFUSALS = {"lock-not-available", "request-deadline-exceeded"}

    def __init__(self, bench, seconds):
        self.bench = bench
        self.seconds = seconds
        self.held = None
        self.bystanders = []
        self.hold_start = self.release = None
        self.refusals_before = 0.0

    def prepare(self):
        """The bystanders' accounts (1000.00 each), audited with the seeded ones from now on."""
        token = uuid.uuid4().hex[:8]
        for i in range(self.BYSTANDERS):
            email = f"bystander-{i}-{token}@example.org"
            reply = self.bench.service.call("POST", "/customers", {
                "name": f"Bystander {i}", "email": email, "creditBalance": float(OPENING_BALANCE)})
            if reply.status != 201:
                raise RuntimeError(f"creating bystander {i} failed: {reply.label()} {reply.body[:200]!r}")
            self.bystanders.append(reply.json()["id"])
            self.bench.acks.create(email, self.bystanders[-1], "held row")
        self.bench.bystanders.extend(self.bystanders)
        accounts = sorted(self.bench.accounts)
        self.held = accounts[len(accounts) // 2] if self.bench.held_row_among_partners else accounts[0]

    def with_load(self, phase):
        load, held, bystanders = self.bench.load, self.held, self.bystanders
        partners = [a for a in self.bench.accounts if a != held]

        def held_write(rng):
            partner = rng.choice(partners)
            load.transfer_once(*((held, partner) if rng.random() < 0.5 else (partner, held)), rng)

        load.add_threads("held-writer", held_write, self.HELD_WRITERS)
        writes_among = partners if self.bench.held_row_among_partners else bystanders
        load.add_threads("bystander-writer", lambda rng: load.transfer_once(*rng.sample(writes_among, 2), rng),
                         self.BYSTANDER_WRITERS)
        load.add_threads("bystander-reader", lambda rng: load.read_once(rng.choice(bystanders)), self.BYSTANDER_READERS)

    def __call__(self, phase):
        pg, service = self.bench.pg, self.bench.service
        self.refusals_before = metric_or_none(service, "bastion_db_held_lock_refusals_total") or 0.0
        holder = pg.session(stdout=subprocess.PIPE)
        sampler = None
        try:
            holder.send(f"SET application_name = 'bench-held-row'; BEGIN;\n"
                        f"SELECT id FROM customer WHERE id = {self.held} FOR UPDATE;\n"
                        "SELECT 'held', pg_backend_pid();\n")
            pid = None
            while line := holder.process.stdout.readline():
                if line.startswith("held\t"):
                    pid = int(line.split("\t")[1])
                    break
            if pid is None:
                raise RuntimeError(f"the row holder failed: {holder.errors()}")
            self.hold_start = phase.fault_start = time.monotonic()
            sampler = LockWaitSampler(pg, pid).start()
            time.sleep(self.seconds)
            self.release = phase.fault_end = time.monotonic()
            holder.send("ROLLBACK;\n")
        finally:
            holder.finish()
            if sampler:
                sampler.stop()
        behind = max((n for _, n, _, _ in sampler.samples), default=0)
        longest = max((w for _, _, w, _ in sampler.samples), default=0.0)
        any_lock = max((n for _, _, _, n in sampler.samples), default=0)
        if sampler.error:
            phase.fail(f"the pg_stat_activity sampler stopped: {sampler.error}")
        if behind == 0:
            phase.fail("no service session ever waited on the held row: the fault did not reach the service")
        if behind > MAX_CONNECTIONS_PER_ROW and not self.bench.held_row_among_partners:
            at = next(t for t, n, _, _ in sampler.samples if n == behind)
            phase.fail(f"{behind} service sessions waited on the held row at once ({at - self.hold_start:.1f}s "
                       f"into the hold), more than DB_MAX_CONNECTIONS_PER_ROW = {MAX_CONNECTIONS_PER_ROW}")
        if longest > self.WAIT_ALLOWED:
            phase.fail(f"a service session waited {longest:.1f}s on the held row, more than the deadline + 1 s "
                       f"({self.WAIT_ALLOWED}s)")
        phase.after_load.append(self._verify)
        limit_checked = ", not checked with --held-row-among-partners" if self.bench.held_row_among_partners else ""
        return (f"row of account {self.held} held {self.seconds:g}s (SELECT ... FOR UPDATE); service sessions "
                f"waiting behind it: at most {behind} at once (limit {MAX_CONNECTIONS_PER_ROW}{limit_checked}), longest wait "
                f"{longest:.1f}s; on any lock: at most {any_lock}; {len(sampler.samples)} samples")

    def _verify(self, phase):
        held, start, release = self.held, self.hold_start, self.release
        if start is None or release is None:
            return
        # every write to the held account sent during the hold: refused at its deadline, or served after the release
        writes = phase.stats.answers_where(lambda a: a.operation == "transfer" and held in a.accounts
                                           and start <= a.sent < release)
        wrong = [a for a in writes if not (a.status == 503 and a.kind in self.REFUSALS
                                           or a.success and a.finished >= release)]
        if wrong:
            phase.fail(f"{len(wrong)} of {len(writes)} writes to the held account during the hold were answered "
                       f"otherwise than 503 lock-not-available / request-deadline-exceeded or success after the "
                       f"release: {tally(wrong)}; {samples_of(wrong)}")
        # the counter is registered at the first refusal: absent means none yet
        refusals = ((metric_or_none(self.bench.service, "bastion_db_held_lock_refusals_total") or 0.0)
                    - self.refusals_before)
        # the bystanders, before the hold and during it (the same threads)
        bystanding = lambda a: a.group.startswith("bystander")  # noqa: E731
        before = phase.stats.answers_where(lambda a: bystanding(a) and phase.started <= a.sent < start)
        during = phase.stats.answers_where(lambda a: bystanding(a) and start <= a.sent < release)
        served = sum(a.success for a in during)
        rate = served / len(during) if during else 0.0
        if not during:
            phase.fail("the bystanders sent nothing during the hold")
        elif rate < self.SUCCESS_REQUIRED:
            failed = [a for a in during if not a.success]
            phase.fail(f"bystanders: {rate:.2%} of {len(during)} answers during the hold succeeded (at least "
                       f"{self.SUCCESS_REQUIRED:.0%} required): {tally(failed)}; {samples_of(failed)}")
        ratio = p99(during) / p99(before) if before and during and p99(before) > 0 else float("nan")
        phase.note(f"writes to the held account during the hold: {tally(writes)}; "
                   f"bastion_db_held_lock_refusals_total +{refusals:.0f}")
        who = (f"readers of accounts {self.bystanders[0]}-{self.bystanders[-1]}, writers among account {held}'s partners"
               if self.bench.held_row_among_partners else f"accounts {self.bystanders[0]}-{self.bystanders[-1]}")
        phase.note(f"bystanders ({who}): {rate:.2%} of {len(during)} "
                   f"answers during the hold succeeded; p99 {p99(before) * 1000:.0f} ms before, "
                   f"{p99(during) * 1000:.0f} ms during ({ratio:.2f}x)")


class PasswordRotation:
    """The database's password changes first (ALTER ROLE ... PASSWORD) and every session of the role is
    ended; the service's secret file still holds the old one for `wrong_for` seconds, then gets the new
    one (written aside and renamed over it, as the kubelet updates a Secret volume). The service answers
    503 database-auth-failed, never 500, readiness says DOWN with the reason, and it logs in with the new
    password on its own, without a restart."""

    RECOVERY_ALLOWED = 15  # seconds from the new file to readiness UP, and to an acknowledged write

    def __init__(self, bench, wrong_for):
        self.bench = bench
        self.wrong_for = wrong_for

    def __call__(self, phase):
        bench, pg = self.bench, self.bench.pg
        password = f"rotated-{uuid.uuid4().hex[:12]}"
        pg.psql(f"ALTER ROLE {SERVICE_ROLE} PASSWORD '{password}'")
        ended = terminate_role_sessions(pg)
        changed = phase.fault_start = time.monotonic()
        phase.mark("password changed, sessions ended", changed)
        time.sleep(self.wrong_for)
        status, data = readiness_data(bench.service)
        bench.write_password(password)
        rotated = phase.fault_end = phase.mark("new password in the file")
        up = wait_until(lambda: bench.monitor.first_ready_after(rotated), 30)
        write_after = first_write_after(bench.load, rotated, give_up=30)

        wrong = phase.stats.answers_where(lambda a: changed <= a.sent and a.finished <= rotated)
        refused = [a for a in wrong if a.status == 503 and a.kind == "database-auth-failed"]
        if not refused:
            phase.fail(f"no answer was 503 database-auth-failed while the password was wrong ({tally(wrong)})")
        silent = bench.monitor.between(changed + 0.5, rotated)
        if not any(s.status == 503 for s in silent):
            phase.fail(f"readiness never answered DOWN while the password was wrong ({readiness_summary(silent)})")
        if status != 503 or data.get("error") != "database-auth-failed" or not data.get("reason"):
            phase.fail(f"readiness with the old password answered {status} with data {data}, not DOWN with "
                       "error database-auth-failed and a reason")
        if up is None or up - rotated > self.RECOVERY_ALLOWED:
            phase.fail(f"readiness was not UP within {self.RECOVERY_ALLOWED}s of the new password in the file")
        if write_after is None or write_after > self.RECOVERY_ALLOWED:
            phase.fail(f"no write was acknowledged within {self.RECOVERY_ALLOWED}s of the new password in the file")
        phase.after_load.append(lambda p: self._no_500(p, changed))
        return (f"password changed in PostgreSQL, {ended} sessions ended, old password in the file for "
                f"{self.wrong_for:g}s: {tally(wrong)}; readiness {readiness_summary(silent)}, "
                f"error={data.get('error')}, reason {str(data.get('reason'))[:90]!r}; new password in the file: "
                f"readiness UP after {'-' if up is None else f'{up - rotated:.1f}s'}, first write after "
                f"{'-' if write_after is None else f'{write_after:.1f}s'}, no restart")

    @staticmethod
    def _no_500(phase, changed):
        errors = phase.stats.answers_where(lambda a: a.status == 500 and a.sent >= changed)
        if errors:
            phase.fail(f"{len(errors)} answers 500 after the password changed: {tally(errors)}; {samples_of(errors)}")


class ReadOnlyDatabase:
    """default_transaction_read_only = on for every session (ALTER SYSTEM and a reload) for `seconds`
    under the mixed load: every read answers 200, every write 503 database-read-only with a Retry-After of
    at least 1 s, the circuit breaker stays closed (the metric stays 0), readiness stays UP with
    data.readOnly = true; once it is off again, writes are acknowledged."""

    SETTLE = 0.5  # seconds for the reload to reach every session (each applies it before its next command)
    READERS = 3
    WRITERS = 2   # one attempt per create, no backoff: the mixed workers' writes mostly sit in their backoff

    def __init__(self, bench, seconds):
        self.bench = bench
        self.seconds = seconds

    def __call__(self, phase):
        bench, pg, service, load = self.bench, self.bench.pg, self.bench.service, self.bench.load
        readers = load.add_threads("ro-reader", lambda rng: load.read_once(rng.choice(bench.accounts)), self.READERS)
        writers = load.add_threads("ro-writer", lambda rng: (load.create_once(retries=0), time.sleep(0.05)),
                                   self.WRITERS)
        pg.psql("ALTER SYSTEM SET default_transaction_read_only = on")
        pg.psql("SELECT pg_reload_conf()")
        on = phase.fault_start = time.monotonic()
        breaker, probes = [], []
        try:
            while time.monotonic() < on + self.seconds:
                breaker.append(breaker_state(service))
                probes.append((time.monotonic(), *readiness_data(service)))
                time.sleep(0.4)
        finally:
            pg.psql("ALTER SYSTEM RESET default_transaction_read_only")
            # answers judged up to here: a write the reload lets through before psql has returned is not one "during"
            undoing = time.monotonic()
            pg.psql("SELECT pg_reload_conf()")
        off = phase.fault_end = time.monotonic()
        readers.stop(30)
        writers.stop(30)
        write_after = first_write_after(bench.load, off, give_up=30)
        breaker.append(breaker_state(service))

        reads = phase.stats.answers_where(lambda a: a.operation == "read" and on <= a.sent and a.finished <= undoing)
        writes = phase.stats.answers_where(lambda a: a.operation != "read" and on + self.SETTLE <= a.sent
                                           and a.finished <= undoing)
        bad_reads = [a for a in reads if a.status != 200]
        if bad_reads:
            phase.fail(f"{len(bad_reads)} of {len(reads)} reads on the read-only database did not answer 200: "
                       f"{tally(bad_reads)}; {samples_of(bad_reads)}")
        bad_writes = [a for a in writes if not (a.status == 503 and a.kind == "database-read-only"
                                                and (retry_after_seconds(a.retry_after) or 0) >= 1)]
        if not writes:
            phase.fail("no write was sent while the database was read-only")
        elif bad_writes:
            phase.fail(f"{len(bad_writes)} of {len(writes)} writes on the read-only database were not 503 "
                       f"database-read-only with Retry-After >= 1: {tally(bad_writes)}; "
                       f"Retry-After {sorted({a.retry_after for a in bad_writes}, key=str)[:5]}; "
                       f"{samples_of(bad_writes)}")
        if any(state != 0 for state in breaker):
            phase.fail(f"the circuit breaker left 0 (closed): states {breaker}")
        ready = bench.monitor.between(on + self.SETTLE, off)
        if any(s.status != 200 for s in ready):
            phase.fail(f"readiness was not UP throughout the read-only spell ({readiness_summary(ready)})")
        seen = [(status, data.get("readOnly")) for t, status, data in probes if t >= on + 2 * self.SETTLE]
        if not seen or any(p != (200, True) for p in seen):
            phase.fail(f"readiness did not answer 200 with data.readOnly=true: {Counter(seen)}")
        if write_after is None or write_after > WRITE_RECOVERY_ALLOWED:
            phase.fail(f"no write was acknowledged within {WRITE_RECOVERY_ALLOWED}s of the end of the read-only spell")
        retry = sorted(retry_after_seconds(a.retry_after) or 0 for a in writes)
        return (f"default_transaction_read_only on {off - on:.1f}s: reads {tally(reads)}; writes {tally(writes)}"
                f"{f', Retry-After {retry[0]}-{retry[-1]} s' if retry else ''}; breaker states "
                f"{sorted(set(breaker))}; readiness {readiness_summary(ready)}, readOnly "
                f"{sorted({str(p[1]) for p in seen})}; first write "
                f"{'-' if write_after is None else f'{write_after:.1f}s'} after it was off")


class RevokedPrivilege:
    """A DBA revokes the service role's INSERT on the ledger (credit_transfer) for `seconds` under the mixed
    load: every transfer answers 503 database-permission-denied with a Retry-After (or 422 insufficient
    credit, decided before the insert), nothing of it saved (the audit's balances); reads and creates are
    served as before; the circuit breaker stays closed and readiness UP; once granted back, transfers are
    acknowledged again."""

    SETTLE = 0.3  # seconds for the REVOKE to be seen by statements already on their way

    def __init__(self, bench, seconds):
        self.bench = bench
        self.seconds = seconds

    def __call__(self, phase):
        bench, pg, service, load = self.bench, self.bench.pg, self.bench.service, self.bench.load
        # the mixed workers sit in their transfers' backoff meanwhile: readers and creators of their own
        readers = load.add_threads("rp-reader", lambda rng: load.read_once(rng.choice(bench.accounts)), 2)
        creators = load.add_threads("rp-creator", lambda rng: (load.create_once(retries=0), time.sleep(0.05)), 1)
        pg.psql(f"REVOKE INSERT ON credit_transfer FROM {SERVICE_ROLE}")
        revoked = phase.fault_start = time.monotonic()
        breaker = []
        try:
            while time.monotonic() < revoked + self.seconds:
                breaker.append(breaker_state(service))
                time.sleep(0.4)
        finally:
            granting = time.monotonic()  # answers judged up to here: the GRANT commits before psql returns
            pg.psql(f"GRANT INSERT ON credit_transfer TO {SERVICE_ROLE}")
        granted = phase.fault_end = phase.mark("granted back")
        readers.stop(30)
        creators.stop(30)
        breaker.append(breaker_state(service))

        during = phase.stats.answers_where(lambda a: revoked + self.SETTLE <= a.sent and a.finished <= granting)
        transfers = [a for a in during if a.operation == "transfer"]
        others = [a for a in during if a.operation != "transfer"]
        bad_transfers = [a for a in transfers if not (
            a.status == 503 and a.kind == "database-permission-denied" and (retry_after_seconds(a.retry_after) or 0) >= 1
            or a.status == 422 and a.kind == "insufficient-credit")]
        if not transfers:
            phase.fail("no transfer was sent while the privilege was revoked")
        elif bad_transfers:
            phase.fail(f"{len(bad_transfers)} of {len(transfers)} transfers without the privilege were not 503 "
                       f"database-permission-denied with Retry-After >= 1: {tally(bad_transfers)}; {samples_of(bad_transfers)}")
        bad_others = [a for a in others if a.status not in (200, 201)]
        if bad_others:
            phase.fail(f"{len(bad_others)} of {len(others)} reads and creates were not served while only the ledger "
                       f"was refused: {tally(bad_others)}; {samples_of(bad_others)}")
        if any(state != 0 for state in breaker):
            phase.fail(f"the circuit breaker left 0 (closed): states {breaker}")
        ready = bench.monitor.between(revoked, granted)
        if any(r.status != 200 for r in ready):
            phase.fail(f"readiness was not UP throughout ({readiness_summary(ready)})")
        phase.after_load.append(lambda p: self._transfers_again(p, granted))
        return (f"INSERT on credit_transfer revoked {granted - revoked:.1f}s: transfers {tally(transfers)}; "
                f"reads and creates {tally(others)}; breaker states {sorted(set(breaker))}; readiness "
                f"{readiness_summary(ready)}")

    @staticmethod
    def _transfers_again(phase, granted):
        acknowledged = phase.stats.answers_where(lambda a: a.operation == "transfer" and a.status == 200
                                                 and a.sent >= granted)
        if not acknowledged:
            phase.fail("no transfer was acknowledged after the privilege was granted back")


class ConnectionCap:
    """The service's role gets CONNECTION LIMIT 2 and its sessions are ended, while 20 extra readers
    (and the mixed load) run: the pool learns the cap and serves on the connections it has. Reads served
    per second by the 20 readers, before and under the cap; no 500, no circuit-open, no
    database-unavailable; then the limit is removed."""

    READERS = 20
    LIMIT = 2
    FORBIDDEN_KINDS = {"circuit-open", "database-unavailable"}

    def __init__(self, bench, window):
        self.bench = bench
        self.window = window

    def __call__(self, phase):
        bench, pg, load = self.bench, self.bench.pg, self.bench.load

        def reader(rng):
            load.read_once(rng.choice(bench.accounts))

        readers = load.add_threads("cap-reader", reader, self.READERS)
        joined = phase.mark(f"{self.READERS} readers join")
        sessions, limits, holders = [], [], Counter()
        try:
            time.sleep(self.window)
            # the clients pause while the sessions end: ending sessions under requests in flight opens the
            # breaker on its own (terminate backends x3 shows that), and this phase is about the cap
            readers.stop(30)
            load.pause()
            phase.mark("clients pause")
            pg.psql(f"ALTER ROLE {SERVICE_ROLE} CONNECTION LIMIT {self.LIMIT}")
            ended = terminate_role_sessions(pg)
            capped = phase.fault_start = time.monotonic()
            time.sleep(0.5)  # the pool sees its connections close
            load.resume()
            readers = load.add_threads("cap-reader", reader, self.READERS)
            resumed = phase.mark("clients resume")
            while time.monotonic() < resumed + self.window:
                # the role's sessions: who holds the slots (the pool, the readiness probe, a login in progress)
                rows = pg.rows("SELECT coalesce(nullif(application_name, ''), '(starting)'), coalesce(state, '-') "
                               f"FROM pg_stat_activity WHERE usename = '{SERVICE_ROLE}'")
                sessions.append(len(rows))
                holders.update(f"{name} {state}" for name, state in rows)
                limits.append(metric_or_none(bench.service, "bastion_db_pool_connection_limit"))
                time.sleep(0.25)
        finally:
            pg.psql(f"ALTER ROLE {SERVICE_ROLE} CONNECTION LIMIT -1")
        lifted = phase.fault_end = time.monotonic()
        readers.stop(30)
        phase.mark("readers leave")

        def served_per_second(start, end):
            served = phase.stats.answers_where(lambda a: a.group == "cap-reader" and a.status == 200
                                               and start <= a.finished < end)
            return len(served) / max(end - start, 1e-9)

        before = served_per_second(joined + 0.5, capped)  # the first half second: the readers' start
        under = served_per_second(resumed, lifted)
        capped_answers = phase.stats.answers_where(lambda a: capped <= a.sent < lifted)
        errors = [a for a in capped_answers if a.status is None or a.status >= 500]
        phase.after_load.append(lambda p: self._verify(p, capped))
        return (f"CONNECTION LIMIT {self.LIMIT} for {lifted - capped:.1f}s ({ended} sessions ended), +{self.READERS} "
                f"readers: {before:.0f} reads/s before, {under:.0f} reads/s under the cap "
                f"({under / before if before else float('nan'):.2f}x); 5xx/errors under the cap: "
                f"{tally(errors)}; role sessions at most {max(sessions, default=0)} ({len(sessions)} samples: "
                f"{', '.join(f'{k}×{n}' for k, n in holders.most_common())}), pool limit metric "
                f"{describe_gauge(limits)}")

    def _verify(self, phase, capped):
        after = phase.stats.answers_where(lambda a: a.sent >= capped)
        # a commit cut by ending the sessions is a 500 commit-outcome-unknown: the honest answer to that, not to the cap
        cut = [a for a in after if a.status == 500 and a.kind == UNKNOWN_OUTCOME and a.sent < capped + 1.0]
        errors = [a for a in after if (a.status == 500 and a not in cut)
                  or a.status == 503 and a.kind in self.FORBIDDEN_KINDS]
        if errors:
            phase.fail(f"{len(errors)} answers 500, circuit-open or database-unavailable from the cap on: "
                       f"{tally(errors)}; {samples_of(errors)}")
        if cut:
            phase.note(f"{len(cut)} commits cut by ending the sessions answered 500 {UNKNOWN_OUTCOME}")
        limit = metric_or_none(self.bench.service, "bastion_db_pool_connection_limit")
        phase.note(f"pool limit metric {describe_gauge([limit])} at the end of the phase; {self._learned_from_log()}")

    def _learned_from_log(self):
        """The cap the pool learned, in the service's own words (PoolAdmission's warning), the last of this run."""
        try:
            with open(self.bench.service.log_path, errors="replace") as f:
                found = re.findall(r"allows this service (\d+) connection\(s\).*?serving on (\d+) and trying "
                                   r"one more in (\d+) s", f.read())
        except OSError:
            found = []
        if not found:
            return "the service logged no learned cap"
        steps = " → ".join(n for n, _, _ in found[-12:])
        return (f"service log: {len(found)} cap warnings, cap {steps}; last: serving on {found[-1][1]}, "
                f"one more connection in {found[-1][2]} s")


def faults(bench):
    """The phases, in the order they run."""
    # lambdas read bench.pg when they run: after the failover they act on the promoted standby (and so do
    # the objects below: they read bench.pg when called)
    held = HeldRow(bench, bench.timing.held_row)
    return [
        Fault("pg restart fast", lambda phase: restart_postgres(bench.pg, "fast")),
        Fault("pg restart immediate", lambda phase: restart_postgres(bench.pg, "immediate")),
        Fault("terminate backends x3", lambda phase: terminate_service_backends(bench.pg)),
        Fault("cancel statements", lambda phase: cancel_service_statements(bench)),
        Fault("network freeze+reset", lambda phase: freeze_network(bench.proxy)),
        Fault("lock storm/deadlocks", lambda phase: lock_storm(bench.pg, bench.accounts)),
        Fault("pool starvation", lambda phase: starve_pool(bench.pg, bench.load)),
        Fault("failover", lambda phase: fail_over(bench, phase), prepare=bench.add_standby),
        Fault("silent network", lambda phase: silent_network(bench, phase, bench.timing.blackhole)),
        Fault("client hang-up", lambda phase: ClientHangUp(bench)(phase)),
        Fault("held row", held, prepare=held.prepare, with_load=held.with_load),
        Fault("password rotation", PasswordRotation(bench, bench.timing.wrong_password)),
        Fault("read-only database", ReadOnlyDatabase(bench, bench.timing.read_only)),
        Fault("revoked privilege", RevokedPrivilege(bench, bench.timing.read_only)),
        # last: after the limit is lifted, the pool grows back by one connection per 10 s
        Fault("connection cap", ConnectionCap(bench, bench.timing.cap_window)),
    ]
