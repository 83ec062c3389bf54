#!/usr/bin/env bash
# The Chartio benchmark (2011), replicated: examples/chartio.rs driven by ApacheBench.
#
#   scripts/chartio.sh          one concurrency (make chartio)
#   scripts/chartio.sh sweep    c = 10, 100, 1000 and an SVG plot (make chartio-sweep)
#
# Environment (all optional):
#   MYSQL_URL         database to use; unset: a throwaway mariadbd (scripts/with-mysql.sh)
#   CONCURRENCY=100   ab -c                     (single run)
#   REQUESTS=10000    ab -n                     (single run)
#   SLEEP=1           seconds each query sleeps (SELECT SLEEP($SLEEP)); null mode sleeps as long
#   SQL=...           the query instead of SELECT SLEEP($SLEEP) (SLEEP must still say how long it takes)
#   MODES="null async per-request threads blocking"
#   BLOCKING_SECONDS  time cap for the blocking mode (default 30 x SLEEP, at most 30; sweep:
#                     10 x SLEEP, at most 10). It serves one request per query time, so
#                     10,000 requests would take hours.
#   SWEEP_CONCURRENCY="10 100 1000", SWEEP_MAX_REQUESTS=10000 (sweep: n = 10 x c, capped)
#   PLOT=docs/chartio-sweep.svg  where the sweep writes its plot
#   FEATURES=bundled  cargo features of the example (bundled: Oracle's client, built from source)
#   PROGRESS_SECONDS=10  with stderr not a terminal (a log), a progress line this often
#
# Progress goes to stderr: on a terminal, one live line (a bar for the sweep); in a
# log, a line when each run starts, one every PROGRESS_SECONDS, and one per result.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/with-mysql.sh
source scripts/with-mysql.sh

what=${1:-run}
SLEEP=${SLEEP:-1}
SQL=${SQL:-}
MODES=${MODES:-null async per-request threads blocking}
OUT=target/chartio
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN="$TARGET_DIR/release/examples/chartio"
POST_RPS=97.73
mkdir -p "$OUT"

bash scripts/setup.sh
command -v ab >/dev/null || { echo "chartio: ab not found (apache2-utils)" >&2; exit 1; }
# c=1000: ab needs ~1000 sockets, the server ~2000.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

LOADAVG_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "chartio: building the example (release)" >&2
cargo build --release --example chartio ${FEATURES:+--features "$FEATURES"} >&2
ensure_mysql

server_pid=""
ab_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
cleanup() {
  if [ -n "$ab_pid" ]; then kill "$ab_pid" 2>/dev/null || true; fi
  stop_server
  stop_throwaway_mysql
}
trap cleanup EXIT

# The MariaDB server's max_connections must cover the largest concurrency.
check_max_connections() {
  local need=$1
  local have
  have=$("$BIN" --url "$MYSQL_URL" --info 2>/dev/null | sed -n 's/^max_connections=//p')
  if [ "${have:-0}" -gt 0 ] && [ "$have" -lt $((need + 10)) ]; then
    echo "chartio: warning: the server's max_connections is $have, below concurrency $need;" \
      "unset MYSQL_URL to use a throwaway server with 3000" >&2
  fi
}

# run_one MODE C N LOGPREFIX -> prints "mode c n rps p50 p99 failed complete seconds"
run_one() {
  local mode=$1 c=$2 n=$3 log=$4
  local args=(--mode "$mode" --concurrency "$c" --sleep "$SLEEP" --url "$MYSQL_URL" --port 0)
  if [ -n "$SQL" ]; then args+=(--sql "$SQL"); fi
  "$BIN" "${args[@]}" >"$log.server" 2>&1 &
  server_pid=$!
  local port=""
  for _ in $(seq 600); do
    port=$(sed -n 's|^chartio: listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$log.server" | head -1)
    [ -n "$port" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "chartio: the $mode server did not start:" >&2
    cat "$log.server" >&2
    stop_server
    return 1
  fi
  local ab_args=(-r -s 600 -c "$c")
  if [ "$mode" = blocking ]; then
    # -t before -n: a time cap, with n still the upper bound.
    ab_args+=(-t "$BLOCKING_SECONDS")
  fi
  ab_args+=(-n "$n" "http://127.0.0.1:$port/")
  ab "${ab_args[@]}" >"$log.ab" 2>&1 &
  ab_pid=$!
  local start
  start=$(date +%s)
  # In a log, the first tick of each run is printed: it says what started.
  last_progress=$((SECONDS - PROGRESS_SECONDS))
  while kill -0 "$ab_pid" 2>/dev/null; do
    "$TICK" "$mode" "$c" $(($(date +%s) - start))
    sleep 1
  done
  if ! wait "$ab_pid"; then
    end_live_line
    echo "chartio: ab failed for $mode (c=$c):" >&2
    tail -5 "$log.ab" >&2
  fi
  ab_pid=""
  stop_server
  awk -v mode="$mode" -v c="$c" '
    /^Complete requests:/ {complete=$3}
    /^Failed requests:/ {failed=$3}
    /^Non-2xx responses:/ {non2xx=$3}
    /^Requests per second:/ {rps=$4}
    /^Time taken for tests:/ {secs=$5}
    /^ *50%/ {p50=$2}
    /^ *99%/ {p99=$2}
    END {
      if (rps == "") { rps = 0; complete = 0 }
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", mode, c, complete, rps,
        (p50 == "" ? "-" : p50), (p99 == "" ? "-" : p99), failed + non2xx, secs
    }' "$log.ab"
}

# Markdown table from a TSV of run_one lines (null rows give the % column).
table() {
  awk -F'\t' '
    BEGIN {
      print "| mode | concurrency | requests | req/s | p50 ms | p99 ms | failed | % of null |"
      print "|---|---:|---:|---:|---:|---:|---:|---:|"
    }
    { rows[NR] = $0; if ($1 == "null") nullrps[$2] = $4 }
    END {
      for (i = 1; i <= NR; i++) {
        split(rows[i], f, "\t")
        pct = (f[2] in nullrps && nullrps[f[2]] > 0) ? sprintf("%.1f%%", 100 * f[4] / nullrps[f[2]]) : "n/a"
        mode = f[1]
        if (mode == "blocking") mode = "blocking (time-capped)"
        printf "| %s | %s | %s | %.2f | %s | %s | %s | %s |\n", mode, f[2], f[3], f[4], f[5], f[6], f[7], pct
      }
    }' "$1"
}

header() {
  local date machine
  date=$(date -u +"%Y-%m-%d %H:%M UTC")
  machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1024/1024}' /proc/meminfo)"
  echo "Chartio replication, $date, $machine, $(uname -sr), ab $(ab -V | sed -n 's/.*Version \([0-9.]*\).*/\1/p' | head -1),"
  echo "MariaDB $(server_version), query: ${SQL:-SELECT SLEEP($SLEEP)}."
}

server_version() {
  "$BIN" --url "$MYSQL_URL" --info 2>/dev/null | sed -n 's/^version=//p'
}

# Expected seconds of one ab run: the first request alone, then n-1 in waves of c.
expected_secs() {
  awk -v n="$1" -v c="$2" -v s="$SLEEP" -v m="$3" -v cap="$BLOCKING_SECONDS" \
    'BEGIN { e = (int((n - 2) / c) + 2) * s; if (m == "blocking" && e > cap) e = cap; if (e < 1) e = 1; printf "%d", e + 1 }'
}

footer() {
  local limits="" c
  for c in "$@"; do
    limits="$limits${limits:+, }c=$c: $(awk -v c="$c" -v s="$SLEEP" 'BEGIN { if (s > 0) printf "%.2f", c / s; else print "inf" }')"
  done
  echo
  echo "- The 2011 post: **$POST_RPS req/s** (Tornado + MySQLdb, ab -c 100 -n 10000, SELECT SLEEP(1))."
  echo "- The limit, concurrency / query time (${SLEEP} s): **$limits req/s**."
  echo "- \`null\` answers after sleeping as long as one query, without a database: the HTTP/ab"
  echo "  ceiling. \"% of null\" is the driver's efficiency. ab sends its first request alone"
  echo "  and the other n-1 after it, so even \`null\` reaches at most n / (n/c + 1) query times"
  echo "  (99.0 req/s at c=100, n=10,000)."
  echo "- \`blocking\` is capped at ${BLOCKING_SECONDS} s of ab time (it serves one request per query"
  echo "  time; its p50/p99 cover only the requests that finished)."
  echo "- Load average before the run: $LOADAVG_BEFORE."
}

# Progress on stderr. On a terminal, one line redrawn in place; otherwise (a log
# file, a pipe) plain lines, at most one every PROGRESS_SECONDS.
PROGRESS_SECONDS=${PROGRESS_SECONDS:-10}
LIVE=""
if [ -t 2 ]; then LIVE=1; fi
last_progress=0 # $SECONDS at the last plain progress line
# progress TEXT: redraw the live line, or print TEXT as a line if it is time.
progress() {
  if [ -n "$LIVE" ]; then
    printf "\r%s\033[K" "$1" >&2
  elif [ $((SECONDS - last_progress)) -ge "$PROGRESS_SECONDS" ]; then
    last_progress=$SECONDS
    printf "%s\n" "$1" >&2
  fi
}
# A line that stays (a result, an error): replaces the live line on a terminal.
say() {
  if [ -n "$LIVE" ]; then printf "\r%s\033[K\n" "$1" >&2; else printf "%s\n" "$1" >&2; fi
}
# Before other output on stderr: end the live line (nothing to do in a log).
end_live_line() {
  if [ -n "$LIVE" ]; then echo >&2; fi
}
# The result line of the last run in a TSV of run_one lines.
say_result() {
  say "$(tail -1 "$1" | awk -F'\t' '{printf "chartio: %-12s c=%-5s %s req/s, p50 %s ms, p99 %s ms, %s failed", $1, $2, $4, $5, $6, $7}')"
}

# Progress while ab runs: TICK MODE C ELAPSED_SECONDS.
single_tick() {
  local want
  want=$(expected_secs "$n" "$2" "$1")
  progress "$(printf "chartio: %-12s c=%-5s %4ds of ~%ds" "$1" "$2" "$3" "$want")"
}

if [ "$what" = run ]; then
  BLOCKING_SECONDS=${BLOCKING_SECONDS:-$(awk -v s="$SLEEP" 'BEGIN { t = 30 * s; if (t > 30) t = 30; if (t < 2) t = 2; printf "%d", t }')}
  c=${CONCURRENCY:-100}
  n=${REQUESTS:-10000}
  [ "$n" -lt "$c" ] && n=$c
  check_max_connections "$c"
  tsv="$OUT/results.tsv"
  : >"$tsv"
  TICK=single_tick
  for mode in $MODES; do
    run_one "$mode" "$c" "$n" "$OUT/$mode-c$c" >>"$tsv"
    say_result "$tsv"
  done
  {
    header
    echo
    table "$tsv"
    footer "$c"
  } >"$OUT/report.md"
  echo
  cat "$OUT/report.md"
  echo
  echo "(written to $OUT/report.md)"
elif [ "$what" = sweep ]; then
  BLOCKING_SECONDS=${BLOCKING_SECONDS:-$(awk -v s="$SLEEP" 'BEGIN { t = 10 * s; if (t > 10) t = 10; if (t < 2) t = 2; printf "%d", t }')}
  levels=${SWEEP_CONCURRENCY:-10 100 1000}
  cap=${SWEEP_MAX_REQUESTS:-10000}
  plot=${PLOT:-docs/chartio-sweep.svg}
  max_c=0
  for c in $levels; do [ "$c" -gt "$max_c" ] && max_c=$c; done
  check_max_connections "$max_c"
  tsv="$OUT/sweep.tsv"
  : >"$tsv"
  nmodes=$(echo "$MODES" | wc -w)
  total=$((nmodes * $(echo "$levels" | wc -w)))
  done_runs=0
  t0=$(date +%s)
  # On a terminal, a progress bar over all runs (within a run, elapsed / expected
  # time); in a log, the same figures as plain lines.
  sweep_tick() {
    local width=40 frac=0 want
    want=$(expected_secs "$n" "$2" "$1")
    if [ -n "${3:-}" ]; then
      frac=$(( $3 * 100 / want ))
      [ "$frac" -gt 99 ] && frac=99
    fi
    local el=$(( $(date +%s) - t0 ))
    if [ -z "$LIVE" ]; then
      progress "$(printf "chartio: run %d of %d, %-12s c=%-5s %4ds of ~%ds; %dm%02ds in all" \
        $((done_runs + 1)) "$total" "$1" "$2" "${3:-0}" "$want" $((el / 60)) $((el % 60)))"
      return
    fi
    local filled=$(( (done_runs * 100 + frac) * width / (total * 100) ))
    local bar
    bar=$(printf "%${filled}s" "" | tr ' ' '#')$(printf "%$((width - filled))s" "" | tr ' ' '.')
    progress "$(printf "[%s] %2d/%d  c=%-5s %-12s %3dm%02ds" "$bar" "$done_runs" "$total" "$2" "$1" \
      $((el / 60)) $((el % 60)))"
  }
  TICK=sweep_tick
  for c in $levels; do
    n=$((10 * c))
    [ "$n" -gt "$cap" ] && n=$cap
    [ "$n" -lt "$c" ] && n=$c
    for mode in $MODES; do
      run_one "$mode" "$c" "$n" "$OUT/sweep-$mode-c$c" >>"$tsv"
      done_runs=$((done_runs + 1))
      say_result "$tsv"
    done
  done
  {
    header
    echo
    table "$tsv"
    footer $levels
    echo
    echo "Requests per level: n = 10 x c, at most $cap. Plot: $plot."
  } >"$OUT/sweep.md"
  echo
  cat "$OUT/sweep.md"
  echo
  mkdir -p "$(dirname "$plot")"
  cargo run --release -q -p mysqlclient-async-bench --bin chartio-plot -- \
    --sleep "$SLEEP" --title "$(date -u +%Y-%m-%d), $(nproc) cores" "$tsv" "$plot"
  echo "(written to $OUT/sweep.md and $plot)"
else
  echo "usage: scripts/chartio.sh [run|sweep]" >&2
  exit 2
fi
