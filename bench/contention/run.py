#!/usr/bin/env python3
"""Hot-row contention: credit adjustments and transfers on three busy customers, while a second
PostgreSQL client deadlocks with the service on purpose.

N HTTP clients (keep-alive, one thread each) send a mix of credit adjustments (half of them with an
Idempotency-Key) and transfers between three hot customers. Beside them, a psql session locks the
hot rows in descending id order, the opposite of the service's transfers, so real deadlocks happen
and the service must absorb them. Afterwards the database is audited:

  * no 5xx and no transport error reached a client;
  * each hot balance = initial + acknowledged adjustments - sent + received acknowledged transfers;
  * ledger rows between the hot customers = acknowledged transfers (and their ids match);
  * every keyed adjustment that was acknowledged is stored once under its key.

Prints throughput and latency per operation; exits 1 when an invariant breaks.

Two phases on the same rows, so the deadlocking client's cost shows: without it, then with it.

    python3 bench/contention/run.py            # 16 clients x 30 s per phase
    python3 bench/contention/run.py --quick    # 8 clients x 6 s per phase (CI, under a minute)
"""
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from httpload import KeepAlive, percentile  # noqa: E402

INITIAL = Decimal("100000.00")
HOT = 3
OPERATIONS = ("adjustment", "keyed adjustment", "transfer")
TABLE = harness.Columns(("phase", "<24"), ("operation", "<17"), ("requests", ">8"), ("2xx", ">6"), ("4xx", ">4"),
                        ("5xx", ">4"), ("err", ">4"), ("req/s", ">7.0f"), ("p50 ms", ">8.1f"), ("p99 ms", ">8.1f"))


class Client(threading.Thread):
    """One keep-alive HTTP connection sending the mix until the deadline; records every outcome."""

    def __init__(self, port, hot_ids, deadline, seed, key_prefix="bench-"):
        super().__init__(daemon=True)
        self.key_prefix = key_prefix
        self.hot_ids, self.deadline = hot_ids, deadline
        self.rng = random.Random(seed)
        self.results = []   # (operation, status, latency_s, plan, body or the transport error)
        self.connection = KeepAlive(port)

    def run(self):
        while time.monotonic() < self.deadline:
            operation = self.rng.choice(OPERATIONS)
            amount = Decimal(self.rng.randint(1, 5000)) / 100
            headers = {"Content-Type": "application/json"}
            if operation == "transfer":
                source, target = self.rng.sample(self.hot_ids, 2)
                plan = (source, target, amount)
                path, body = "/customers/transfers", {"from": source, "to": target, "amount": str(amount)}
            else:
                customer = self.rng.choice(self.hot_ids)
                amount = amount if self.rng.random() < 0.5 else -amount
                plan = (customer, amount)
                path, body = f"/customers/{customer}/credit-adjustments", {"amount": str(amount)}
                if operation == "keyed adjustment":
                    headers["Idempotency-Key"] = self.key_prefix + uuid.uuid4().hex
                    plan = (customer, amount, headers["Idempotency-Key"])
            reply = self.connection.request("POST", path, json.dumps(body), headers)
            self.results.append((operation, reply.status, reply.elapsed, plan,
                                 reply.text if reply.status is not None else reply.error))


class Deadlocker:
    """A psql session that locks the hot rows highest id first (the service locks lowest first), one
    transaction at a time with a pause between them: a client that deadlocks, not a lock storm."""

    PAUSE = 0.5

    def __init__(self, pg, hot_ids, deadline):
        self.hot_ids, self.deadline = sorted(hot_ids), deadline
        self.transactions = 0
        self.errors = open(harness.out_path("contention-deadlocker.log"), "w")
        self.psql = pg.session(stdout=subprocess.PIPE, stderr=self.errors, on_error_stop=False)
        self.thread = threading.Thread(target=self._feed, daemon=True)

    def start(self):
        self.thread.start()

    def _feed(self):
        low, high = self.hot_ids[0], self.hot_ids[-1]
        try:
            # the service's backends (100 ms) usually detect, and lose, the deadlock; PostgreSQL checks
            # once per wait, so a cycle that closes after their check is found here, 300 ms in
            self.psql.send("\\o /dev/null\nSET application_name = 'bench-deadlocker';\n"
                           "SET deadlock_timeout = '300ms';\n")
            while time.monotonic() < self.deadline:
                self.psql.send(f"BEGIN; SELECT id FROM customer WHERE id = {high} FOR UPDATE; SELECT pg_sleep(0.03);\n"
                               f"SELECT id FROM customer WHERE id = {low} FOR UPDATE; COMMIT;\n\\echo done\n")
                self.psql.wait_for("done")
                self.transactions += 1
                time.sleep(self.PAUSE)
        except (BrokenPipeError, OSError):
            pass

    def stop(self):
        self.thread.join(30)
        self.psql.finish()
        self.errors.close()


def audit(pg, hot_ids, results):
    """The invariants; returns a list of what broke (empty when everything holds)."""
    broken = []
    expected = {customer: INITIAL for customer in hot_ids}
    transfer_ids = set()
    keyed = []
    for operation, status, _, plan, text in results:
        if status is None or status >= 500:
            broken.append(f"{operation}: {status} {text[:200]}")
            continue
        if status != 200:
            continue
        if operation == "transfer":
            source, target, amount = plan
            expected[source] -= amount
            expected[target] += amount
            transfer_ids.add(json.loads(text)["id"])
        else:
            expected[plan[0]] += plan[1]
            if operation == "keyed adjustment":
                keyed.append(plan[2])
    id_list = ",".join(str(i) for i in hot_ids)
    for customer in hot_ids:
        actual = Decimal(pg.psql(f"SELECT credit_balance FROM customer WHERE id = {customer}"))
        if actual != expected[customer]:
            broken.append(f"balance of {customer}: {actual} in the database, {expected[customer]} acknowledged")
    ledger = pg.psql(f"SELECT coalesce(string_agg(id::text, ','), '') FROM credit_transfer "
                     f"WHERE from_id IN ({id_list}) AND to_id IN ({id_list})")
    ledger_ids = {int(i) for i in ledger.split(",") if i}
    if ledger_ids != transfer_ids:
        broken.append(f"ledger: {len(ledger_ids)} rows, {len(transfer_ids)} acknowledged transfers "
                      f"({len(ledger_ids - transfer_ids)} unacknowledged, {len(transfer_ids - ledger_ids)} missing)")
    stored = int(pg.psql("SELECT count(*) FROM idempotency_key WHERE operation = 'customer.credit-adjustment' "
                         "AND idempotency_key LIKE 'bench-%' AND response_status = 200"))
    if stored != len(keyed):
        broken.append(f"keys: {stored} stored, {len(keyed)} keyed adjustments acknowledged")
    return broken, expected, len(transfer_ids)


def run_clients(service, ids, seconds, clients, key_prefix, seed_base=0):
    """clients threads sending the mix to ids for seconds; returns every outcome."""
    deadline = time.monotonic() + seconds
    workers = [Client(service.port, ids, deadline, seed_base + seed, key_prefix) for seed in range(clients)]
    harness.join_all(harness.start_all(workers), seconds + 120)
    return [r for worker in workers for r in worker.results]


class Phase:
    """One measured run on the hot rows, with or without the deadlocking second client."""

    def __init__(self, name, with_deadlocker):
        self.name, self.with_deadlocker = name, with_deadlocker
        self.results, self.deadlocks, self.retried, self.gave_up, self.locker_transactions = [], 0, 0.0, 0.0, 0

    def run(self, pg, service, hot_ids, seconds, clients, seed_base):
        def deadlock_metric(outcome):
            return service.metric("bastion_db_deadlocks_total", {"kind": "deadlock", "outcome": outcome})

        before = (pg.deadlocks(), deadlock_metric("retried"), deadlock_metric("gave_up"))
        harness.log(f"{self.name}: {clients} clients for {seconds}s")
        deadlocker = Deadlocker(pg, hot_ids, time.monotonic() + seconds) if self.with_deadlocker else None
        if deadlocker:
            deadlocker.start()
        self.results = run_clients(service, hot_ids, seconds, clients, "bench-", seed_base)
        if deadlocker:
            deadlocker.stop()
            self.locker_transactions = deadlocker.transactions
        self.deadlocks = pg.deadlocks() - before[0]
        self.retried = deadlock_metric("retried") - before[1]
        self.gave_up = deadlock_metric("gave_up") - before[2]
        return self


def report(phases, seconds, clients, broken, expected):
    print()
    print(f"Contention: {clients} clients x {seconds}s per phase on {HOT} hot customers; {harness.machine_description()}")
    TABLE.print_header()
    for phase in phases:
        for operation in OPERATIONS + ("all",):
            rows = [r for r in phase.results if operation == "all" or r[0] == operation]
            latencies = sorted(r[2] * 1000 for r in rows)
            ok = sum(1 for r in rows if r[1] is not None and 200 <= r[1] < 300)
            client_errors = sum(1 for r in rows if r[1] is not None and 400 <= r[1] < 500)
            server_errors = sum(1 for r in rows if r[1] is not None and r[1] >= 500)
            transport = sum(1 for r in rows if r[1] is None)
            TABLE.print_row(phase.name, operation, len(rows), ok, client_errors, server_errors, transport, ok / seconds,
                            percentile(latencies, 0.5), percentile(latencies, 0.99))
    for phase in phases:
        print(f"{phase.name}: deadlocking client ran {phase.locker_transactions} transactions; deadlocks detected by "
              f"PostgreSQL: {phase.deadlocks}; retried by the service: {phase.retried:.0f}; gave up: {phase.gave_up:.0f}")
    print("final balances: " + ", ".join(f"{c}={v}" for c, v in expected.items()))
    results = [r for phase in phases for r in phase.results]
    print(f"0 x 5xx: {'yes' if not any(r[1] is None or r[1] >= 500 for r in results) else 'NO'}; "
          f"balances = initial + acknowledged adjustments +- transfers, ledger = acknowledged transfers, "
          f"keyed adjustments stored once: {'yes' if not broken else 'NO'}")
    for problem in broken[:20]:
        print(f"  BROKEN: {problem}")


def main():
    parser = harness.argument_parser(__doc__, "a short run for CI")
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--seconds", type=int, default=None, help="duration of each phase")
    args = parser.parse_args()
    clients = args.clients or (8 if args.quick else 16)
    seconds = args.seconds or (6 if args.quick else 30)

    service_env = {"DB_POOL_SIZE": "20", "DB_MAX_OVERFLOW": "0", "DB_POOL_WAIT_QUEUE": "2000"}
    with harness.Postgres() as pg, harness.Service(pg.port, env=service_env, name="contention-service") as service:
        harness.log(f"service ready in {service.startup_seconds:.2f}s")
        pg.psql(f"INSERT INTO customer (name, email, credit_balance) SELECT 'Hot ' || s, 'hot-' || s || '@bench.example', "
                f"{INITIAL} FROM generate_series(1, {HOT}) s")
        hot_ids = [int(i) for i in pg.psql("SELECT id FROM customer ORDER BY id").split()]
        # warm-up (JIT, pool) with the same mix on three other customers, so the hot rows start from INITIAL
        warm_ids = [int(i) for i in pg.psql(
            f"INSERT INTO customer (name, email, credit_balance) SELECT 'Warm ' || s, 'warm-' || s || '@bench.example', "
            f"{INITIAL} FROM generate_series(1, {HOT}) s RETURNING id").split()]
        warm_seconds = 3 if args.quick else 10
        harness.log(f"warming up for {warm_seconds}s")
        run_clients(service, warm_ids, warm_seconds, clients, "warm-", seed_base=1000)

        phases = [Phase("hot rows", False).run(pg, service, hot_ids, seconds, clients, 0),
                  Phase("hot rows + deadlocker", True).run(pg, service, hot_ids, seconds, clients, 100)]
        results = [r for phase in phases for r in phase.results]
        broken, expected, _ = audit(pg, hot_ids, results)
        if phases[1].deadlocks == 0:
            broken.append("the second client caused no deadlock: the run proves nothing about them")
        report(phases, seconds, clients, broken, expected)
        with open(harness.out_path("contention.json"), "w") as f:
            json.dump({"clients": clients, "seconds": seconds, "broken": broken,
                       "phases": {p.name: {"deadlocks": p.deadlocks, "retried": p.retried, "gave_up": p.gave_up,
                                           "results": [[r[0], r[1], r[2]] for r in p.results]} for p in phases}}, f)
        return 1 if broken else 0


if __name__ == "__main__":
    harness.run(main)
