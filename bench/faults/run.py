#!/usr/bin/env python3
"""Fault-injection benchmark for Bastion.

Starts a private PostgreSQL (Debian's binaries, as user postgres), a fault proxy in front of it (the
service's stable address for the database) and the packaged service behind the proxy, logging in as
a role of its own (bastion_app: no superuser, scram-sha-256, password from DB_PASSWORD_FILE), then runs
one phase per fault under steady mixed load: restarts, killed backends, a frozen network, lock storms,
pool starvation, a failover to a synchronous standby, a silent network, clients that hang up, and the
partial problems: a held row, a rotated password, a read-only database and a connection cap.
After each phase it audits the database directly: no acknowledged write lost, nothing applied twice,
credit conserved, no 500 other than commit-outcome-unknown, no answer slower than the request
deadline allows, no session left in a transaction, the service back to ready on its own. Exits 1
when an invariant breaks. Each phase also gets an incident picture, bench/out/timelines/<phase>.svg.

    python3 bench/faults/run.py [--quick] [--timelines DIR] [--phase NAME ...]

PostgreSQL, the service, their readiness and HTTP come from the shared harness (bench/harness.py,
bench/httpload.py); this file holds the load, the faults and the audit. Python 3.11 standard library
only. Logs go to bench/out/ (git-ignored).
"""
import datetime
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import timeline
from proxy import FaultProxy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
import httpload  # noqa: E402
from harness import (OUT, READINESS_TIMEOUT, Postgres, ReadinessMonitor, Service,  # noqa: E402
                     readiness_summary, wait_until)

ACCOUNTS = 10
OPENING_BALANCE = Decimal("1000.00")
WORKERS = 6
WRITE_RETRIES = 5
RETRY_STATUSES = {503, 504}
TRANSFER_OPERATION = "customer.transfer"
CREATE_OPERATION = "customer.create"
UNKNOWN_OUTCOME = "commit-outcome-unknown"

REQUEST_DEADLINE = 10                     # DB_REQUEST_TIMEOUT: the most one request may spend on the database
SLOWEST_ALLOWED = REQUEST_DEADLINE + 3    # invariant: no answer takes longer than the deadline plus a little
HTTP_TIMEOUT = REQUEST_DEADLINE + 5       # the clients wait past that bound, so a breach is measured, not hidden
WRITE_RECOVERY_ALLOWED = 10               # after the network returns, a write must succeed within this
PROMOTE_AFTER = 3                         # seconds the stable address points at a standby still read-only

MAX_CONNECTIONS_PER_ROW = 2             # DB_MAX_CONNECTIONS_PER_ROW: writers of one row holding a connection at once
SERVICE_ROLE = "bastion_app"              # the service's login role: no superuser, scram-sha-256 password from a file

SERVICE_ENV = {
    "DB_POOL_SIZE": "10", "DB_MAX_OVERFLOW": "10", "DB_POOL_TIMEOUT": "2", "DB_CONNECT_TIMEOUT": "2",
    "DB_COMMAND_TIMEOUT": "10", "DB_BREAKER_DELAY": "2", "DB_REQUEST_TIMEOUT": str(REQUEST_DEADLINE),
    "DB_MAX_CONNECTIONS_PER_ROW": str(MAX_CONNECTIONS_PER_ROW),
    # DB_PASSWORD_FILE (set in Bench.set_up) wins over DB_PASSWORD: a wrong one here proves it
    "DB_USERNAME": SERVICE_ROLE, "DB_PASSWORD": "not-the-password",
}

STARTED = time.monotonic()


def log(message):
    print(f"[faults {time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


@dataclass(frozen=True)
class Timing:
    load_before: float     # seconds of load before the fault is injected
    load_after: float      # seconds of load after the fault has ended
    blackhole: float       # seconds the network stays silent
    held_row: float        # seconds an outside transaction holds one account's row
    cap_window: float      # seconds of 20 readers before, and again under, the connection cap
    wrong_password: float  # seconds between the rotation in PostgreSQL and the new password in the file
    read_only: float       # seconds the database refuses writes


# wrong_password is longer than DB_BREAKER_DELAY (2 s): when ending the sessions opens the breaker, its
# half-open trial still meets the wrong password before the file changes
FULL = Timing(load_before=8, load_after=12, blackhole=35, held_row=3 * REQUEST_DEADLINE, cap_window=5,
              wrong_password=5, read_only=6)
QUICK = Timing(load_before=3, load_after=3, blackhole=12, held_row=REQUEST_DEADLINE + 2, cap_window=3,
               wrong_password=4, read_only=3)


# ------------------------------------------------------------------------------------------------
# HTTP: retries like a careful client
# ------------------------------------------------------------------------------------------------

def unknown_outcome(reply):
    return reply.status == 500 and reply.kind() == UNKNOWN_OUTCOME


def call_with_retries(service, path, body, key, on_attempt, retries=WRITE_RETRIES):
    """POST with an Idempotency-Key; on 503/504/timeout/connection error or an unknown commit outcome,
    the same key and body again (the key makes every repeat safe)."""
    reply = None
    for attempt in range(retries + 1):
        reply = service.call("POST", path, body, headers={"Idempotency-Key": key})
        on_attempt(reply)
        if reply.status is not None and reply.status not in RETRY_STATUSES and not unknown_outcome(reply):
            return reply
        if attempt < retries:
            time.sleep(min(2.0, 0.2 * 2 ** attempt) * random.uniform(0.75, 1.25))
    return reply


def retry_after_seconds(value):
    """A Retry-After header's delay in seconds (the service sends whole seconds); None when absent or not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def status_class(reply):
    if reply.status is None:
        return "other"
    if 200 <= reply.status < 300:
        return "2xx"
    if 400 <= reply.status < 500:
        return "4xx"
    if reply.status in (500, 503):
        return str(reply.status)
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


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP attempt as its client saw it: the phases' own checks and the incident pictures read these."""
    sent: float
    finished: float
    elapsed: float
    status: int | None
    kind: str | None        # problem+json kind of an error answer
    retry_after: str | None
    operation: str          # create, transfer, read
    accounts: tuple         # the customer ids it touched (a transfer's from and to, a read's id)
    group: str              # the client thread group: load, reader, bystander, held-writer, cap-reader, ...
    detail: str             # the start of the body of a 5xx or the error of a failed request, for reports

    @property
    def success(self):
        """2xx, or 422 insufficient-credit: a valid final answer."""
        return self.status is not None and (200 <= self.status < 300
                                            or self.status == 422 and self.kind == "insufficient-credit")

    @property
    def label(self):
        if self.status is None:
            return "conn/timeout"
        return f"{self.status} {self.kind}" if self.kind else str(self.status)


class PhaseStats:
    """What one phase's clients saw: final answers per logical request, and every HTTP attempt."""

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.finals = Counter()    # 2xx / 4xx / 503 / 500 / other, one per logical request
        self.statuses = Counter()  # exact final answer, for the detail lines
        self.attempts = 0
        self.bad_500s = Counter()  # 500 answers (any attempt) whose kind is not commit-outcome-unknown
        self.slowest = 0.0         # seconds, the slowest HTTP answer (or give-up) of any attempt
        self.replays = 0
        self.successes = []        # monotonic times of 2xx answers
        self.answers = []          # every attempt (Answer), in arrival order

    def attempt(self, reply, operation="?", accounts=()):
        kind = reply.kind() if reply.status is not None and reply.status >= 400 else None
        detail = (reply.error if reply.status is None else
                  reply.body[:300].decode(errors="replace") if reply.status >= 500 else "")
        answer = Answer(reply.finished - reply.elapsed, reply.finished, reply.elapsed, reply.status, kind,
                        reply.headers.get("retry-after"), operation, tuple(accounts),
                        threading.current_thread().name.rsplit("-", 1)[0], detail)
        with self.lock:
            self.answers.append(answer)
            self.attempts += 1
            self.slowest = max(self.slowest, reply.elapsed)
            if reply.status == 500 and not unknown_outcome(reply):
                self.bad_500s[reply.kind() or "no kind"] += 1

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

    def answers_where(self, predicate):
        with self.lock:
            return [a for a in self.answers if predicate(a)]


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

class Load:
    def __init__(self, service, accounts, acks, events):
        self.service = service
        self.accounts = accounts
        self.acks = acks
        self.events = events
        self.workers = harness.Workers("load")
        self.readers = harness.Workers("reader")
        self.groups = []  # extra thread groups of a phase (add_threads), stopped with the load
        self.stats = None

    def start(self, stats):
        self.stats = stats
        self.workers.start(self._work, WORKERS)

    def stop(self):
        """Lets every worker finish its current logical request (including its retries)."""
        self.workers.stop(120)
        for group in self.groups:
            group.stop(120)
        self.groups = []

    def pause(self):
        """Stops the mixed workers (each finishes its current request) and, with them, every extra group."""
        self.workers.stop(120)
        for group in self.groups:
            group.stop(120)
        self.groups = []

    def resume(self):
        """The mixed workers again, counted in the same phase."""
        self.workers.start(self._work, WORKERS)

    def add_threads(self, name, operation, count):
        """`count` more threads named name-N repeating operation(rng) (a little think time between two)
        until stopped, or until the load stops; returns their harness.Workers."""
        group = harness.Workers(name)

        def repeat(rng):
            while not group.stopping.is_set() and not self.workers.stopping.is_set():
                self._guarded(operation, rng)
                time.sleep(rng.uniform(0.005, 0.02))

        group.start(repeat, count)
        self.groups.append(group)
        return group

    def add_readers(self, count):
        """Extra read-only threads on top of the mixed workers, until remove_readers()."""
        self.readers.start(self._read_only, count)

    def remove_readers(self):
        self.readers.stop(30)

    def _work(self, rng):
        operations = [self._create, self._transfer, self._read]
        while not self.workers.stopping.is_set():
            self._guarded(rng.choices(operations, weights=[25, 45, 30])[0], rng)
            time.sleep(rng.uniform(0.005, 0.02))  # a little think time: the machine is shared

    def _read_only(self, rng):
        while not self.readers.stopping.is_set() and not self.workers.stopping.is_set():
            self._guarded(self._read, rng)
            time.sleep(rng.uniform(0.005, 0.02))

    def _guarded(self, operation, rng):
        """An unexpected answer (say, a 2xx without JSON) is logged; the worker carries on."""
        try:
            operation(rng)
        except Exception as e:
            self.events.note(self.stats.name, f"{operation.__name__} raised {type(e).__name__}: {e}")

    def _create(self, rng):
        self.create_once()

    def create_once(self, retries=WRITE_RETRIES):
        """One logical create with a fresh key, retried like a careful client (retries=0: a probe that
        expects refusals, whose 503 is not logged as a give-up); returns the final reply."""
        token = uuid.uuid4().hex
        email = f"load-{token}@example.org"
        body = {"name": f"Load {token[:8]}", "email": email}
        attempts = Counter()
        reply = call_with_retries(self.service, "/customers", body, str(uuid.uuid4()),
                                  lambda r: (self.stats.attempt(r, "create"), attempts.update(["n"])), retries)
        self.stats.final("create", reply)
        if reply.status == 201:
            self.acks.create(email, reply.json()["id"], self.stats.name)
        elif reply.status not in RETRY_STATUSES and reply.status is not None and not unknown_outcome(reply):
            self.events.write(self.stats.name, f"create {email}", reply, attempts["n"])
        elif retries:
            self.events.write(self.stats.name, f"create {email} gave up", reply, attempts["n"])
        return reply

    def _transfer(self, rng):
        self.transfer_once(*rng.sample(self.accounts, 2), rng)

    def transfer_once(self, source, target, rng):
        """One logical transfer with a fresh key, retried like a careful client."""
        cents = rng.randint(100, 2000)
        amount = f"{cents // 100}.{cents % 100:02d}"
        body = f'{{"from":{source},"to":{target},"amount":{amount}}}'.encode()
        key = str(uuid.uuid4())
        attempts = Counter()
        reply = call_with_retries(self.service, "/customers/transfers", body, key,
                                  lambda r: (self.stats.attempt(r, "transfer", (source, target)),
                                             attempts.update(["n"])))
        self.stats.final("transfer", reply)
        if reply.status == 200:
            self.acks.transfer(key, TransferAck(reply.json()["id"], source, target, Decimal(amount), self.stats.name))
        elif reply.status == 422 and reply.kind() == "insufficient-credit":
            pass  # a valid final answer
        elif reply.status not in RETRY_STATUSES and reply.status is not None and not unknown_outcome(reply):
            self.events.write(self.stats.name, f"transfer {key}", reply, attempts["n"])
        else:
            self.events.write(self.stats.name, f"transfer {key} gave up", reply, attempts["n"])

    def _read(self, rng):
        self.read_once(rng.choice(self.accounts))

    def read_once(self, account):
        """One GET of a customer, one attempt."""
        reply = self.service.call("GET", f"/customers/{account}")
        self.stats.attempt(reply, "read", (account,))
        self.stats.final("read", reply)
        if reply.status is not None and reply.status not in (200, 503, 504):
            self.events.write(self.stats.name, f"read {account}", reply)


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


def service_sessions(pg, condition):
    """How many of the service's sessions (application_name 'bastion') match an SQL condition."""
    return int(pg.psql(f"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bastion' AND {condition}"))


def idle_in_transaction(pg, older_than=1.0):
    """Service sessions sitting in an open transaction for longer than `older_than` seconds.

    A request's own transaction is never idle that long between two statements; a unit whose
    client hung up and whose connection went back without COMMIT or ROLLBACK stays so for good.
    """
    return service_sessions(pg, "state IN ('idle in transaction', 'idle in transaction (aborted)') "
                                f"AND now() - state_change > interval '{older_than} seconds'")


def wait_for_no_idle_transactions(pg, timeout=5.0):
    """Polls until no service session is idle in a transaction; returns how many still are (0: fine)."""
    return 0 if wait_until(lambda: idle_in_transaction(pg) == 0, timeout, 0.25) else idle_in_transaction(pg)


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
    seen = readiness_data(bench.service)  # what the readiness probe says about the read-only standby, for the report
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


def readiness_data(service):
    """(HTTP status, the database check's data) of one readiness probe; the data is {} when absent."""
    reply = httpload.get(service.readiness_url(), READINESS_TIMEOUT)
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


def tally(answers):
    """`503 pool-exhausted×3, 200×12`: answers counted by status and kind, most frequent first."""
    counts = Counter(a.label for a in answers)
    return ", ".join(f"{label}×{n}" for label, n in counts.most_common()) or "none"


def samples_of(answers, limit=3):
    """A few answers in words, with the start of their bodies, for a broken invariant."""
    return "; ".join(f"{a.operation} {a.label} after {a.elapsed:.2f}s {a.detail[:160]!r}" for a in answers[:limit])


def describe_gauge(values):
    """`2-20` over samples of a gauge, `not exported` when /q/metrics never had it."""
    seen = [v for v in values if v is not None]
    if not seen:
        return "not exported"
    return f"{min(seen):g}" if min(seen) == max(seen) else f"{min(seen):g}-{max(seen):g}"


def p99(answers):
    return httpload.percentile(sorted(a.elapsed for a in answers), 0.99)


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
        self.held = min(self.bench.accounts)

    def with_load(self, phase):
        load, held, bystanders = self.bench.load, self.held, self.bystanders
        partners = [a for a in self.bench.accounts if a != held]

        def held_write(rng):
            partner = rng.choice(partners)
            load.transfer_once(*((held, partner) if rng.random() < 0.5 else (partner, held)), rng)

        load.add_threads("held-writer", held_write, self.HELD_WRITERS)
        load.add_threads("bystander-writer", lambda rng: load.transfer_once(*rng.sample(bystanders, 2), rng),
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
        if behind > MAX_CONNECTIONS_PER_ROW:
            at = next(t for t, n, _, _ in sampler.samples if n == behind)
            phase.fail(f"{behind} service sessions waited on the held row at once ({at - self.hold_start:.1f}s "
                       f"into the hold), more than DB_MAX_CONNECTIONS_PER_ROW = {MAX_CONNECTIONS_PER_ROW}")
        if longest > self.WAIT_ALLOWED:
            phase.fail(f"a service session waited {longest:.1f}s on the held row, more than the deadline + 1 s "
                       f"({self.WAIT_ALLOWED}s)")
        phase.after_load.append(self._verify)
        return (f"row of account {self.held} held {self.seconds:g}s (SELECT ... FOR UPDATE); service sessions "
                f"waiting behind it: at most {behind} at once (limit {MAX_CONNECTIONS_PER_ROW}), longest wait "
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
        phase.note(f"bystanders (accounts {self.bystanders[0]}-{self.bystanders[-1]}): {rate:.2%} of {len(during)} "
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
            pg.psql("SELECT pg_reload_conf()")
        off = phase.fault_end = time.monotonic()
        readers.stop(30)
        writers.stop(30)
        write_after = first_write_after(bench.load, off, give_up=30)
        breaker.append(breaker_state(service))

        reads = phase.stats.answers_where(lambda a: a.operation == "read" and on <= a.sent and a.finished <= off)
        writes = phase.stats.answers_where(lambda a: a.operation != "read" and on + self.SETTLE <= a.sent
                                           and a.finished <= off)
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
    rows = pg.rows("""
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
    all_keyed = [r for (op, _), r in snapshot.keys.items() if op == TRANSFER_OPERATION and r is not None]
    # keys of transfers outside the seeded accounts (the hang-up phase's) are checked there
    keyed = [r for r in all_keyed if r in ledger or r not in snapshot.transfers]
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

    @property
    def bad_500s(self):
        return sum(self.stats.bad_500s.values())


class Bench:
    def __init__(self, timing):
        self.timing = timing
        self.pg = None        # the primary the service reaches through the proxy (the standby after a failover)
        self.standby = None
        self.retired = []     # clusters that died in a failover, removed at the end
        self.proxy = None
        self.service = None
        self.monitor = None
        self.events = None
        self.load = None
        self.accounts = []
        self.bystanders = []  # accounts of the held-row phase's bystanders, audited like the seeded ones
        self.acks = Acknowledged()
        self.reported_lost = set()
        self.reported_duplicates = set()
        self.secret_dir = None
        self.password_file = None
        self.timelines = []   # the incident pictures written so far

    def set_up(self):
        self.events = EventLog(harness.out_path("faults-client.log"))
        self.pg = Postgres({"max_connections": "100", "log_line_prefix": "'%m [%p] %a %u '"}, name="faults-postgres")
        self.pg.start()
        log(f"PostgreSQL on 127.0.0.1:{self.pg.port}")
        # the service logs in as a role of its own, not a superuser (a CONNECTION LIMIT applies to it), with
        # a scram-sha-256 password read from a file the bench owns (DB_PASSWORD_FILE), as from a Secret volume
        self.secret_dir = tempfile.mkdtemp(prefix="bastion-faults-secret-")
        self.password_file = os.path.join(self.secret_dir, "db-password")
        password = f"first-{uuid.uuid4().hex[:12]}"
        self.write_password(password)
        self.pg.add_password_role(SERVICE_ROLE, password)
        if not self.pg.logs_in(SERVICE_ROLE, password) or self.pg.logs_in(SERVICE_ROLE, "not-the-password"):
            raise RuntimeError(f"role {SERVICE_ROLE} does not log in with scram-sha-256 as set up")
        log(f"role {SERVICE_ROLE} (scram-sha-256, owner of database bastion), password in {self.password_file}")
        self.proxy = FaultProxy(self.pg.port)
        self.proxy.start()
        log(f"proxy on 127.0.0.1:{self.proxy.port}")
        self.service = Service(self.proxy.port, env={**SERVICE_ENV, "DB_PASSWORD_FILE": self.password_file},
                               name="faults-service", http_timeout=HTTP_TIMEOUT)
        self.service.start()
        log(f"service ready on 127.0.0.1:{self.service.port} (pid {self.service.pid}), "
            f"DB_REQUEST_TIMEOUT={REQUEST_DEADLINE}s")
        self.accounts = self.seed_accounts()
        self.monitor = ReadinessMonitor(self.service).start()
        self.load = Load(self.service, self.accounts, self.acks, self.events)

    def write_password(self, password):
        """Replaces the secret file's content as the kubelet updates a Secret volume: a new file renamed over it."""
        staged = self.password_file + ".new"
        with open(staged, "w") as f:
            f.write(password + "\n")  # as `echo` writes it: the line end is not part of the password
        os.chmod(staged, 0o600)
        os.replace(staged, self.password_file)

    def seed_accounts(self):
        run = uuid.uuid4().hex[:8]
        ids = []
        for i in range(ACCOUNTS):
            reply = self.service.call("POST", "/customers", {
                "name": f"Account {i}", "email": f"account-{i}-{run}@example.org", "creditBalance": 1000.00})
            if reply.status != 201:
                raise RuntimeError(f"seeding account {i} failed: {reply.label()} {reply.body[:300]!r}")
            ids.append(reply.json()["id"])
        log(f"seeded accounts {ids}")
        return ids

    def faults(self):
        # lambdas read self.pg when they run: after the failover they act on the promoted standby (and so do
        # the objects below: they read bench.pg when called)
        held = HeldRow(self, self.timing.held_row)
        return [
            Fault("pg restart fast", lambda phase: restart_postgres(self.pg, "fast")),
            Fault("pg restart immediate", lambda phase: restart_postgres(self.pg, "immediate")),
            Fault("terminate backends x3", lambda phase: terminate_service_backends(self.pg)),
            Fault("network freeze+reset", lambda phase: freeze_network(self.proxy)),
            Fault("lock storm/deadlocks", lambda phase: lock_storm(self.pg, self.accounts)),
            Fault("pool starvation", lambda phase: starve_pool(self.pg, self.load)),
            Fault("failover", lambda phase: fail_over(self, phase), prepare=self.add_standby),
            Fault("silent network", lambda phase: silent_network(self, phase, self.timing.blackhole)),
            Fault("client hang-up", lambda phase: ClientHangUp(self)(phase)),
            Fault("held row", held, prepare=held.prepare, with_load=held.with_load),
            Fault("password rotation", PasswordRotation(self, self.timing.wrong_password)),
            Fault("read-only database", ReadOnlyDatabase(self, self.timing.read_only)),
            # last: after the limit is lifted, the pool grows back by one connection per 10 s
            Fault("connection cap", ConnectionCap(self, self.timing.cap_window)),
        ]

    def add_standby(self):
        started = time.monotonic()
        self.standby = self.pg.create_standby("faults-standby")
        log(f"  synchronous standby streaming on 127.0.0.1:{self.standby.port} "
            f"({time.monotonic() - started:.1f}s)")

    def run_phase(self, fault):
        if fault.prepare:
            fault.prepare()
        log(f"phase '{fault.name}': load for {self.timing.load_before}s")
        phase = Phase(fault.name, PhaseStats(fault.name))
        phase.started = time.monotonic()
        self.load.start(phase.stats)
        if fault.with_load:
            fault.with_load(phase)
        time.sleep(self.timing.load_before)
        fault_start = time.monotonic()
        try:
            note = fault.inject(phase)
            if note:
                phase.notes.insert(0, note)
        except Exception as e:  # a fault that could not be injected is reported as a broken phase
            phase.fail(f"injection failed: {type(e).__name__}: {e}")
        fault_start = phase.fault_start = phase.fault_start or fault_start
        fault_end = phase.fault_end = phase.fault_end or time.monotonic()
        log(f"  fault done in {time.monotonic() - fault_start:.1f}s ({'; '.join(phase.notes)}); "
            f"load for {self.timing.load_after}s more")
        time.sleep(self.timing.load_after)
        self.load.stop()
        recovery = self.measure_recovery(phase.stats, fault_end)
        phase.finished = time.monotonic()
        if self.monitor.went_down_between(fault_start, phase.finished):
            phase.note("readiness went DOWN")
        result = self.check_phase(phase, recovery)
        self.draw_timeline(phase, result)
        return result

    def draw_timeline(self, phase, result):
        """bench/out/timelines/<phase>.svg: the phase's answers per 100 ms, readiness and the fault's moments."""
        try:
            stats = phase.stats
            answers = [(a.finished, a.elapsed, timeline.answer_class(a.status, a.kind)) for a in stats.answers]
            readiness = [(s.sent, s.status) for s in self.monitor.between(phase.started - 1, phase.finished + 5)]
            markers = [(phase.fault_start, "fault start"), (phase.fault_end, "fault end"), *phase.markers]
            subtitle = (f"{stats.requests} requests, {stats.attempts} attempts, slowest {stats.slowest:.1f} s, "
                        f"recovery {'-' if result.recovery is None else f'{result.recovery:.1f} s'}, invariant "
                        f"{'held' if result.invariant else 'BROKEN'}.  {phase.notes[0] if phase.notes else ''}")
            svg = timeline.render(f"{phase.name} — Bastion fault benchmark", subtitle,
                                  datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), phase.started,
                                  phase.finished, answers, readiness, markers)
            path = os.path.join(OUT, "timelines", timeline_name(phase.name))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as out:
                out.write(svg)
            self.timelines.append(path)
        except Exception as e:  # a picture that cannot be drawn must not cost the phase's results
            log(f"  timeline of '{phase.name}' not drawn: {type(e).__name__}: {e}")

    def measure_recovery(self, stats, fault_end):
        """Seconds from the fault's end until a request succeeded AND readiness was UP again."""
        first_success = stats.first_success_after(fault_end)
        first_ready = self.monitor.first_ready_after(fault_end)
        deadline = time.monotonic() + 60
        while (first_success is None or first_ready is None) and time.monotonic() < deadline and self.service.alive():
            # the load window ended before recovery: keep probing on our own
            if first_success is None:
                reply = self.service.call("GET", f"/customers/{self.accounts[0]}", timeout=5)
                if reply.status == 200:
                    first_success = reply.finished
            first_ready = first_ready or self.monitor.first_ready_after(fault_end)
            time.sleep(0.25)
        if first_success is None or first_ready is None:
            return None
        return max(first_success, first_ready) - fault_end

    def check_phase(self, phase, recovery):
        stats = phase.stats
        for check in phase.after_load:
            check(phase)
        result = audit(read_snapshot(self.pg), self.acks, self.accounts + self.bystanders)
        failures = phase.failures + result.failures
        if not self.service.alive():
            failures.append("the service process died (or was replaced)")
        if recovery is None:
            failures.append("the service did not recover within 60 s")
        left_open = wait_for_no_idle_transactions(self.pg)
        if left_open:
            failures.append(f"{left_open} service session(s) left idle in transaction after the phase")
        if stats.bad_500s:
            failures.append(f"500 answers other than {UNKNOWN_OUTCOME}: {dict(stats.bad_500s)}")
        if stats.slowest > SLOWEST_ALLOWED:
            failures.append(f"slowest answer {stats.slowest:.1f}s, more than DB_REQUEST_TIMEOUT + 3 s "
                            f"({SLOWEST_ALLOWED}s)")
        new_lost = result.lost - self.reported_lost
        new_duplicates = result.duplicates - self.reported_duplicates
        self.reported_lost |= result.lost
        self.reported_duplicates |= result.duplicates
        held = not failures
        if stats.replays:
            phase.note(f"{stats.replays} replays")
        for failure in failures[:20]:
            log(f"  INVARIANT: {failure}")
        log(f"  {stats.requests} requests, {dict(stats.finals)}, slowest {stats.slowest:.1f}s, recovery "
            f"{'-' if recovery is None else f'{recovery:.1f}s'}, invariant {'held' if held else 'BROKEN'}")
        return PhaseResult(phase.name, stats, len(new_lost), len(new_duplicates), held, recovery,
                           "; ".join(phase.notes), failures)

    def tear_down(self):
        # each step on its own: one failing must not leave the others running
        steps = [lambda: self.load and self.load.stop(), lambda: self.monitor and self.monitor.stop(),
                 lambda: self.service and self.service.stop(), lambda: self.proxy and self.proxy.stop()]
        steps += [lambda pg=pg: pg and pg.stop() for pg in (self.standby, self.pg, *self.retired)]
        steps.append(lambda: self.events and self.events.close())
        steps.append(lambda: self.secret_dir and shutil.rmtree(self.secret_dir, ignore_errors=True))
        for step in steps:
            try:
                step()
            except Exception as e:
                log(f"clean-up step failed: {e}")


def timeline_name(phase_name):
    """`lock storm/deadlocks` -> `lock-storm-deadlocks.svg`."""
    return "-".join("".join(c if c.isalnum() else " " for c in phase_name.lower()).split()) + ".svg"


def copy_timelines(paths, directory):
    os.makedirs(directory, exist_ok=True)
    for path in paths:
        shutil.copy(path, os.path.join(directory, os.path.basename(path)))
    log(f"{len(paths)} incident pictures copied to {directory}")


def print_table(results):
    header = ["fault", "requests", "attempts", "2xx", "4xx", "503", "500", "other", "lost", "dups", "bad 500",
              "slowest s", "recovery s", "invariant"]
    rows = [[r.fault, r.stats.requests, r.stats.attempts, r.stats.finals["2xx"], r.stats.finals["4xx"],
             r.stats.finals["503"], r.stats.finals["500"], r.stats.finals["other"], r.lost, r.duplicates,
             r.bad_500s, f"{r.stats.slowest:.1f}", "-" if r.recovery is None else f"{r.recovery:.1f}",
             "yes" if r.invariant else "no"] for r in results]
    harness.print_table(header, rows)
    print()
    print(f"Invariants: 0 lost, 0 dups, 0 bad 500 (a 500 whose kind is not {UNKNOWN_OUTCOME}), slowest answer "
          f"<= DB_REQUEST_TIMEOUT + 3 s = {SLOWEST_ALLOWED} s, no service session left idle in transaction, "
          "recovered without a restart, and each phase's own checks. Statuses count final answers; "
          "\"other\" is a client timeout, a connection error or a 504.")
    print()
    for r in results:
        print(f"{r.fault}: {r.note}")
        print(f"  answers: {', '.join(f'{k}×{v}' for k, v in sorted(r.stats.statuses.items()))}")
        for failure in r.failures[:10]:
            print(f"  BROKEN: {failure}")


def write_results(results, path):
    with open(path, "w") as out:
        json.dump([{"fault": r.fault, "requests": r.stats.requests, "attempts": r.stats.attempts,
                    "finals": dict(r.stats.finals), "statuses": dict(r.stats.statuses), "lost": r.lost,
                    "duplicates": r.duplicates, "bad_500s": dict(r.stats.bad_500s),
                    "slowest_seconds": round(r.stats.slowest, 3), "invariant": r.invariant,
                    "recovery_seconds": r.recovery, "note": r.note, "failures": r.failures} for r in results],
                  out, indent=2)


def main():
    parser = harness.argument_parser(__doc__, "short phases (about 3 minutes in total)")
    parser.add_argument("--timelines", metavar="DIR",
                        help="also copy the incident pictures (bench/out/timelines/*.svg) to DIR, say docs/incidents")
    parser.add_argument("--phase", metavar="NAME", action="append",
                        help="run only this phase (repeatable; in the usual order), say --phase 'held row'")
    args = parser.parse_args()
    shutil.rmtree(os.path.join(OUT, "timelines"), ignore_errors=True)  # no picture of an earlier run left over

    bench = Bench(QUICK if args.quick else FULL)
    results = []
    died = False
    try:
        faults = bench.faults()
        unknown = set(args.phase or ()) - {f.name for f in faults}
        if unknown:
            log(f"no such phase: {', '.join(sorted(unknown))} (phases: {', '.join(f.name for f in faults)})")
            return 2
        bench.set_up()
        for fault in (f for f in faults if not args.phase or f.name in args.phase):
            results.append(bench.run_phase(fault))
            if not bench.service.alive():
                died = True
                log("the service died: stopping here")
                break
    except Exception as e:
        log(f"benchmark could not run: {type(e).__name__}: {e}")
        return 2
    finally:
        bench.tear_down()
        if results:
            print()
            print_table(results)
            write_results(results, os.path.join(OUT, "faults-results.json"))
        log(f"logs in {os.path.relpath(OUT, os.getcwd())}/faults-*.log, "
            f"{bench.events.count if bench.events else 0} unexpected client outcomes logged")
        if bench.timelines:
            log(f"incident pictures in {os.path.relpath(os.path.join(OUT, 'timelines'), os.getcwd())}/")
            if args.timelines:
                copy_timelines(bench.timelines, args.timelines)
    log(f"total {time.monotonic() - STARTED:.0f}s")
    broken = died or any(r.lost or r.duplicates or not r.invariant for r in results)
    return 1 if broken else 0


if __name__ == "__main__":
    harness.run(main)
