#!/usr/bin/env bash
# Benchmark: repayments import, PAR30/PAR90 and arrears, investor statements (one, and all three
# investors of the fund), the month-end close and payoff quotes on a synthetic
# fund of LOANS loans (tests/bench/portfolio.c), on a throwaway PostgreSQL cluster made here (as
# tests/run.sh does: initdb as postgres when root, unix socket only, removed afterwards) with the
# DURABLE defaults (fsync, synchronous_commit, full_page_writes on). Prints figures; the targets
# ((a) < 30 s, (b) < 5 s, (c) < 1 s) are figures to compare, not assertions.
#
#   make bench && bash tests/bench/portfolio.sh [--catch-up]
#
# Environment: BUILD (build), LOANS (100000), PG_OPTS (server options; default raises
# shared_buffers and max_wal_size as a production server would, never durability off), KEEP (a
# directory that does not exist yet: the cluster is made there and left running afterwards, so
# that queries can be studied on the built fund; stop it with
# pg_ctl -D "$KEEP/data" stop, as postgres when root, and remove the directory).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
LOANS=${LOANS:-100000}
PG_OPTS=${PG_OPTS:-"-c shared_buffers=1GB -c max_wal_size=8GB"}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$PGBIN" ] || PGBIN=$(dirname "$(command -v pg_ctl)")
BENCH=./$BUILD/bench/portfolio
for f in "./$BUILD/fundledger" "$BENCH"; do
  [ -x "$f" ] || { echo "bench: $f is missing; run: make bench" >&2; exit 1; }
done
case " $PG_OPTS " in
  *fsync=off* | *synchronous_commit=off* | *synchronous_commit=local* | *full_page_writes=off*)
    echo "bench: PG_OPTS must not weaken durability" >&2; exit 1 ;;
esac

if [ -n "${KEEP:-}" ]; then
  [ -e "$KEEP" ] && { echo "bench: KEEP=$KEEP exists already" >&2; exit 1; }
  mkdir -p "$KEEP" || exit 1
  tmp=$(cd "$KEEP" && pwd)
else
  tmp=$(mktemp -d /tmp/fundledger-bench.XXXXXX)
fi
chmod 755 "$tmp"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$tmp"
  as_pg=(runuser -u postgres --)
fi
pg_started=0
cleanup() {
  if [ -n "${KEEP:-}" ]; then
    [ "$pg_started" = 1 ] && echo "bench: cluster kept running: host=$tmp dbname=fundledger user=fundledger"
    return
  fi
  [ "$pg_started" = 1 ] && "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${as_pg[@]}" "$PGBIN/initdb" -D "$tmp/data" -U fundledger -A trust -E UTF8 --no-locale \
  >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log"; echo "bench: initdb failed"; exit 1; }
# The server starts with no descriptor of ours beyond stdio: run under `flock LOCK bash ...`, it
# would otherwise inherit the benchmark lock and, with KEEP, hold it for as long as it runs.
# shellcheck disable=SC2086
(
  for fd in /proc/$BASHPID/fd/*; do
    n=${fd##*/}
    if [ "$n" -gt 2 ] 2>/dev/null; then eval "exec $n>&-"; fi
  done
  exec "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 -o \
    "-k $tmp -c listen_addresses='' -c unix_socket_permissions=0700 $PG_OPTS" start >/dev/null
) || { cat "$tmp/server.log"; echo "bench: postgres did not start"; exit 1; }
pg_started=1

psql_q() { "$PGBIN/psql" -h "$tmp" -U fundledger -X -A -t -q "$@"; }
"$PGBIN/createdb" -h "$tmp" -U fundledger fundledger || exit 1
export FUNDLEDGER_DATABASE_URL="host=$tmp dbname=fundledger user=fundledger"
FUNDLEDGER_LOG_LEVEL=warn "./$BUILD/fundledger" migrate >/dev/null || { echo "bench: migrate failed"; exit 1; }

echo "== fundledger portfolio benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), " \
  "$(free -g | awk '/^Mem:/ {print $2}') GB RAM"
echo "server: $(psql_q -d postgres -c 'SELECT version()' | cut -d, -f1)"
for s in fsync synchronous_commit full_page_writes shared_buffers work_mem max_wal_size jit; do
  printf '  %-20s %s\n' "$s" "$(psql_q -d postgres -c "SHOW $s")"
done
echo
"$BENCH" --loans "$LOANS" "$@"
