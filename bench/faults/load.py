"""The fault bench's clients: the mixed load (create, transfer, read) and a phase's extra client threads,
writes retried like a careful client, and what the clients were told (acknowledged writes, every HTTP
attempt of a phase, unexpected answers in bench/out/faults-client.log)."""
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402

WORKERS = 6
WRITE_RETRIES = 5
RETRY_STATUSES = {503, 504}
UNKNOWN_OUTCOME = "commit-outcome-unknown"

STARTED = time.monotonic()  # the bench's clock: log lines and faults-client.log count from here


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
