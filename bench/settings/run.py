#!/usr/bin/env python3
"""Every numeric setting at the ends of the range docs/configuration.md gives it, one at a time.

A setting start-up accepts must give a service that serves: the packaged service is started with the
setting at its documented minimum (and, without --quick, its maximum), the others at their defaults,
and must then answer a create, a keyed create, a read, a transfer, a credit adjustment, a page and
readiness with a 2xx. A short wait may make a request answer 503 on a loaded machine, or a keyed
write 500 commit-outcome-unknown when the deadline passes during COMMIT, so each is tried up to 20
times (writes with the same key; the balances then prove each ran once); any other 5xx, or never a
2xx, fails the run. The other allowed outcome is a
refusal at start-up that names the setting ("Invalid configuration: ..."), as when the minimum
conflicts with another setting's default. A start that fails any other way fails the run.

The ranges are read from the documentation, so a range that no longer holds fails here.

    python3 bench/settings/run.py            # both ends (~6 minutes)
    python3 bench/settings/run.py --quick    # minimums only (~3 minutes)
    python3 bench/settings/run.py DB_POOL_WAIT_QUEUE=0 DB_POOL_SIZE=1   # one set of values
"""
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "configuration.md")
RANGE = re.compile(r"^(-?[0-9.]+) to (-?[0-9.]+)(?: (?:whole )?s)?$")
AT_LEAST = re.compile(r"^at least ([0-9.]+)(?: s)?$")
# settings whose ends say nothing about serving (addresses, standbys only used with DB_HOSTS)
SKIPPED = {"DB_PORT", "DB_MAX_STANDBY_LAG"}
TRIES = 20


def documented_ranges():
    """(name, minimum, maximum or None) of every Bastion setting with a numeric range in the docs."""
    ranges = []
    for line in open(DOCS, encoding="utf-8"):
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 5 or not re.fullmatch(r"`(DB|BASTION|IDEMPOTENCY)_[A-Z_]+`", cells[1]):
            continue
        name = cells[1].strip("`")
        if name in SKIPPED:
            continue
        m = RANGE.match(cells[3]) or AT_LEAST.match(cells[3])
        if m:
            ranges.append((name, m.group(1), m.group(2) if m.re is RANGE else None))
    return ranges


def call(svc, method, path, body=None, headers=None, management=False):
    url = svc.management_url(path) if management else svc.url(path)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read()[:300].decode(errors="replace")


def until_served(svc, what, *args, **kwargs):
    """The answer once it is a 2xx, tried again within TRIES after a 503 or, for a write (every write here
    carries an Idempotency-Key, the same on each try), after 500 commit-outcome-unknown: what the service
    tells a caller to do when a short deadline passes during COMMIT. Raises on anything else."""
    keyed = "Idempotency-Key" in ((args[3] if len(args) > 3 else kwargs.get("headers")) or {})
    for _ in range(TRIES):
        status, body = call(svc, *args, **kwargs)
        if 200 <= status < 300:
            return body
        unknown = status == 500 and "commit-outcome-unknown" in str(body)
        if status != 503 and not (keyed and unknown):
            raise AssertionError(f"{what}: {status} {body}")
        time.sleep(0.25)
    raise AssertionError(f"{what}: 503 in {TRIES} tries: {body}")


def exercise(svc):
    """The API's paths, each of which must be served; returns what was done."""
    a = until_served(svc, "create", "POST", "/customers",
                     {"name": "A", "email": f"{uuid.uuid4()}@example.org", "creditBalance": 10},
                     {"Idempotency-Key": str(uuid.uuid4())})
    key = str(uuid.uuid4())  # the same key on every try: a retried keyed create is one customer
    b = until_served(svc, "keyed create", "POST", "/customers", {"name": "B", "email": f"{uuid.uuid4()}@example.org"},
                     {"Idempotency-Key": key})
    until_served(svc, "read", "GET", f"/customers/{a['id']}")
    until_served(svc, "transfer", "POST", "/customers/transfers", {"from": a["id"], "to": b["id"], "amount": 1},
                 {"Idempotency-Key": str(uuid.uuid4())})
    until_served(svc, "credit adjustment", "POST", f"/customers/{a['id']}/credit-adjustments", {"amount": 1},
                 {"Idempotency-Key": str(uuid.uuid4())})
    until_served(svc, "page", "GET", "/customers?limit=5")
    until_served(svc, "readiness", "GET", "/q/health/ready", management=True)
    balance = until_served(svc, "read after", "GET", f"/customers/{a['id']}")["creditBalance"]
    if float(balance) != 10:  # +1 credit, -1 transfer
        raise AssertionError(f"balance {balance} after a credit of 1 and a transfer of 1 from 10")
    return "served"


def refusal_in(log_path, name):
    try:
        with open(log_path, errors="replace") as f:
            found = re.search(r"Invalid configuration: [^\n]*", f.read())
    except OSError:
        return None
    return found.group(0) if found and name in found.group(0) else None


def main():
    args = sys.argv[1:]
    quick = "--quick" in args
    explicit = [a for a in args if "=" in a]
    if explicit:
        cases = [dict(a.split("=", 1) for a in explicit)]
    else:
        cases = []
        for name, low, high in documented_ranges():
            cases.append({name: low})
            if high is not None and not quick:
                cases.append({name: high})
    failures = []
    with harness.Postgres(name="settings-postgres") as pg:
        for env in cases:
            label = " ".join(f"{k}={v}" for k, v in env.items())
            service = harness.Service(pg.port, env=env, name="settings-service")
            try:
                with service as svc:
                    outcome = exercise(svc)
            except AssertionError as e:
                outcome = f"FAILED: {e}"
            except Exception as e:  # the service did not start
                refusal = refusal_in(service.log_path, next(iter(env)))
                outcome = f"refused at start: {refusal}" if refusal else f"FAILED to start: {e}"
            if outcome.startswith("FAILED"):
                failures.append(label)
            harness.log(f"{label:70s} {outcome}")
    harness.log(f"{len(cases)} settings tried, {len(failures)} failed" + (": " + ", ".join(failures) if failures else ""))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
