"""The fault bench's checks after the fact: the database read in one snapshot and compared with what the
clients were told (lost and duplicated writes, ledgers and balances, credit conserved), service sessions
left in a transaction, and answers summed up for the phases' reports."""
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import httpload  # noqa: E402
from harness import wait_until  # noqa: E402

OPENING_BALANCE = Decimal("1000.00")
TRANSFER_OPERATION = "customer.transfer"
CREATE_OPERATION = "customer.create"


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
# Service sessions, read from pg_stat_activity
# ------------------------------------------------------------------------------------------------

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


# ------------------------------------------------------------------------------------------------
# Answers summed up, for notes and broken invariants
# ------------------------------------------------------------------------------------------------

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
