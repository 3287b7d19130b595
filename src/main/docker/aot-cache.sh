#!/bin/sh
# Writes the application's class-data-sharing archive (AppCDS): starts the jar once, with the JVM flags
# it will run with, and stops it as soon as Quarkus reports it started; the JVM dumps the classes it
# loaded into the archive as it exits. Later starts map them instead of loading, verifying and
# linking them again (README, "Cost per request": start-up).
#
# No database is needed: migrations are off for this run, and nothing else connects before the
# first request (the JVM has loaded what start-up loads either way). Used by Dockerfile.jvm and
# bench/startup, so the bench measures the archive the image ships.
#
#   appcds.sh ARCHIVE JAR [JVM flags...]
set -eu
archive="$1"
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
  echo "appcds.sh: $1" >&2
  exit 1
}
DB_HOST=127.0.0.1 DB_PORT=1 DB_MIGRATE_AT_START=false PORT=0 MANAGEMENT_PORT=0 QUARKUS_LOG_LEVEL=INFO \
  java "$@" -XX:ArchiveClassesAtExit="$archive" -jar "$jar" >"$log" 2>&1 &
pid=$!
waited=0
until grep -q "started in" "$log"; do
  kill -0 "$pid" 2>/dev/null || fail "the application exited before it started"
  [ "$waited" -lt 300 ] || fail "the application did not start within 300 s"
  sleep 1
  waited=$((waited + 1))
done
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" || true
pid=""
[ -s "$archive" ] || fail "the JVM wrote no archive to $archive"
