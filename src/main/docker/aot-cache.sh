#!/bin/bash
# Writes the application's ahead-of-time cache (JDK 25, JEP 483/514/515): starts the jar once, with
# the JVM flags it will run with, sends it the kubelet's probes once Quarkus reports it started, and
# stops it; as it exits, the JVM stores the classes it loaded, already parsed, verified and linked.
# Later starts map them instead of doing that work again (README, "Cost per request": start-up). Without
# method profiles (-AOTRecordTraining): a run this short teaches the JIT little, and its profiles
# made it compile the request path worse: create 121 µs of CPU per request with them, 98 without
# (bench, same run). The cache only serves classes the JDK's own class loaders load: the jar is
# packaged as an aot-jar for this (quarkus.package.jar.type in application.properties).
#
# No database is needed: migrations are off for this run, and the probes are answered without one.
# Used by Dockerfile.jvm and bench/startup, so the bench measures the cache the image ships.
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
DB_HOST=127.0.0.1 DB_PORT=1 DB_MIGRATE_AT_START=false PORT=0 MANAGEMENT_PORT=0 QUARKUS_LOG_LEVEL=INFO \
  java "$@" -XX:+UnlockDiagnosticVMOptions -XX:-AOTRecordTraining -XX:AOTCacheOutput="$cache" -jar "$jar" >"$log" 2>&1 &
pid=$!
waited=0
until grep -q "started in" "$log"; do
  kill -0 "$pid" 2>/dev/null || fail "the application exited before it started"
  [ "$waited" -lt 300 ] || fail "the application did not start within 300 s"
  sleep 1
  waited=$((waited + 1))
done
# The kubelet's probes, so that the classes that answer them are cached too: the first readiness
# probe of each pod then skips that loading (start-up to ready -0.1 s, bench/startup). They are
# answered without a database (503 for readiness). Not the API's own requests: their classes would
# add 4 MB to the cache, and the cache's pages count in the pod's memory (README, "Cost per request").
management="$(sed -n 's/.*Management interface listening on [a-z]*:\/\/[^:]*:\([0-9]*\).*/\1/p' "$log" | head -n 1)"
[ -n "$management" ] || fail "no management port in the start-up log"
get() {  # PATH on the management port: one HTTP/1.0 request over bash's /dev/tcp; fails without an HTTP answer
  local status
  status="$(exec 3<>"/dev/tcp/127.0.0.1/$management" &&
    printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$1" >&3 &&
    timeout 30 cat <&3 | head -n 1)" || true
  case "$status" in
    HTTP/1.*) ;;
    *) fail "no HTTP answer to $1 on port $management" ;;
  esac
}
get /q/health/ready
get /q/health/live
# the JVM writes the cache on its way out (a second JVM assembles it): let it finish
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" || true
pid=""
[ -s "$cache" ] || fail "the JVM wrote no AOT cache to $cache"
