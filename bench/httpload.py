"""HTTP for the benchmarks' clients: one request on its own connection, a keep-alive connection,
percentiles of what they measured and sums of Prometheus series.

Python's http.client only. Every answer is a Reply, timed from sending the request until the answer
(or the failure) arrived, so a benchmark measures what its clients saw.
"""
import http.client
import json
import re
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

HOST = "127.0.0.1"


@dataclass
class Reply:
    status: int | None  # None: timeout or connection error
    body: bytes = b""
    headers: dict = field(default_factory=dict)  # names in lower case
    error: str = ""        # when status is None: "timeout" or the exception's class name
    finished: float = 0.0  # time.monotonic() when the answer (or the failure) arrived
    elapsed: float = 0.0   # seconds from sending the request to that moment

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def label(self):
        return str(self.status) if self.status is not None else f"conn:{self.error}"

    def kind(self):
        """The problem+json `kind` of an error answer, None when there is none."""
        try:
            return json.loads(self.body).get("kind")
        except (ValueError, AttributeError):
            return None


def call(port, method, path, body=None, headers=None, timeout=30):
    """One request on its own connection, with exactly the headers given; on a timeout the socket is
    closed (the client hangs up). Header values may hold any text: they go out as UTF-8 bytes."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    sent = time.monotonic()
    try:
        return _exchange(connection, method, path, body, headers, sent)
    except (OSError, http.client.HTTPException) as e:
        return _failed(e, sent)
    finally:
        connection.close()


def get(url, timeout):
    """GET of a loopback URL (say, a readiness endpoint) on its own connection."""
    parts = urlsplit(url)
    return call(parts.port, "GET", parts.path + (f"?{parts.query}" if parts.query else ""), timeout=timeout)


class KeepAlive:
    """One keep-alive connection for a client thread; reopened once when the server has closed it."""

    def __init__(self, port, timeout=60):
        self.port, self.timeout = port, timeout
        self.connection = None

    def request(self, method, path, body=None, headers=None):
        sent = time.monotonic()
        for _ in range(2):
            try:
                if self.connection is None:
                    self.connection = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
                    self.connection.connect()
                    # http.client writes headers and body separately: without this, Nagle's algorithm
                    # and delayed ACKs add ~40 ms to every request
                    self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return _exchange(self.connection, method, path, body, headers, sent)
            except (http.client.HTTPException, OSError) as e:
                self.connection = None
                last = e
        return _failed(last, sent)


def _exchange(connection, method, path, body, headers, sent):
    encoded = {k: v.encode("utf-8", "surrogatepass").decode("latin-1") for k, v in (headers or {}).items()}
    connection.request(method, path, body=body, headers=encoded)
    response = connection.getresponse()
    data = response.read()
    now = time.monotonic()
    return Reply(response.status, data, {k.lower(): v for k, v in response.getheaders()},
                 finished=now, elapsed=now - sent)


def _failed(error, sent):
    now = time.monotonic()
    return Reply(None, error="timeout" if isinstance(error, socket.timeout) else type(error).__name__,
                 finished=now, elapsed=now - sent)


def percentile(sorted_values, q):
    """The value below which a share q of the sorted values lies (nearest rank); 0.0 for none."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def served_buckets(text, series="http_server_requests_seconds_bucket"):
    """Cumulative counts of 2xx answers per histogram bound (seconds) in a Prometheus text exposition,
    summed over the series' other labels (method, uri)."""
    buckets = {}
    for line in text.splitlines():
        if line.startswith(series + "{") and 'outcome="SUCCESS"' in line:
            bound = re.search(r'le="([^"]+)"', line).group(1)
            le = float("inf") if bound == "+Inf" else float(bound)
            buckets[le] = buckets.get(le, 0.0) + float(line.rsplit(" ", 1)[1])
    return buckets


def quantile_between(before, after, q):
    """The q-quantile (seconds, a bucket's upper bound) of what two snapshots of served_buckets differ by:
    the answers served between them. None when none were."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return None
    for bound, count in zip(bounds, counts):
        if count >= q * counts[-1]:
            return bound
    return bounds[-1]


def prometheus_sum(text, name, labels):
    """Sum of the series `name` in a Prometheus text exposition whose labels include all of labels."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total
