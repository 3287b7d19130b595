#!/bin/bash
# Writes the application's ahead-of-time cache (JDK 25, JEP 483/514/515): starts the jar once, with
# the JVM flags it will run with, sends it a few requests once Quarkus reports it started, and stops
# it; as it exits, the JVM stores the classes it loaded, already parsed, verified and linked. Later
# starts map them instead of doing that work again (README, "Cost per request": start-up). Without
# method profiles (-AOTRecordTraining): a run this short teaches the JIT little, and its profiles
# made it compile the request path worse: create 121 µs of CPU per request with them, 98 without
# (bench, same run). The cache only serves classes the JDK's own class loaders load: the jar is
# packaged as an aot-jar for this (quarkus.package.jar.type in application.properties).
#
# No database is needed: migrations are off for this run, and the requests are answered without one
# (503). Used by Dockerfile.jvm and bench/startup, so the bench measures the cache the image ships.
# Needs bash (/dev/tcp) and timeout, both in the UBI base image.
#
#   aot-cache.sh CACHE JAR [JVM flags...]
set -eu
cache="$1"
jar="$2"
shift 2
log="$(mktemp)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$log"
}
trap cleanup EXIT
fail() {
  cat "$log" >&2
  echo "aot-cache.sh: $1" >&2
  exit 1
}
DB_HOST=127.0.0.1 DB_PORT=1 DB_MIGRATE_AT_START=false DB_MAX_RETRIES=0 DB_CONNECT_TIMEOUT=1 PORT=0 MANAGEMENT_PORT=0 QUARKUS_LOG_LEVEL=INFO \
  java "$@" -XX:+UnlockDiagnosticVMOptions -XX:-AOTRecordTraining -XX:AOTCacheOutput="$cache" -jar "$jar" >"$log" 2>&1 &
pid=$!
waited=0
until grep -q "started in" "$log"; do
  kill -0 "$pid" 2>/dev/null || fail "the application exited before it started"
  [ "$waited" -lt 300 ] || fail "the application did not start within 300 s"
  sleep 1
  waited=$((waited + 1))
done
# A few requests, so that the classes that serve them are cached too: the first readiness probe and
# the first requests of each pod then skip that loading. They fail for want of a database (a 503
# each), through the same handlers, unit of work, mappers and serialisers as any answer.
ports="$(sed -n 's/.*Listening on: [a-z]*:\/\/[^:]*:\([0-9]*\)\. Management interface listening on [a-z]*:\/\/[^:]*:\([0-9]*\).*/\1 \2/p' "$log")"
api="${ports% *}"
management="${ports#* }"
[ -n "$api" ] && [ -n "$management" ] || fail "no API and management ports in the start-up log"
request() {  # PORT METHOD PATH [JSON BODY]: one HTTP/1.0 request over bash's /dev/tcp, answer discarded
  local body="${4:-}"
  (exec 3<>"/dev/tcp/127.0.0.1/$1" &&
    printf '%s %s HTTP/1.0\r\nHost: localhost\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' \
      "$2" "$3" "${#body}" "$body" >&3 &&
    timeout 30 cat <&3 >/dev/null) || true
}
request "$management" GET /q/health/ready
request "$management" GET /q/health/live
request "$management" GET /q/metrics
request "$api" GET /customers/1
request "$api" POST /customers '{"name":"Cache Warm","email":"warm@example.com","creditBalance":1.00}'
request "$api" POST /customers '{"name":""}'
# the JVM writes the cache on its way out (a second JVM assembles it): let it finish
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" || true
pid=""
[ -s "$cache" ] || fail "the JVM wrote no AOT cache to $cache"
