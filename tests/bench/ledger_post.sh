#!/usr/bin/env bash
# Benchmark: durable postings through the C API (group commit) against pgbench tpcb-like, on a
# fresh private PostgreSQL cluster made here with the DURABLE defaults (fsync, synchronous_commit,
# full_page_writes all on) and removed afterwards. Prints figures; asserts nothing about time.
#
#   make bench && bash tests/bench/ledger_post.sh
#
# Environment: BUILD (build), SECONDS_PER_RUN (20), WRITERS ("1 4 16"), PGBENCH_SCALE (the largest
# writer count: pgbench's guidance is a scale at least the number of clients, else tpcb-like
# mostly measures contention on its few branch rows),
# ACCOUNTS (1000), HOT (1: also the one-hot-account variant), CRASH_TEST (1: kill the server
# with an immediate stop during a run and check every acknowledged posting survived),
# DIRECT (0; 1: also post without the batcher, a connection and a transaction per posting, as a
# request handler does; each such run is cut off after SECONDS_PER_RUN + 30 s),
# PG_OPTS (extra server options, e.g. "-c shared_buffers=2GB"; never durability off).
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
WRITERS=${WRITERS:-"1 4 16"}
max_writers=$(printf '%s\n' $WRITERS | sort -n | tail -n 1)
PGBENCH_SCALE=${PGBENCH_SCALE:-$max_writers}
ACCOUNTS=${ACCOUNTS:-1000}
HOT=${HOT:-1}
CRASH_TEST=${CRASH_TEST:-1}
DIRECT=${DIRECT:-0}
PG_OPTS=${PG_OPTS:-}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$PGBIN" ] || PGBIN=$(dirname "$(command -v pg_ctl)")
BENCH=./$BUILD/bench/ledger_post
for f in "./$BUILD/fundledger" "$BENCH" "$PGBIN/pgbench"; do
  [ -x "$f" ] || { echo "bench: $f is missing; run: make bench" >&2; exit 1; }
done
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
pg_started=0
cleanup() {
  [ "$pg_started" = 1 ] && "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Same kind of cluster as src/db/cluster.c makes: initdb as postgres when root, trust auth,
# unix socket only (private to its owner). No durability setting is touched: defaults are on.
start_server() {
  # shellcheck disable=SC2086
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 -o \
    "-k $tmp -c listen_addresses='' -c unix_socket_permissions=0700 $PG_OPTS" start >/dev/null
}
"${as_pg[@]}" "$PGBIN/initdb" -D "$tmp/data" -U fundledger -A trust -E UTF8 --no-locale \
  >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log"; echo "bench: initdb failed"; exit 1; }
start_server || { cat "$tmp/server.log"; echo "bench: postgres did not start"; exit 1; }
pg_started=1

psql_q() { "$PGBIN/psql" -h "$tmp" -U fundledger -X -A -t -q "$@"; }

# Other work on the machine skews every figure. CPU ticks used by everything, and by this
# benchmark (the cluster: postmaster, its live children and its reaped backends; this script's
# reaped children: pgbench, ledger_post), so each run can say how much CPU others took.
ticks_all() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
ticks_ours() {
  local pm t=0 c
  pm=$(head -n 1 "$tmp/data/postmaster.pid" 2>/dev/null)
  [ -n "$pm" ] && t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat" 2>/dev/null || echo 0)
  for c in $(pgrep -P "${pm:-0}" 2>/dev/null); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
  done
  echo $((t + $(awk '{print $16 + $17}' /proc/$$/stat)))
}
other_start() { OTHER_A=$(ticks_all); OTHER_O=$(ticks_ours); OTHER_T=$(date +%s.%N); }
# Prints the CPU others used since other_start, in % of one CPU.
other_pct() {
  local a o
  a=$(ticks_all)
  o=$(ticks_ours)
  awk -v a=$((a - OTHER_A)) -v o=$((o - OTHER_O)) -v t0="$OTHER_T" -v t1="$(date +%s.%N)" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN { x = (a - o) / hz / (t1 - t0) * 100; printf "%.0f%%", x < 0 ? 0 : x }'
}
"$PGBIN/createdb" -h "$tmp" -U fundledger fl_template || exit 1
"$PGBIN/createdb" -h "$tmp" -U fundledger pgbench || exit 1
FUNDLEDGER_DATABASE_URL="host=$tmp dbname=fl_template user=fundledger" FUNDLEDGER_LOG_LEVEL=warn \
  "./$BUILD/fundledger" migrate >/dev/null || { echo "bench: migrate failed"; exit 1; }
# Each ledger run gets a fresh clone of the migrated database, so no run inherits the accounts
# and journal of the runs before it (every run creates its own fund and accounts).
run_no=0
fresh_db() {
  run_no=$((run_no + 1))
  "$PGBIN/createdb" -h "$tmp" -U fundledger -T fl_template "fl_run$run_no" || exit 1
  export FUNDLEDGER_DATABASE_URL="host=$tmp dbname=fl_run$run_no user=fundledger"
}

echo "== fundledger ledger_post benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), " \
  "$(free -g | awk '/^Mem:/ {print $2}') GB RAM, kernel $(uname -r)"
echo "server: $(psql_q -d postgres -c 'SELECT version()' | cut -d, -f1)"
for s in fsync synchronous_commit full_page_writes wal_sync_method wal_level shared_buffers \
  max_connections commit_delay; do
  printf '  %-20s %s\n' "$s" "$(psql_q -d postgres -c "SHOW $s")"
done
if [ -x "$PGBIN/pg_test_fsync" ]; then
  # One short fdatasync probe on the cluster's own disk: the cost every durable commit pays.
  probe=$(timeout 7 "$PGBIN/pg_test_fsync" -s 1 -f "$tmp/fsync.probe" 2>/dev/null |
    awk '/^ +(open_datasync|fdatasync) / && /ops\/sec/ {print $1": "$(NF-3)" ops/s, "$(NF-1)" usecs/op"}' | head -2)
  rm -f "$tmp/fsync.probe"
  [ -n "$probe" ] && echo "$probe" | sed 's/^/  pg_test_fsync (1 s, one 8 kB write + sync) /'
fi
echo "runs: ${SECONDS_PER_RUN}s each; writers: $WRITERS; pgbench scale $PGBENCH_SCALE; ledger accounts $ACCOUNTS"
echo

echo "== pgbench -i -s $PGBENCH_SCALE"
"$PGBIN/pgbench" -h "$tmp" -U fundledger -i -q -s "$PGBENCH_SCALE" pgbench >"$tmp/pgbench-init.log" 2>&1 ||
  { cat "$tmp/pgbench-init.log"; echo "bench: pgbench -i failed"; exit 1; }
declare -A PGB PGB_LAT PGB_OTHER FL FL_P50 FL_P99 FL_BATCH FL_OTHER HOT_PPS DIR_PPS
for n in $WRITERS; do
  psql_q -d postgres -c CHECKPOINT
  other_start
  out=$("$PGBIN/pgbench" -h "$tmp" -U fundledger -c "$n" -j "$n" -T "$SECONDS_PER_RUN" -b tpcb-like pgbench 2>&1)
  PGB_OTHER[$n]=$(other_pct)
  PGB[$n]=$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
  PGB_LAT[$n]=$(printf '%s\n' "$out" | sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' | head -1)
  printf 'pgbench tpcb-like -c %-2s -j %-2s -T %s: %s TPS, latency avg %s ms (other work on the machine: %s of a CPU)\n' \
    "$n" "$n" "$SECONDS_PER_RUN" "${PGB[$n]:-?}" "${PGB_LAT[$n]:-?}" "${PGB_OTHER[$n]}"
  [ -n "${PGB[$n]}" ] || printf '%s\n' "$out"
done
echo

field() { printf '%s\n' "$1" | sed -n "s/^RESULT.* $2=\([^ ]*\).*/\1/p"; }
failed=0
run_ledger() { # writers, extra args...
  local n=$1
  shift
  fresh_db
  psql_q -d postgres -c CHECKPOINT
  local out
  other_start
  out=$(timeout -s INT $((SECONDS_PER_RUN + 30)) \
    "$BENCH" --writers "$n" --seconds "$SECONDS_PER_RUN" --accounts "$ACCOUNTS" "$@" 2>&1)
  local rc=$?
  LAST_OTHER=$(other_pct)
  printf '%s\n' "$out" | grep -v '^RESULT'
  echo "  other work on the machine during this run: $LAST_OTHER of a CPU (set-up and checks included)"
  if [ "$rc" = 124 ]; then
    echo "bench: ledger_post $* cut off after $((SECONDS_PER_RUN + 30)) s (no figure)"
  elif [ "$rc" != 0 ]; then
    echo "bench: ledger_post exited $rc (checks failed)"
    failed=1
  fi
  LAST=$out
}
echo "== ledger_post: balanced two-line entries via ledger_batcher_post, uniform over $ACCOUNTS accounts"
for n in $WRITERS; do
  run_ledger "$n"
  FL[$n]=$(field "$LAST" pps)
  FL_P50[$n]=$(field "$LAST" p50_ms)
  FL_P99[$n]=$(field "$LAST" p99_ms)
  FL_BATCH[$n]=$(field "$LAST" avg_batch)
  FL_OTHER[$n]=$LAST_OTHER
done
echo
if [ "$HOT" = 1 ]; then
  echo "== ledger_post: every posting debits or credits one hot account"
  for n in $WRITERS; do
    run_ledger "$n" --hot
    HOT_PPS[$n]=$(field "$LAST" pps)
  done
  echo
fi

if [ "$DIRECT" = 1 ]; then
  echo "== ledger_post --direct: no batcher; each writer its own connection, one transaction a posting"
  for n in $WRITERS; do
    run_ledger "$n" --direct
    DIR_PPS[$n]=$(field "$LAST" pps)
  done
  echo
fi

crash_line=""
if [ "$CRASH_TEST" = 1 ]; then
  echo "== crash test: 16 writers for 8 s; the server is killed (pg_ctl stop -m immediate) at 3 s and"
  echo "   restarted at 4 s; afterwards every acknowledged posting must be in the journal"
  fresh_db
  "$BENCH" --writers 16 --seconds 8 --accounts "$ACCOUNTS" --crash-test --label crash >"$tmp/crash.out" 2>&1 &
  bpid=$!
  sleep 3
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1
  sleep 1
  start_server || { kill "$bpid"; cat "$tmp/server.log"; echo "bench: postgres did not restart"; exit 1; }
  wait "$bpid"
  rc=$?
  grep -v '^RESULT' "$tmp/crash.out"
  if [ "$rc" = 0 ]; then
    crash_line="crash test: $(field "$(cat "$tmp/crash.out")" acked) acknowledged, 0 lost,"
    crash_line="$crash_line $(field "$(cat "$tmp/crash.out")" unacked_committed) committed without acknowledgement"
  else
    echo "bench: crash test FAILED (exit $rc)"
    failed=1
    crash_line="crash test: FAILED"
  fi
  echo
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "") printf "%.2fx", a / b; else print "-" }'; }
echo "== summary (durable: fsync=on, synchronous_commit=on; ${SECONDS_PER_RUN}s per run)"
printf '%-8s %12s %16s %7s %14s %10s %14s %7s %12s\n' writers "pgbench TPS" "fundledger p/s" ratio \
  "p50/p99 ms" "avg batch" "hot-acct p/s" ratio "other load"
for n in $WRITERS; do
  printf '%-8s %12.0f %16.0f %7s %14s %10s %14s %7s %12s\n' "$n" "${PGB[$n]:-0}" "${FL[$n]:-0}" \
    "$(ratio "${FL[$n]:-}" "${PGB[$n]:-0}")" "${FL_P50[$n]:-?}/${FL_P99[$n]:-?}" "${FL_BATCH[$n]:-?}" \
    "${HOT_PPS[$n]:--}" "$(ratio "${HOT_PPS[$n]:-}" "${PGB[$n]:-0}")" "${PGB_OTHER[$n]}/${FL_OTHER[$n]:-?}"
done
echo "(other load: CPU used by other work on the machine during the pgbench / fundledger run, % of one CPU)"
if [ "$DIRECT" = 1 ]; then
  for n in $WRITERS; do
    printf 'direct (no batcher), %s writer(s): %s postings/s\n' "$n" "${DIR_PPS[$n]:-(cut off)}"
  done
fi
[ -n "$crash_line" ] && echo "$crash_line"
last=$(echo "$WRITERS" | awk '{print $NF}')
echo "target: fundledger >= 3x pgbench tpcb-like at $last writers: $(ratio "${FL[$last]:-}" "${PGB[$last]:-0}")" \
  "(a figure, not a test)"
exit "$failed"
