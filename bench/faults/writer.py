#!/usr/bin/env python3
"""Writer discovery without a proxy: three real PostgreSQL processes, the service given all of them.

A primary and two streaming standbys (synchronous_standby_names = 'ANY 1 (s1, s2)'), the packaged
service with DB_HOSTS listing the three and no proxy or stable address in front. Under keyed writes
and reads:

1. failover: the primary is killed, and the *second* standby promoted a moment later (as an operator
   or Patroni would); the service must find it by itself: 0 acknowledged writes lost, no 500, writes
   succeeding again within 2 s of the promotion, reads served meanwhile (reads by id go to the
   standbys, DB_READ_TARGET=prefer-standby, and none of an acknowledged customer answers 404);
   Before that, read-your-writes: with replay paused on both standbys, a credit adjustment followed by
   a read that carries the adjustment's Bastion-Written-Position back (Bastion-Read-After) must see the
   new balance every time (a read without it may not: counted, for information); and a rotated
   password: the service's role gets a new password on every node for longer than a discovery round,
   so every new connection is refused while the open ones work: every read must still be served, on
   the standbys' connections it has (discovery, whose probes are refused too, must not take them away);
   and one standby refusing the service's logins (pg_hba.conf), the service's sessions on both standbys
   ended: every read must still be served, by the other standby or the writer;
2. split brain: the old primary comes back writable (restarted without standby settings, on its old
   timeline): nothing may be written to it, and the service must say so (log, metric, readiness).

    python3 bench/faults/writer.py [--quick]

Exits 1 when an invariant breaks. Python 3.11 standard library only; logs go to bench/out/.
"""
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
import httpload  # noqa: E402
from harness import Postgres, Service, wait_until  # noqa: E402

WRITERS = 4
READERS = 2
RETRIES = 20                 # a keyed write is repeated with its key until it gets an answer that is not a 503
WRITES_BACK_WITHIN = 2.0     # seconds after the promotion
SERVICE_ENV = {"DB_POOL_SIZE": "8", "DB_MAX_OVERFLOW": "0", "DB_POOL_TIMEOUT": "2", "DB_CONNECT_TIMEOUT": "1",
               "DB_REQUEST_TIMEOUT": "5", "DB_BREAKER_DELAY": "1", "BASTION_DB_PROBE_TIMEOUT": "1",
               "DB_READ_TARGET": "prefer-standby", "DB_MAX_STANDBY_LAG": "5"}
ROLE = "bastion_app"         # the service's login role: scram-sha-256, so a changed password is refused
PASSWORD = f"writer-{uuid.uuid4().hex[:12]}"
STARTED = time.monotonic()


def log(message):
    print(f"[writer {time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


class Load:
    """Keyed creates (each repeated with its key until answered) and reads, recording every answer."""

    def __init__(self, service):
        self.service = service
        self.running = True
        self.lock = threading.Lock()
        self.acknowledged = {}            # email -> id, for every 201 (or replayed 200)
        self.answers = []                 # (sent, finished, kind, status, problem kind)
        self.threads = []

    def start(self):
        for i in range(WRITERS):
            self.threads.append(threading.Thread(target=self._writer, args=(random.Random(i),), daemon=True))
        for i in range(READERS):
            self.threads.append(threading.Thread(target=self._reader, args=(random.Random(100 + i),), daemon=True))
        for t in self.threads:
            t.start()

    def stop(self):
        self.running = False
        for t in self.threads:
            t.join(30)

    def _record(self, sent, kind, reply):
        problem = None
        if reply.status is not None and reply.status >= 400:
            try:
                problem = reply.json().get("kind")
            except (ValueError, AttributeError):
                problem = "not-json"
        with self.lock:
            self.answers.append((sent, time.monotonic(), kind, reply.status, problem))

    def _writer(self, rng):
        while self.running:
            email = f"writer-{uuid.uuid4().hex[:12]}@example.org"
            key = uuid.uuid4().hex
            for _ in range(RETRIES):
                sent = time.monotonic()
                reply = self.service.call("POST", "/customers", {"name": "Writer", "email": email},
                                          headers={"Idempotency-Key": key})
                self._record(sent, "create", reply)
                if reply.status in (200, 201):
                    with self.lock:
                        self.acknowledged[email] = reply.json()["id"]
                    break
                if reply.status not in (503, 500, None):
                    break
                time.sleep(0.05 + rng.random() * 0.1)
            time.sleep(0.01)

    def _reader(self, rng):
        while self.running:
            with self.lock:
                ids = list(self.acknowledged.values())
            if ids:
                sent = time.monotonic()
                self._record(sent, "read", self.service.call("GET", f"/customers/{rng.choice(ids)}"))
            time.sleep(0.01)

    def between(self, start, end, kind=None):
        with self.lock:
            return [a for a in self.answers if start <= a[0] < end and (kind is None or a[2] == kind)]

    def first_success_after(self, moment, kind="create"):
        with self.lock:
            done = [a[1] for a in self.answers if a[0] >= moment and a[2] == kind and a[3] in (200, 201)]
        return min(done, default=None)


def tally(answers):
    return dict(Counter(f"{a[2]} {a[3]}{' ' + a[4] if a[4] else ''}" for a in answers))


def every_read_served(load, start, end, failures, what, meanwhile, while_):
    """Logs the reads and creates between start and end; a failure unless reads were sent and all answered 200."""
    reads = load.between(start, end, "read")
    refused = [a for a in reads if a[3] != 200]
    log(f"{what}: reads {tally(reads)}; {meanwhile}; creates {tally(load.between(start, end, 'create'))}")
    if not reads:
        failures.append(f"no read was sent while {while_}")
    elif refused:
        failures.append(f"{len(refused)} of {len(reads)} reads not served while {while_}: {tally(refused)}")


def metric(service, name):
    """An unlabelled series of /q/metrics, None when absent."""
    reply = httpload.call(service.management_port, "GET", "/q/metrics", timeout=5)
    for line in reply.text.splitlines() if reply.status == 200 else ():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def readiness(service):
    """(HTTP status, the database check's data) of one readiness probe."""
    reply = httpload.get(service.readiness_url(), 5)
    try:
        checks = reply.json().get("checks", [])
    except (ValueError, AttributeError):
        return reply.status, {}
    return reply.status, next((c.get("data") or {} for c in checks if c.get("name") == "database"), {})


def customers(pg):
    return int(pg.psql("SELECT count(*) FROM customer"))


def main():
    quick = "--quick" in sys.argv
    steady = 2.0 if quick else 5.0
    failures = []
    clusters = []
    service = None
    load = None
    try:
        primary = Postgres({"max_connections": "100", "wal_keep_size": "256MB"}, name="writer-primary").start()
        clusters.append(primary)
        primary.add_password_role(ROLE, PASSWORD)  # before the base backups: the standbys carry role and rules along
        s1 = primary.create_standby("s1")
        clusters.append(s1)
        s2 = primary.create_standby("s2")
        clusters.append(s2)
        primary.psql("ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (s1, s2)'")
        primary.psql("SELECT pg_reload_conf()")
        hosts = ",".join(f"127.0.0.1:{pg.port}" for pg in (primary, s1, s2))
        log(f"primary :{primary.port}, standbys s1 :{s1.port} and s2 :{s2.port}, ANY 1 (s1, s2); DB_HOSTS={hosts}")
        # DB_PORT points at s1, a standby: the service must not care where DB_HOST/DB_PORT point
        service = Service(s1.port, env={**SERVICE_ENV, "DB_HOSTS": hosts, "DB_USERNAME": ROLE, "DB_PASSWORD": PASSWORD},
                          name="writer-service",
                          http_timeout=10).start()
        status, data = readiness(service)
        log(f"service ready on :{service.port}: readiness {status} {data}")
        if data.get("writer") != f"127.0.0.1:{primary.port}":
            failures.append(f"readiness names writer {data.get('writer')!r}, not the primary 127.0.0.1:{primary.port}")

        load = Load(service)
        load.start()
        time.sleep(steady)
        # reads by id on the standbys (DB_READ_TARGET=prefer-standby): their sessions are there
        on_standbys = {pg.name: int(pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bastion'"))
                       for pg in (s1, s2)}
        status, data = readiness(service)
        log(f"service sessions on the standbys {on_standbys}; readiness readsFrom {data.get('readsFrom')!r}")
        if not sum(on_standbys.values()) or not data.get("readsFrom"):
            failures.append(f"reads did not go to the standbys: sessions {on_standbys}, readsFrom {data.get('readsFrom')!r}")

        # --- read-your-writes: replay paused, a read carrying the write's position still sees it ---
        for pg in (s1, s2):
            pg.psql("SELECT pg_wal_replay_pause()")
        paused = time.monotonic()
        with load.lock:
            some = list(load.acknowledged.values())[:10]
        stale_with, stale_without, positions = 0, 0, 0
        while time.monotonic() - paused < 3 and some:
            cid = some[positions % len(some)]
            adjusted = service.call("POST", f"/customers/{cid}/credit-adjustments", {"amount": "1.00"},
                                    headers={"Idempotency-Key": uuid.uuid4().hex})
            if adjusted.status != 200:
                failures.append(f"credit adjustment answered {adjusted.status} while standbys lag")
                break
            position = adjusted.headers.get("bastion-written-position")
            if not position:
                failures.append("a write's answer carried no Bastion-Written-Position with DB_READ_TARGET=prefer-standby")
                break
            positions += 1
            balance = adjusted.json()["creditBalance"]
            after = service.call("GET", f"/customers/{cid}", headers={"Bastion-Read-After": position})
            if after.status != 200 or after.json()["creditBalance"] != balance:
                stale_with += 1
            plain = service.call("GET", f"/customers/{cid}")
            if plain.status == 200 and plain.json()["creditBalance"] != balance:
                stale_without += 1
        for pg in (s1, s2):
            pg.psql("SELECT pg_wal_replay_resume()")
        log(f"read-your-writes, replay paused on the standbys: {positions} adjustments, reads carrying the position "
            f"stale {stale_with}, reads without it stale {stale_without} (for information)")
        if stale_with:
            failures.append(f"{stale_with} read(s) carrying Bastion-Read-After missed the caller's own write")

        # --- a rotated password: new connections refused on every node, the open ones work ---
        rotated = time.monotonic()
        primary.psql(f"SET password_encryption = 'scram-sha-256'; ALTER ROLE {ROLE} PASSWORD 'rotated-{uuid.uuid4().hex[:8]}'")
        time.sleep(2 * steady + 6)  # longer than a discovery round (5 s): its probes are refused too
        during = {pg.name: int(pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bastion'"))
                  for pg in (s1, s2)}
        primary.psql(f"SET password_encryption = 'scram-sha-256'; ALTER ROLE {ROLE} PASSWORD '{PASSWORD}'")
        restored = time.monotonic()
        every_read_served(load, rotated, restored, failures,
                          f"password rotated on every node for {restored - rotated:.1f}s",
                          f"service sessions on the standbys meanwhile {during}", "only new connections were refused")
        if not sum(during.values()):
            failures.append("the service's connections to the standbys were closed while the password was rotated")

        # --- one standby refuses the service's logins (pg_hba.conf), both end the service's sessions (the pool must
        # open new ones, some of them at s1): reads go on elsewhere ---
        s1.refuse_logins(ROLE)
        refused_from = time.monotonic()
        ended = sum(int(pg.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'bastion'"))
                    for pg in (s1, s2))
        time.sleep(2 * steady + 6)  # longer than a discovery round (5 s): before it, reads are still sent to s1
        s1.refuse_logins(ROLE, refuse=False)
        accepted_again = time.monotonic()
        every_read_served(load, refused_from, accepted_again, failures,
                          f"s1 refused the service's logins for {accepted_again - refused_from:.1f}s",
                          f"{ended} sessions ended", "one standby refused the service's logins")

        # --- failover: the primary dies, the second standby is promoted a moment later ---
        killed = time.monotonic()
        primary.kill()
        log("primary killed")
        time.sleep(1.0)
        lsns = {pg.name: pg.psql("SELECT pg_last_wal_receive_lsn()") for pg in (s1, s2)}
        promoting = time.monotonic()
        s2.promote()
        promoted = time.monotonic()
        log(f"s2 promoted ({promoted - promoting:.1f}s; received LSNs {lsns})")
        wait_until(lambda: load.first_success_after(promoted) is not None, 15)
        first_write = load.first_success_after(promoted)
        time.sleep(steady)
        window = load.between(killed, time.monotonic())
        writes_back = None if first_write is None else first_write - promoted
        status, data = readiness(service)
        log(f"failover: first acknowledged write {'-' if writes_back is None else f'{writes_back:.2f}s'} after the "
            f"promotion; answers {tally(window)}; readiness {status} {data}")
        if writes_back is None or writes_back > WRITES_BACK_WITHIN:
            failures.append(f"writes not back within {WRITES_BACK_WITHIN}s of the promotion ({writes_back})")
        if data.get("writer") != f"127.0.0.1:{s2.port}":
            failures.append(f"readiness names writer {data.get('writer')!r} after the failover, not s2")
        # s1 still follows the dead primary: it replays nothing more, so it must stop serving reads
        stale = f"127.0.0.1:{s1.port}"
        dropped = wait_until(lambda: stale not in (readiness(service)[1].get("readsFrom") or ""), 30)
        log(f"s1 (following the dead primary) {'left' if dropped else 'still in'} readsFrom "
            f"{time.monotonic() - killed:.1f}s after the kill: {readiness(service)[1].get('readsFrom')!r}")
        if not dropped:
            failures.append("a standby following the dead primary kept serving reads")
        reads = [a for a in window if a[2] == "read"]
        if not any(a[3] == 200 for a in reads):
            failures.append("no read was served during the failover")

        # --- split brain: the old primary comes back writable, on its old timeline ---
        primary.drop_auto_setting("synchronous_standby_names")  # it would otherwise wait for standbys on every commit
        primary._launch()
        on_old = customers(primary)
        log(f"old primary restarted writable with {on_old} customers (timeline 1); s2 is on timeline 2")
        brain_seen = wait_until(lambda: (metric(service, "bastion_db_split_brain") or 0) >= 2, 15)
        time.sleep(steady)
        status, data = readiness(service)
        written_to_old = customers(primary) - on_old
        log(f"split brain: metric seen {'yes' if brain_seen else 'no'}, readiness {status} {data}, "
            f"rows written to the old primary since it came back: {written_to_old}")
        if written_to_old:
            failures.append(f"{written_to_old} customer(s) written to the old primary during the split brain")
        if not brain_seen or "splitBrain" not in data:
            failures.append("the split brain was not reported (metric bastion_db_split_brain, readiness data)")
        if data.get("writer") != f"127.0.0.1:{s2.port}":
            failures.append(f"the service writes to {data.get('writer')!r} during the split brain, not s2")
    finally:
        if load:
            load.stop()

    # --- audit on the new writer: every acknowledged write is there, once ---
    try:
        rows = dict(s2.rows("SELECT email, id FROM customer WHERE email LIKE 'writer-%'"))
        lost = [e for e in load.acknowledged if e not in rows]
        wrong = [e for e, i in load.acknowledged.items() if e in rows and int(rows[e]) != i]
        bad = [a for a in load.answers if a[3] is not None and a[3] >= 500 and a[4] not in (
            "database-unavailable", "database-read-only", "circuit-open", "pool-exhausted", "request-deadline-exceeded")]
        log(f"audit: {len(load.acknowledged)} acknowledged writes, {len(lost)} lost, {len(wrong)} with another id; "
            f"{len(load.answers)} answers {tally(load.answers)}")
        not_found = [a for a in load.answers if a[2] == "read" and a[3] == 404]
        if not_found:  # readers read acknowledged ids only: a standby behind must not hide a write
            failures.append(f"{len(not_found)} reads of acknowledged customers answered 404")
        if lost or wrong:
            failures.append(f"{len(lost)} acknowledged write(s) lost, {len(wrong)} answered with another id")
        if bad:
            failures.append(f"{len(bad)} 5xx answers that are not an honest 503: {tally(bad)}")
    finally:
        if service:
            service.stop()
        for pg in clusters:
            pg.stop()
    for failure in failures:
        log(f"BROKEN: {failure}")
    log("invariants held" if not failures else f"{len(failures)} invariant(s) broken")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
