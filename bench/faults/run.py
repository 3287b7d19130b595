#!/usr/bin/env python3
"""Fault-injection benchmark for Bastion.

Starts a private PostgreSQL (Debian's binaries, as user postgres), a fault proxy in front of it (the
service's stable address for the database) and the packaged service behind the proxy, logging in as
a role of its own (bastion_app: no superuser, scram-sha-256, password from DB_PASSWORD_FILE), then runs
one phase per fault under steady mixed load: restarts, killed backends, a frozen network, lock storms,
pool starvation, a failover to a synchronous standby, a silent network, clients that hang up, and the
partial problems: a held row, a rotated password, a read-only database, a revoked privilege and a
connection cap.
After each phase it audits the database directly: no acknowledged write lost, nothing applied twice,
credit conserved, no 500 other than commit-outcome-unknown, no answer slower than the request
deadline allows, no session left in a transaction, the service back to ready on its own. Exits 1
when an invariant breaks. Each phase also gets an incident picture, bench/out/timelines/<phase>.svg.

    python3 bench/faults/run.py [--quick] [--timelines DIR] [--phase NAME ...]

PostgreSQL, the service, their readiness and HTTP come from the shared harness (bench/harness.py,
bench/httpload.py). load.py drives the clients, scenarios.py injects the faults, audit.py checks the
database afterwards; this file runs the phases and reports. Python 3.11 standard library only. Logs
go to bench/out/ (git-ignored).
"""
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass

import timeline
from proxy import FaultProxy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from audit import audit, read_snapshot, wait_for_no_idle_transactions  # noqa: E402
from harness import OUT, Postgres, ReadinessMonitor, Service  # noqa: E402
from load import STARTED, UNKNOWN_OUTCOME, Acknowledged, EventLog, Load, PhaseStats  # noqa: E402
import scenarios  # noqa: E402
from scenarios import MAX_CONNECTIONS_PER_ROW, REQUEST_DEADLINE, SERVICE_ROLE, Phase  # noqa: E402

ACCOUNTS = 10

SLOWEST_ALLOWED = REQUEST_DEADLINE + 3    # invariant: no answer takes longer than the deadline plus a little
HTTP_TIMEOUT = REQUEST_DEADLINE + 5       # the clients wait past that bound, so a breach is measured, not hidden

SERVICE_ENV = {
    "DB_POOL_SIZE": "10", "DB_MAX_OVERFLOW": "10", "DB_POOL_TIMEOUT": "2", "DB_CONNECT_TIMEOUT": "2",
    "DB_COMMAND_TIMEOUT": "10", "DB_BREAKER_DELAY": "2", "DB_REQUEST_TIMEOUT": str(REQUEST_DEADLINE),
    "DB_MAX_CONNECTIONS_PER_ROW": str(MAX_CONNECTIONS_PER_ROW),
    # DB_PASSWORD_FILE (set in Bench.set_up) wins over DB_PASSWORD: a wrong one here proves it
    "DB_USERNAME": SERVICE_ROLE, "DB_PASSWORD": "not-the-password",
}


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
        self.held_row_among_partners = False  # --held-row-among-partners
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
    parser.add_argument("--held-row-among-partners", action="store_true",
                        help="the held row phase holds an account in the middle of the ids, and its bystanders "
                             "transfer among that account's partners: the wider fault, where waiting transfers "
                             "also hold their partner's row (the sessions waiting behind the holder are reported, "
                             "not checked against DB_MAX_CONNECTIONS_PER_ROW; the phase's other checks stand)")
    parser.add_argument("--phase", metavar="NAME", action="append",
                        help="run only this phase (repeatable; in the usual order), say --phase 'held row'")
    args = parser.parse_args()
    shutil.rmtree(os.path.join(OUT, "timelines"), ignore_errors=True)  # no picture of an earlier run left over

    bench = Bench(QUICK if args.quick else FULL)
    bench.held_row_among_partners = args.held_row_among_partners
    results = []
    died = False
    try:
        faults = scenarios.faults(bench)
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
