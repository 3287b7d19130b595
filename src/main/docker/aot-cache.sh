#!/bin/sh
# Writes the application's ahead-of-time cache (JDK 25, JEP 483/514/515): starts the jar once, with
# the JVM flags it will run with, and stops it as soon as Quarkus reports it started; as it exits, the
# JVM stores the classes start-up loaded, already parsed, verified and linked. Later starts map them
# instead of doing that work again (README, "Cost per request": start-up). Without method profiles
# (-AOTRecordTraining): a start-up serves no request, and its profiles made the JIT compile the
# request path worse: create 121 µs of CPU per request with them, 98 without (bench, same run). The cache only serves classes the JDK's own class loaders load: the jar is
# packaged as an aot-jar for this (quarkus.package.jar.type in application.properties).
#
# No database is needed: migrations are off for this run, and nothing else connects before the
# first request (the JVM has loaded what start-up loads either way). Used by Dockerfile.jvm and
# bench/startup, so the bench measures the cache the image ships.
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
# the JVM writes the cache on its way out (a second JVM assembles it): let it finish
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" || true
pid=""
[ -s "$cache" ] || fail "the JVM wrote no AOT cache to $cache"
