#!/usr/bin/env python3
"""Thousands of malformed and hostile requests against Bastion; any 5xx or any leak fails the run.

Categories: broken JSON, wrong types, huge strings and bodies, unicode edge cases, SQL
metacharacters, negative and overflowing numbers, unknown fields, hostile paths and ids, wrong
methods and media types. Prints counts by status and category; exits 1 on a 5xx or when a
response contains SQL, a stack trace or an internal name.

    python3 bench/badinput/run.py            # ~5000 requests
    python3 bench/badinput/run.py --quick    # ~800 requests
"""
import collections
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
import httpload  # noqa: E402

# Text that must never reach a client: SQL, driver and framework internals, schema names.
LEAKS = ["SQLSTATE", "syntax error", "INSERT INTO", "SELECT ", "UPDATE customer", "org.hibernate", "io.vertx",
         "java.lang", "Exception", "\tat ", "at dev.bastion", "customer_email_lower_key", "customer_credit_balance_check",
         "customer_note_customer_fk", "pg_catalog", "relation \"", "jdbc:", "postgresql://", "password"]

HOSTILE_STRINGS = [
    "'; DROP TABLE customer; --", "\" OR 1=1 --", "1; SELECT pg_sleep(10)", "%' OR '%'='", "\\x00\\x27",
    "Robert'); DROP TABLE customer;--", "$$; COPY customer TO '/tmp/x'; $$", "{{7*7}}", "${jndi:ldap://x/a}",
    "<script>alert(1)</script>", "../../../../etc/passwd", "\u0000", "a\u0000b", "\ud83d\ude00" * 10, "\u202eevil",
    "\u200b\u200b", "e\u0301\u0301\u0301", "\ufeff", "\uffff", "Ω≈ç√∫˜µ≤≥÷", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", " " * 50, "", "null",
]
NUMBERS = ["-1", "-0.01", "0", "1e308", "1e400", "-1e400", "99999999999999999999.99", "0.001", "1.999",
           "9223372036854775808", "-9223372036854775809", "NaN", "Infinity", "\"12\"", "true", "[]", "{}", "null"]


def cases(rng, count, ids):
    """(category, method, path, headers, body bytes) tuples, deterministic for a given seed."""
    templates = [
        broken_json, wrong_types, huge_strings, unicode_edges, sql_metacharacters, numbers, unknown_fields,
        hostile_paths, wrong_methods_and_media, hostile_query_params, hostile_headers,
    ]
    for i in range(count):
        yield templates[i % len(templates)](rng, ids)


def customer(rng, **overrides):
    body = {"name": "Bad Input", "email": f"bad-{rng.randrange(10**12)}@example.org"}
    body.update(overrides)
    return body


def json_request(category, method, path, body):
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return category, method, path, {"Content-Type": "application/json"}, data


def broken_json(rng, ids):
    good = json.dumps(customer(rng))
    variants = [good[: rng.randrange(1, len(good))], good + ",", good.replace(":", "=", 1), "{'name': 'x'}",
                "{\"name\": \"x\" \"email\": \"y\"}", "[" * 5000 + "]" * 5000, "{\"a\":" * 3000 + "1" + "}" * 3000,
                "", "null", "42", "\"string\"", "[]", "{\"name\": \"\\ud800\"}", "{\"name\": \"\\u00\"}"]
    raw = rng.choice(variants).encode("utf-8", "surrogatepass")
    if rng.random() < 0.2:
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    path = rng.choice(["/customers", "/customers/transfers", f"/customers/{rng.choice(ids)}/notes",
                       "/customers/import", f"/customers/{rng.choice(ids)}/credit-adjustments"])
    return json_request("broken json", "POST", path, raw)


def wrong_types(rng, ids):
    field, value = rng.choice([("name", 123), ("name", ["a"]), ("email", {"a": 1}), ("phone", 5.5),
                               ("status", 7), ("status", "sleeping"), ("creditBalance", "lots"),
                               ("creditBalance", [1]), ("name", None), ("email", True)])
    if rng.random() < 0.3:
        return json_request("wrong types", "POST", "/customers/transfers",
                            {"from": rng.choice(["x", [1], None, 1.5]), "to": rng.choice(ids), "amount": rng.choice(["1", {}, True])})
    if rng.random() < 0.3:
        cid = rng.choice(ids)
        return json_request("wrong types", "PUT", f"/customers/{cid}",
                            {"name": "x", "email": "x@example.org", "status": "ACTIVE", "version": rng.choice(["v1", -1, 1.5, None])})
    return json_request("wrong types", "POST", "/customers", customer(rng, **{field: value}))


def huge_strings(rng, ids):
    size = rng.choice([201, 321, 2001, 10_000, 60_000, 70_000, 200_000])
    field = rng.choice(["name", "email", "phone"])
    value = "x" * size if field != "email" else "x" * size + "@example.org"
    if rng.random() < 0.3:
        return json_request("huge", "POST", f"/customers/{rng.choice(ids)}/notes", {"body": "n" * size})
    if rng.random() < 0.2:
        return json_request("huge", "POST", "/customers/import", {"customers": [customer(rng) for _ in range(rng.choice([101, 500]))]})
    return json_request("huge", "POST", "/customers", customer(rng, **{field: value}))


def unicode_edges(rng, ids):
    text = rng.choice(HOSTILE_STRINGS)
    target = rng.choice(["name", "email", "phone", "note"])
    if target == "note":
        return json_request("unicode", "POST", f"/customers/{rng.choice(ids)}/notes", {"body": text or "x"})
    if target == "email":
        return json_request("unicode", "POST", "/customers", customer(rng, email=f"{text}{rng.randrange(10**9)}@example.org"))
    return json_request("unicode", "POST", "/customers", customer(rng, **{target: text}))


def sql_metacharacters(rng, ids):
    text = rng.choice(HOSTILE_STRINGS[:12])
    choice = rng.randrange(4)
    if choice == 0:
        return json_request("sql", "POST", "/customers", customer(rng, name=text))
    if choice == 1:
        return "sql", "GET", "/customers?email=" + quote(text), {}, None
    if choice == 2:
        return "sql", "GET", "/customers/" + quote(text), {}, None
    return json_request("sql", "POST", f"/customers/{rng.choice(ids)}/notes", {"body": text or "x"})


def numbers(rng, ids):
    value = rng.choice(NUMBERS)
    choice = rng.randrange(3)
    if choice == 0:
        raw = f'{{"name":"N","email":"n-{rng.randrange(10**12)}@example.org","creditBalance":{value}}}'
        return json_request("numbers", "POST", "/customers", raw.encode())
    if choice == 1:
        raw = f'{{"from":{rng.choice(ids)},"to":{rng.choice(ids)},"amount":{value}}}'
        return json_request("numbers", "POST", "/customers/transfers", raw.encode())
    raw = f'{{"amount":{value}}}'
    return json_request("numbers", "POST", f"/customers/{rng.choice(ids)}/credit-adjustments", raw.encode())


def unknown_fields(rng, ids):
    body = customer(rng, id=5, version=99, createdAt="yesterday", isAdmin=True, __proto__={"x": 1})
    return json_request("unknown fields", "POST", "/customers", body)


def hostile_paths(rng, ids):
    path = rng.choice(["/customers/../../etc/passwd", "/customers/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/customers/1;drop",
                       "/customers/-1", "/customers/0", "/customers/9223372036854775808", "/customers/99999999999999999999999",
                       "/customers/1e3", "/customers/0x10", "/customers/%00", "/customers/1%00", "/customers/%27",
                       "/customers/1/notes/../../2", "/customers/" + "9" * 5000, "//customers//1", "/customers/1/notes/abc",
                       "/admin/database/health", "/admin/../customers/1", "/q/../customers"])
    return "paths", rng.choice(["GET", "DELETE"]), path, {}, None


def wrong_methods_and_media(rng, ids):
    choice = rng.randrange(5)
    if choice == 0:
        return "methods", rng.choice(["PATCH", "PUT", "DELETE"]), "/customers", {}, None
    if choice == 1:
        return "methods", "POST", "/customers", {"Content-Type": "text/plain"}, b"name=x&email=y"
    if choice == 2:
        return "methods", "POST", "/customers", {"Content-Type": "application/xml"}, b"<customer/>"
    if choice == 3:
        return "methods", "POST", "/customers", {}, json.dumps(customer(rng)).encode()
    return "methods", "GET", "/customers/1", {"Accept": "application/xml"}, None


def hostile_query_params(rng, ids):
    query = rng.choice(["page=-1", "page=abc", "size=0", "size=101", "size=10000000000", "page=1e3", "email=%00",
                        "email=" + "a" * 5000, "email=x@y&email=z@w", "page=2147483648", "size=-5", "email='--"])
    return "query", "GET", "/customers?" + query, {}, None


def hostile_headers(rng, ids):
    key = rng.choice(["", " ", "k" * 201, "a b", "\u00e9t\u00e9", "key\x01", "x" * 100])
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    return "headers", "POST", "/customers", headers, json.dumps(customer(rng)).encode()


def quote(text):
    from urllib.parse import quote as q
    return q(text.encode("utf-8", "surrogatepass"), safe="")


def without_echoes(text, path, body):
    """The response minus what the request itself sent: echoing a caller's own input is no leak."""
    from urllib.parse import unquote
    echoes = [unquote(path), path]
    try:
        echoes.extend(strings_in(json.loads(body))) if body else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass
    for echo in sorted(echoes, key=len, reverse=True):
        if echo:
            text = text.replace(echo, "").replace(json.dumps(echo, ensure_ascii=False)[1:-1], "")
    return text


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def main():
    parser = harness.argument_parser(__doc__, "about 800 requests")
    parser.add_argument("--count", type=int, default=None)
    args = parser.parse_args()
    count = args.count or (800 if args.quick else 5000)

    with harness.Postgres(name="badinput-postgres") as pg, \
            harness.Service(pg.port, name="badinput-service") as service:
        ids = [service.call("POST", "/customers", {"name": "Target", "email": f"t{i}@example.org",
                                                   "creditBalance": 100}).json()["id"] for i in range(5)]
        rng = random.Random(20261126)
        by_status = collections.Counter()
        by_category = collections.defaultdict(collections.Counter)
        failures = []
        for category, method, path, headers, body in cases(rng, count, ids):
            reply = httpload.call(service.port, method, path, body, headers)
            status, text = reply.status or f"error:{reply.error}", reply.text
            by_status[status] += 1
            by_category[category][status] += 1
            leaked = [leak for leak in LEAKS if leak in without_echoes(text, path, body)]
            if isinstance(status, str) or status >= 500 or leaked:
                failures.append((category, method, path[:80], status, leaked, text[:300]))
        alive = service.status("/q/health/ready")

    print()
    print(f"Bad input: {count} requests, {harness.machine_description()}")
    print("by status: " + ", ".join(f"{s}: {n}" for s, n in sorted(by_status.items(), key=lambda kv: str(kv[0]))))
    for category, counts in sorted(by_category.items()):
        print(f"  {category:<15} " + ", ".join(f"{s}: {n}" for s, n in sorted(counts.items(), key=lambda kv: str(kv[0]))))
    print(f"service ready afterwards: {alive == 200}")
    print(f"failures (5xx, connection errors or leaked internals): {len(failures)}")
    for failure in failures[:20]:
        print(f"  {failure}")
    return 1 if failures or alive != 200 else 0


if __name__ == "__main__":
    harness.run(main)
