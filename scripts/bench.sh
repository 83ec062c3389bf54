#!/usr/bin/env bash
# make bench: mysqlclient-async against mysql_async, sqlx and the sync mysql crate
# (bench/src/main.rs), on MYSQL_URL or a throwaway mariadbd. Arguments go to the
# benchmark (see --help), e.g. scripts/bench.sh --secs 1 --only select1.
#
# With a throwaway server on a machine with 2+ cores, the server is pinned to the
# last core and the benchmark to the first (BENCH_PIN=0 turns that off): every
# driver then gets exactly one client core, and the results stop depending on
# whether the scheduler happens to put client and server on the same core (SELECT 1
# at c=1 varies 5x between those two cases on a 2-core VM).
#
# The storm and Chartio sections reach 10,000 connections: the throwaway server
# gets MYSQL_MAX_CONNECTIONS=12000 unless set (and the open files that needs), and
# the benchmark an open-files limit of 65,536 (raising the hard limit needs root
# with CAP_SYS_RESOURCE; a driver may hold more than one descriptor per connection:
# see the footprint section).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/with-mysql.sh
source scripts/with-mysql.sh

cargo build --release -p mysqlclient-async-bench --features peers >&2
bin="${CARGO_TARGET_DIR:-target}/release/mysqlclient-async-bench"
export MYSQL_MAX_CONNECTIONS="${MYSQL_MAX_CONNECTIONS:-12000}"
raise_open_files 65536
if [ "$open_files" != unlimited ] && [ "$open_files" -lt 40000 ]; then
  echo "bench: open-files limit $open_files (ulimit -Hn $(ulimit -Hn)): 10,000 connections may fail; run as root or raise the hard limit" >&2
fi
started_server=""
[ -z "${MYSQL_URL:-}" ] && started_server=1
ensure_mysql

cpus=$(nproc --all)
pin=()
if [ "${BENCH_PIN:-1}" != 0 ] && [ -n "$started_server" ] && [ "$cpus" -ge 2 ] && command -v taskset >/dev/null; then
  last=$((cpus - 1))
  taskset -a -cp "$last" "$_mysql_pid" >/dev/null
  pin=(taskset -c "0-$((last - 1))")
  echo "bench: mariadbd pinned to CPU $last, the benchmark to CPU 0-$((last - 1))" >&2
fi
status=0
"${pin[@]}" "$bin" "$@" || status=$?
exit "$status"
