#!/usr/bin/env bash
# Benchmark: the IATI activity file of a synthetic fund of LOANS loans (tests/bench/iati.c): time and
# peak RSS to write it (iati_export_write, streaming) and to validate it (iati_check_file: schema,
# codelists, rulesets; and the privacy scan), its size, and `xmllint --noout` (and --schema) on the
# same file for comparison. A throwaway PostgreSQL cluster is made here as tests/run.sh does
# (initdb as postgres when root, unix socket only, removed afterwards) with the DURABLE defaults.
# Prints figures; the targets (writing faster than xmllint parses; peak RSS under 64 MiB whatever
# the number of loans) are figures to compare, not assertions.
#
#   make bench && bash tests/bench/iati.sh
#
# Environment: BUILD (build), LOANS (100000; several sizes: LOANS="10000 100000"), PERSONS_EVERY
# (10: one loan in ten is to a person), FUNDLEDGER_SHARED_DIR (../shared), PG_OPTS (server options,
# never durability off).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
LOANS=${LOANS:-100000}
PERSONS_EVERY=${PERSONS_EVERY:-10}
export FUNDLEDGER_SHARED_DIR=${FUNDLEDGER_SHARED_DIR:-../shared}
PG_OPTS=${PG_OPTS:-"-c shared_buffers=512MB -c max_wal_size=8GB"}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$PGBIN" ] || PGBIN=$(dirname "$(command -v pg_ctl)")
BENCH=./$BUILD/bench/iati
for f in "./$BUILD/fundledger" "$BENCH"; do
  [ -x "$f" ] || { echo "bench: $f is missing; run: make bench" >&2; exit 1; }
done
command -v xmllint >/dev/null || { echo "bench: xmllint is missing" >&2; exit 1; }
case " $PG_OPTS " in
  *fsync=off* | *synchronous_commit=off* | *synchronous_commit=local* | *full_page_writes=off*)
    echo "bench: PG_OPTS must not weaken durability" >&2; exit 1 ;;
esac

tmp=$(mktemp -d /tmp/fundledger-bench.XXXXXX)
chmod 755 "$tmp"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$tmp"
  as_pg=(runuser -u postgres --)
fi
out=$(mktemp -d /tmp/fundledger-bench-iati.XXXXXX)
pg_started=0
cleanup() {
  [ "$pg_started" = 1 ] && "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1
  rm -rf "$tmp" "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${as_pg[@]}" "$PGBIN/initdb" -D "$tmp/data" -U fundledger -A trust -E UTF8 --no-locale \
  >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log"; echo "bench: initdb failed"; exit 1; }
# shellcheck disable=SC2086
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 -o \
  "-k $tmp -c listen_addresses='' -c unix_socket_permissions=0700 $PG_OPTS" start >/dev/null ||
  { cat "$tmp/server.log"; echo "bench: postgres did not start"; exit 1; }
pg_started=1
psql_q() { "$PGBIN/psql" -h "$tmp" -U fundledger -X -A -t -q "$@"; }

echo "== fundledger IATI export benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), " \
  "$(free -g | awk '/^Mem:/ {print $2}') GB RAM"
echo "server: $(psql_q -d postgres -c 'SELECT version()' | cut -d, -f1); $(xmllint --version 2>&1 | head -1)"
echo

field() { printf '%s\n' "$1" | sed -n "s/^RESULT.* $2=\([^ ]*\).*/\1/p" | tail -1; }
step() { # label, command...
  local label=$1
  shift
  local o
  o=$("$@" 2>&1)
  local rc=$?
  printf '%s\n' "$o" | grep -v '^RESULT' | sed "s/^/  /"
  [ "$rc" = 0 ] || echo "  bench: $label exited $rc"
  LAST=$o
}
mib() { awk -v k="$1" 'BEGIN { if (k == "") print "?"; else printf "%.1f", k / 1024 }'; }

summary=""
run=0
for n in $LOANS; do
  run=$((run + 1))
  db="iati_$run"
  "$PGBIN/createdb" -h "$tmp" -U fundledger "$db" || exit 1
  export FUNDLEDGER_DATABASE_URL="host=$tmp dbname=$db user=fundledger"
  FUNDLEDGER_LOG_LEVEL=warn "./$BUILD/fundledger" migrate >/dev/null || { echo "bench: migrate failed"; exit 1; }
  echo "== $n loans"
  step build "$BENCH" build --loans "$n" --persons-every "$PERSONS_EVERY"
  fund=$(field "$LAST" fund)
  [ -n "$fund" ] || { echo "bench: the fixture was not built"; exit 1; }
  # what autovacuum does to freshly loaded tables within its first naptime (a minute): the visibility
  # map that lets the export's pages read the schedule from its index alone, the planner's
  # statistics. A fund being published has been vacuumed long since; the writes below are timed as
  # for that fund, not in the seconds after a bulk load.
  psql_q -d "$db" -c "VACUUM (ANALYZE)" || { echo "bench: vacuum failed"; exit 1; }
  rm -f "$out/activities.xml" "$out/organisation.xml"
  # twice: the first read of freshly loaded rows also sets their hint bits (cold); the second is
  # what a publication of an established fund costs (warm)
  step write "$BENCH" write --fund "$fund" --out "$out"
  w1_s=$(field "$LAST" seconds)
  step write "$BENCH" write --fund "$fund" --out "$out"
  w_s=$(field "$LAST" seconds) w_rss=$(field "$LAST" maxrss_kib) bytes=$(field "$LAST" bytes)
  acts=$(field "$LAST" activities)
  step check "$BENCH" check "$out/activities.xml"
  c_s=$(field "$LAST" seconds) c_rss=$(field "$LAST" maxrss_kib)
  step privacy "$BENCH" privacy "$out/activities.xml"
  p_s=$(field "$LAST" seconds) p_rss=$(field "$LAST" maxrss_kib)
  step xmllint "$BENCH" spawn xmllint --noout --nonet "$out/activities.xml"
  x_s=$(field "$LAST" seconds) x_rss=$(field "$LAST" maxrss_kib)
  step "xmllint --schema" "$BENCH" spawn xmllint --noout --nonet --stream --schema \
    "$FUNDLEDGER_SHARED_DIR/iati/schemas/iati-activities-schema.xsd" "$out/activities.xml"
  xs_s=$(field "$LAST" seconds) xs_rss=$(field "$LAST" maxrss_kib)
  echo
  line=$(printf '%8s %10s %6s %8s %8s %9s %8s %9s %8s %7s %8s %8s %11s %7s' "$n" "$acts" \
    "$(mib "$((bytes / 1024))")" "$w1_s" "$w_s" "$(mib "$w_rss")" "$c_s" "$(mib "$c_rss")" "$p_s" \
    "$(mib "$p_rss")" "$x_s" "$(mib "$x_rss")" "$xs_s" "$(mib "$xs_rss")")
  summary="$summary$line"$'\n'
done

echo "== summary (seconds; peak RSS in MiB; file size in MiB)"
printf '%8s %10s %6s %8s %8s %9s %8s %9s %8s %7s %8s %8s %11s %7s\n' loans activities MiB write1_s write_s \
  write_rss check_s check_rss priv_s priv_rss xmllint xmllint_rss xmllint_xsd xsd_rss
printf '%s' "$summary"
echo "targets: write_s < xmllint (--noout, parse only); write_rss < 64 MiB whatever the number of loans"
