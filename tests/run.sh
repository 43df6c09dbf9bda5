#!/usr/bin/env bash
# Runs every test program against a throwaway PostgreSQL cluster made here and removed after.
# The cluster runs as the system user postgres when we are root (initdb refuses root), listens
# only on a unix socket in its temp directory, and holds a migrated template database that each
# test program clones (CREATE DATABASE ... TEMPLATE), so tests are isolated and fast. Test
# programs connect as the service role fundledger_app, as the service does; their setup and
# assertions (testdb_scalar, testdb_exec) as the owner.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$PGBIN" ] || PGBIN=$(dirname "$(command -v pg_ctl)")

tmp=$(mktemp -d /tmp/fundledger-test.XXXXXX)
chmod 755 "$tmp"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$tmp"
  as_pg=(runuser -u postgres --)
fi
cleanup() {
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

"${as_pg[@]}" "$PGBIN/initdb" -D "$tmp/data" -U fundledger --auth-local=peer --auth-host=reject -E UTF8 \
  --no-locale --no-sync >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log"; echo "tests: initdb failed"; exit 1; }
# The two roles of the private cluster (src/db/cluster.c): the owner "fundledger" (the bootstrap
# superuser; migrations, test setup and assertions) and the service role "fundledger_app" (made by
# migration 0010; every service connection of the tests). Peer authentication, as there: the user
# running the tests may connect as either, nobody else.
me=$(id -un)
# (The owner may also open a replication connection, for a test that builds a standby.)
printf 'local all fundledger,fundledger_app peer map=fundledger\nlocal replication fundledger peer map=fundledger\n' \
  >"$tmp/data/pg_hba.conf"
printf 'fundledger %s fundledger\nfundledger %s fundledger_app\n' "$me" "$me" >"$tmp/data/pg_ident.conf"
# Durability off only here, for speed: these clusters are thrown away.
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -o \
  "-k $tmp -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
  start >/dev/null || { cat "$tmp/server.log"; echo "tests: postgres did not start"; exit 1; }

export PGHOST=$tmp
"$PGBIN/createdb" -h "$tmp" -U fundledger fl_template || exit 1
FUNDLEDGER_DATABASE_URL="host=$tmp dbname=fl_template user=fundledger_app" \
  FUNDLEDGER_DATABASE_OWNER_URL="host=$tmp dbname=fl_template user=fundledger" FUNDLEDGER_LOG_LEVEL=warn \
  "./$BUILD/fundledger" migrate >/dev/null || { echo "tests: migrate failed"; exit 1; }

unset FUNDLEDGER_DATABASE_OWNER_URL
export FUNDLEDGER_TEST_PGHOST=$tmp
export FUNDLEDGER_TEST_TEMPLATE=fl_template
export FUNDLEDGER_SHARED_DIR=${FUNDLEDGER_SHARED_DIR:-../shared}
export FUNDLEDGER_BIN="$PWD/$BUILD/fundledger"
# Test programs log only warnings unless asked.
export FUNDLEDGER_LOG_LEVEL=${FUNDLEDGER_LOG_LEVEL:-warn}

runner=()
if [ "${VALGRIND:-0}" = 1 ]; then
  runner=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
fi

passed=0 failed=0 failed_programs=""
# The C test programs, then the web console's in a real headless Chromium (tests/browser/*.py,
# Debian python3-selenium), which print the same summary lines.
for t in $(ls "$BUILD"/tests/unit/test_* "$BUILD"/tests/db/test_* "$BUILD"/tests/http/test_* 2>/dev/null | grep -v '\.d$') \
  tests/browser/test_*.py; do
  [ -x "$t" ] || continue
  # TESTS=pattern runs only the programs whose name matches (e.g. TESTS=fund_life).
  case "$(basename "$t")" in *${TESTS:-}*) ;; *) continue ;; esac
  case "$t" in
    *.py) out=$(/usr/bin/python3 "$t" 2>&1) ;;
    *) out=$("${runner[@]}" "$t" 2>&1) ;;
  esac
  rc=$?
  printf '%s\n' "$out"
  # cmocka's summary: "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:"
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed.*/\1/p' | awk '{s+=$1} END {print s+0}')
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
    failed=$((failed + 1))
  fi
  [ "$rc" = 0 ] || failed_programs="$failed_programs $(basename "$t")"
done

# Fuzz harnesses (tests/fuzz/, built into build/fuzz by `make fuzz-bin`): a short run of each
# from its seed corpus, one line each, so that they keep building and their invariants keep
# holding. The long campaign is `make fuzz` (FUZZ_SECONDS) or tests/fuzz/campaign.sh.
fuzz_tmp=$(mktemp -d /tmp/fundledger-fuzz.XXXXXX)
for h in $(ls build/fuzz/fuzz_* 2>/dev/null | grep -v '\.d$'); do
  [ -x "$h" ] || continue
  name=$(basename "$h")
  case "$name" in *${TESTS:-}*) ;; *) continue ;; esac
  mkdir -p "$fuzz_tmp/${name#fuzz_}"
  out=$("$h" -seed=1 -runs="${FUZZ_CHECK_RUNS:-5000}" -max_total_time="${FUZZ_CHECK_SECONDS:-5}" \
    -artifact_prefix="$fuzz_tmp/" "$fuzz_tmp/${name#fuzz_}" "tests/fuzz/corpus/${name#fuzz_}" 2>&1)
  rc=$?
  runs=$(printf '%s\n' "$out" | sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' | tail -n 1)
  if [ "$rc" = 0 ] && [ -n "$runs" ]; then
    echo "fuzz $name: ok, ${runs} runs"
    passed=$((passed + 1))
  else
    printf '%s\n' "$out" | tail -n 40
    echo "fuzz $name: FAILED (exit $rc)"
    failed=$((failed + 1))
    failed_programs="$failed_programs $name"
  fi
done
rm -rf "$fuzz_tmp"

echo
[ -z "$failed_programs" ] || echo "failing programs:$failed_programs"
echo "tests: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ -z "$failed_programs" ]
