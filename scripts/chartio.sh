#!/usr/bin/env bash
# The Chartio benchmark (2011), replicated: examples/chartio.rs driven by ApacheBench
# (and, with LOADGEN=wrk, by wrk), against the same server on the peers
# (bench/src/bin/chartio-peer.rs: mysql_async and sqlx).
#
#   scripts/chartio.sh          one concurrency (make chartio)
#   scripts/chartio.sh sweep    c = 10 ... 10,000 and an SVG plot (make chartio-sweep)
#
# Environment (all optional):
#   MYSQL_URL         database to use; unset: a throwaway mariadbd (scripts/with-mysql.sh)
#                     with max_connections 1.5 x the largest concurrency (at least 3000)
#   CONCURRENCY=100   ab -c / wrk -c            (single run)
#   REQUESTS=10000    ab -n                     (single run)
#   SLEEP=1           seconds each query sleeps (SELECT SLEEP($SLEEP)); null mode sleeps as long
#   SQL=...           the query instead of SELECT SLEEP($SLEEP) (SLEEP must still say how long it takes)
#   MODES="null async mysql_async sqlx per-request threads blocking"
#                     mysql_async and sqlx: the same server on a peer's pool (built
#                     with the bench crate's `peers` feature; needs Rust 1.94)
#   WORKERS=N         every server on a multi-thread runtime with N workers (default:
#                     current-thread, as in the 2011 post's Tornado)
#   LOADGEN=ab        ab (a new connection per request), wrk (keep-alive, WRK_THREADS
#                     threads, for WRK_SECONDS), or "ab wrk" for both in one report
#   WRK_THREADS=2, WRK_SECONDS (default 20 x SLEEP, at least 5), WRK_TIMEOUT (default
#                     max(60, 30 x SLEEP) s: a request slower than this is an error)
#   BLOCKING_SECONDS  time cap for the blocking mode (default 30 x SLEEP, at most 30; sweep:
#                     10 x SLEEP, at most 10). It serves one request per query time, so
#                     10,000 requests would take hours.
#   SWEEP_CONCURRENCY="10 100 1000 5000 10000"
#   SWEEP_ROUNDS      sweep: n = SWEEP_ROUNDS x c (default 10 below c = 1000, 5 from it)
#   SWEEP_MAX_REQUESTS  sweep: a cap on n (default none; n is at least c)
#   PLOT=docs/chartio-sweep.svg  where the sweep writes its plot
#   FEATURES=bundled  cargo features of the example (bundled: Oracle's client, built from source)
#   PROGRESS_SECONDS=10  with stderr not a terminal (a log), a progress line this often
#
# Open files: ab and wrk need one per connection, the servers about three per
# concurrent request (a client socket and the pooled connection's). The script raises
# the limit to what the largest concurrency needs if it may (root with
# CAP_SYS_RESOURCE), else to the hard limit, and warns when that is too low.
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
MODES=${MODES:-null async mysql_async sqlx per-request threads blocking}
WORKERS=${WORKERS:-}
LOADGEN=${LOADGEN:-ab}
WRK_THREADS=${WRK_THREADS:-2}
WRK_SECONDS=${WRK_SECONDS:-$(awk -v s="$SLEEP" 'BEGIN { d = 20 * s; if (d < 5) d = 5; printf "%d", d + 0.999 }')}
WRK_TIMEOUT=${WRK_TIMEOUT:-$(awk -v s="$SLEEP" 'BEGIN { d = 30 * s; if (d < 60) d = 60; printf "%d", d + 0.999 }')}
OUT=target/chartio
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN="$TARGET_DIR/release/examples/chartio"
PEER_BIN="$TARGET_DIR/release/chartio-peer"
POST_RPS=97.73
mkdir -p "$OUT"

case "$what" in
  run) levels=${CONCURRENCY:-100} ;;
  sweep) levels=${SWEEP_CONCURRENCY:-10 100 1000 5000 10000} ;;
  *)
    echo "usage: scripts/chartio.sh [run|sweep]" >&2
    exit 2
    ;;
esac
max_c=0
for c in $levels; do [ "$c" -gt "$max_c" ] && max_c=$c; done
for lg in $LOADGEN; do
  case "$lg" in
    ab | wrk) ;;
    *) echo "chartio: unknown LOADGEN \`$lg' (ab, wrk)" >&2; exit 2 ;;
  esac
done
peer_modes=""
for mode in $MODES; do
  case "$mode" in
    mysql_async | sqlx) peer_modes=1 ;;
    null | async | per-request | threads | blocking) ;;
    *) echo "chartio: unknown mode \`$mode'" >&2; exit 2 ;;
  esac
done
# The throwaway server (if any) must take every connection of the largest level,
# with room for the previous run's connections still closing.
if [ "$max_c" -ge 2000 ]; then
  export MYSQL_MAX_CONNECTIONS=${MYSQL_MAX_CONNECTIONS:-$((max_c + max_c / 2))}
fi

bash scripts/setup.sh
command -v ab >/dev/null || { echo "chartio: ab not found (apache2-utils)" >&2; exit 1; }
case " $LOADGEN " in
  *" wrk "*) command -v wrk >/dev/null || { echo "chartio: wrk not found (scripts/setup.sh)" >&2; exit 1; } ;;
esac

# Open files: the load generator one per connection, a server ~3 per concurrent
# request, the throwaway mariadbd one per connection (with-mysql.sh raises its own).
need_files=$((3 * max_c + 1024))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need_files" ]; then
  ulimit -Hn "$need_files" 2>/dev/null || true
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt "$need_files" ]; then
  echo "chartio: warning: the open-files limit is $NOFILE (hard limit; raising it needs root" \
    "with CAP_SYS_RESOURCE); c=$max_c wants about $need_files: expect failed runs" >&2
fi

LOADAVG_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "chartio: building the example (release)" >&2
cargo build --release --example chartio ${FEATURES:+--features "$FEATURES"} >&2
if [ -n "$peer_modes" ]; then
  echo "chartio: building the peers' server (release, --features peers)" >&2
  cargo build --release -p mysqlclient-async-bench --features peers --bin chartio-peer >&2
fi
ensure_mysql

server_pid=""
load_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
cleanup() {
  if [ -n "$load_pid" ]; then kill "$load_pid" 2>/dev/null || true; fi
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
      "unset MYSQL_URL to use a throwaway server with enough" >&2
  fi
}

# Connections dropped because a listen queue was full (SYN or accept queue), in this
# network namespace: every listener counts, the database's too. A client whose SYN is
# dropped retries after a second.
listen_drops() {
  awk '/^TcpExt:/ { if (!h) { for (i = 2; i <= NF; i++) name[i] = $i; h = 1 } else {
         for (i = 2; i <= NF; i++) if (name[i] == "ListenDrops") print $i } }' /proc/net/netstat 2>/dev/null |
    head -1
}

# Runs that produced no figures, for the report.
FAILED_RUNS=""

# run_one MODE C N LOGPREFIX LOADGEN -> prints the TSV line
#   mode c requests req/s p50 p99 failed seconds loadgen non-2xx listen-drops
# (failed: ab's "Failed requests" or wrk's socket errors; non-2xx counted apart).
run_one() {
  local mode=$1 c=$2 n=$3 log=$4 lg=$5
  local cmd
  case "$mode" in
    mysql_async | sqlx) cmd=("$PEER_BIN" --driver "$mode") ;;
    *) cmd=("$BIN" --mode "$mode") ;;
  esac
  cmd+=(--concurrency "$c" --sleep "$SLEEP" --url "$MYSQL_URL" --port 0)
  if [ -n "$SQL" ]; then cmd+=(--sql "$SQL"); fi
  if [ -n "$WORKERS" ]; then cmd+=(--workers "$WORKERS"); fi
  "${cmd[@]}" >"$log.server" 2>&1 &
  server_pid=$!
  local port=""
  for _ in $(seq 600); do
    port=$(sed -n 's|^chartio: listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$log.server" | head -1)
    [ -n "$port" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ -z "$port" ]; then
    end_live_line
    echo "chartio: the $mode server did not start:" >&2
    cat "$log.server" >&2
    FAILED_RUNS="$FAILED_RUNS- $mode, c=$c, $lg: the server did not start ($(tail -1 "$log.server"))"$'\n'
    stop_server
    return 1
  fi
  local url="http://127.0.0.1:$port/" drops0
  drops0=$(listen_drops)
  drops0=${drops0:-0}
  if [ "$lg" = wrk ]; then
    local d=$WRK_SECONDS
    if [ "$mode" = blocking ] && [ "$BLOCKING_SECONDS" -lt "$d" ]; then d=$BLOCKING_SECONDS; fi
    wrk -t "$(( WRK_THREADS < c ? WRK_THREADS : c ))" -c "$c" -d "${d}s" --timeout "${WRK_TIMEOUT}s" \
      --latency "$url" >"$log.wrk" 2>&1 &
  else
    local ab_args=(-r -s 600 -c "$c")
    if [ "$mode" = blocking ]; then
      # -t before -n: a time cap, with n still the upper bound.
      ab_args+=(-t "$BLOCKING_SECONDS")
    fi
    ab_args+=(-n "$n" "$url")
    ab "${ab_args[@]}" >"$log.ab" 2>&1 &
  fi
  load_pid=$!
  local start
  start=$(date +%s)
  # In a log, the first tick of each run is printed: it says what started.
  last_progress=$((SECONDS - PROGRESS_SECONDS))
  while kill -0 "$load_pid" 2>/dev/null; do
    "$TICK" "$mode" "$c" $(($(date +%s) - start))
    sleep 1
  done
  if ! wait "$load_pid"; then
    end_live_line
    echo "chartio: $lg failed for $mode (c=$c):" >&2
    tail -5 "$log.$lg" >&2
    FAILED_RUNS="$FAILED_RUNS- $mode, c=$c, $lg: $lg failed ($(grep -v '^$' "$log.$lg" | tail -1))"$'\n'
  fi
  load_pid=""
  stop_server
  local drops
  drops=$(listen_drops)
  drops=$((${drops:-0} - drops0))
  if [ "$lg" = wrk ]; then
    parse_wrk "$mode" "$c" "$drops" <"$log.wrk"
  else
    parse_ab "$mode" "$c" "$drops" <"$log.ab"
  fi
}

parse_ab() {
  awk -v mode="$1" -v c="$2" -v drops="$3" '
    /^Complete requests:/ {complete=$3}
    /^Failed requests:/ {failed=$3}
    /^Non-2xx responses:/ {non2xx=$3}
    /^Requests per second:/ {rps=$4}
    /^Time taken for tests:/ {secs=$5}
    /^ *50%/ {p50=$2}
    /^ *99%/ {p99=$2}
    END {
      if (rps == "") { rps = 0; complete = 0 }
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\tab\t%d\t%d\n", mode, c, complete + 0, rps,
        (p50 == "" ? "-" : p50), (p99 == "" ? "-" : p99), failed, (secs == "" ? "-" : secs),
        non2xx, drops
    }'
}

# wrk prints durations with a unit (us, ms, s, m); in ms.
parse_wrk() {
  awk -v mode="$1" -v c="$2" -v drops="$3" '
    function ms(t,   v) {
      v = t + 0
      if (t ~ /us$/) return v / 1000
      if (t ~ /ms$/) return v
      if (t ~ /m$/) return v * 60000
      if (t ~ /s$/) return v * 1000
      return v
    }
    / requests in / {complete=$1; secs=$4; sub(/,$/, "", secs); secs = ms(secs) / 1000}
    /^ *Socket errors:/ {
      # connect A, read B, write C, timeout D
      for (i = 3; i <= NF; i += 2) { v = $(i + 1); sub(/,$/, "", v); failed += v }
    }
    /^ *Non-2xx or 3xx responses:/ {non2xx=$NF}
    /^Requests\/sec:/ {rps=$2}
    /^ *50% / {p50=ms($2)}
    /^ *99% / {p99=ms($2)}
    END {
      if (rps == "") { rps = 0; complete = 0 }
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\twrk\t%d\t%d\n", mode, c, complete + 0, rps,
        (p50 == "" ? "-" : sprintf("%.0f", p50)), (p99 == "" ? "-" : sprintf("%.0f", p99)),
        failed, (secs == "" ? "-" : sprintf("%.2f", secs)), non2xx, drops
    }'
}

# Markdown table from a TSV of run_one lines ("% of null": against null at the same
# concurrency with the same load generator).
table() {
  awk -F'\t' '
    BEGIN {
      print "| mode | load | concurrency | requests | req/s | p50 ms | p99 ms | failed | non-2xx | listen drops | % of null |"
      print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    }
    { rows[NR] = $0; lg = ($9 == "" ? "ab" : $9); if ($1 == "null") nullrps[$2 " " lg] = $4 }
    END {
      for (i = 1; i <= NR; i++) {
        split(rows[i], f, "\t")
        lg = (f[9] == "" ? "ab" : f[9])
        k = f[2] " " lg
        pct = (k in nullrps && nullrps[k] > 0) ? sprintf("%.1f%%", 100 * f[4] / nullrps[k]) : "n/a"
        mode = f[1]
        if (mode == "blocking") mode = "blocking (time-capped)"
        printf "| %s | %s | %s | %s | %.2f | %s | %s | %s | %s | %s | %s |\n", mode, lg, f[2], f[3],
          f[4], f[5], f[6], f[7], (f[10] == "" ? "-" : f[10]), (f[11] == "" ? "-" : f[11]), pct
      }
    }' "$1"
}

runtime_name() {
  if [ -n "$WORKERS" ]; then echo "a multi-thread tokio runtime with $WORKERS workers"; else
    echo "a current-thread tokio runtime"; fi
}

header() {
  local date machine gens=""
  date=$(date -u +"%Y-%m-%d %H:%M UTC")
  machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1024/1024}' /proc/meminfo)"
  case " $LOADGEN " in *" ab "*) gens="ab $(ab -V | sed -n 's/.*Version \([0-9.]*\).*/\1/p' | head -1)" ;; esac
  case " $LOADGEN " in *" wrk "*)
    gens="${gens:+$gens and }wrk $({ wrk -v 2>&1 || true; } | sed -n 's/^wrk \([^ ]*\).*/\1/p' | head -1) (-t $WRK_THREADS, ${WRK_SECONDS} s, keep-alive)" ;;
  esac
  echo "Chartio replication, $date, $machine, $(uname -sr), $gens,"
  echo "MariaDB $(server_version), query: ${SQL:-SELECT SLEEP($SLEEP)}; every server on $(runtime_name);"
  echo "open-files limit $NOFILE."
}

server_version() {
  "$BIN" --url "$MYSQL_URL" --info 2>/dev/null | sed -n 's/^version=//p'
}

# Expected seconds of one run: for ab, the first request alone, then n-1 in waves of c.
expected_secs() {
  if [ "$CUR_LOADGEN" = wrk ]; then
    if [ "$3" = blocking ] && [ "$BLOCKING_SECONDS" -lt "$WRK_SECONDS" ]; then
      echo "$BLOCKING_SECONDS"
    else
      echo "$WRK_SECONDS"
    fi
    return
  fi
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
  echo "- \`null\` answers after sleeping as long as one query, without a database: the HTTP/load"
  echo "  generator ceiling. \"% of null\" is the driver's efficiency (same concurrency, same"
  echo "  load generator)."
  echo "- \`mysql_async\` and \`sqlx\` serve the same endpoint as \`async\`"
  echo "  (bench/src/bin/chartio-peer.rs): a pool of at most c connections that starts empty,"
  echo "  the text protocol, TCP without TLS."
  case " $LOADGEN " in *" ab "*)
    echo "- ab opens a connection per request and sends its first request alone, the other"
    echo "  n-1 after it, so even \`null\` reaches at most n / (n/c + 1) query times (99.0 req/s"
    echo "  at c=100, n=10,000). \"failed\" is ab's \"Failed requests\"; non-2xx apart." ;;
  esac
  case " $LOADGEN " in *" wrk "*)
    echo "- wrk keeps c connections open (keep-alive) for ${WRK_SECONDS} s and counts the requests that"
    echo "  completed in that time: the first answers come after one query time, so even"
    echo "  \`null\` stays about one round under c / query time. \"failed\" is wrk's socket"
    echo "  errors (connect, read, write, timeout after ${WRK_TIMEOUT} s); non-2xx apart." ;;
  esac
  echo "- req/s counts every answer, error answers (non-2xx) included: a row with errors"
  echo "  is no figure for its mode. ab also counts a non-2xx answer of another length as"
  echo "  failed (\"Length\"), so it can appear in both columns."
  echo "- \"listen drops\": connections dropped by a full listen queue (this network namespace,"
  echo "  the database's listener and other processes included; the kernel caps each accept"
  echo "  queue at net.core.somaxconn = $(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo '?')). A dropped client retries a second later."
  case " $MODES " in *" blocking "*)
    echo "- \`blocking\` is capped at ${BLOCKING_SECONDS} s (it serves one request per query"
    echo "  time; its p50/p99 cover only the requests that finished)." ;;
  esac
  echo "- Load average before the run: $LOADAVG_BEFORE."
  if [ -n "$FAILED_RUNS" ]; then
    echo
    echo "Runs that failed:"
    echo
    printf "%s" "$FAILED_RUNS"
  fi
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
  say "$(tail -1 "$1" | awk -F'\t' '{printf "chartio: %-12s %-3s c=%-5s %s req/s, p50 %s ms, p99 %s ms, %s failed, %s non-2xx, %s listen drops", $1, $9, $2, $4, $5, $6, $7, $10, $11}')"
}

# run_and_record MODE C N LOGPREFIX LOADGEN TSV: one run; a run that failed to start
# is reported and skipped.
run_and_record() {
  CUR_LOADGEN=$5
  if run_one "$1" "$2" "$3" "$4" "$5" >>"$6"; then
    say_result "$6"
  else
    say "chartio: $1 c=$2 ($5): no result"
  fi
}

# Progress while a run goes: TICK MODE C ELAPSED_SECONDS.
single_tick() {
  local want
  want=$(expected_secs "$n" "$2" "$1")
  progress "$(printf "chartio: %-12s %-3s c=%-5s %4ds of ~%ds" "$1" "$CUR_LOADGEN" "$2" "$3" "$want")"
}

CUR_LOADGEN=ab
if [ "$what" = run ]; then
  BLOCKING_SECONDS=${BLOCKING_SECONDS:-$(awk -v s="$SLEEP" 'BEGIN { t = 30 * s; if (t > 30) t = 30; if (t < 2) t = 2; printf "%d", t }')}
  c=$max_c
  n=${REQUESTS:-10000}
  [ "$n" -lt "$c" ] && n=$c
  check_max_connections "$c"
  tsv="$OUT/results.tsv"
  : >"$tsv"
  TICK=single_tick
  for lg in $LOADGEN; do
    for mode in $MODES; do
      run_and_record "$mode" "$c" "$n" "$OUT/$mode-c$c" "$lg" "$tsv"
    done
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
else
  BLOCKING_SECONDS=${BLOCKING_SECONDS:-$(awk -v s="$SLEEP" 'BEGIN { t = 10 * s; if (t > 10) t = 10; if (t < 2) t = 2; printf "%d", t }')}
  cap=${SWEEP_MAX_REQUESTS:-}
  plot=${PLOT:-docs/chartio-sweep.svg}
  check_max_connections "$max_c"
  tsv="$OUT/sweep.tsv"
  : >"$tsv"
  nmodes=$(echo "$MODES" | wc -w)
  total=$((nmodes * $(echo "$levels" | wc -w) * $(echo "$LOADGEN" | wc -w)))
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
      progress "$(printf "chartio: run %d of %d, %-12s %-3s c=%-5s %4ds of ~%ds; %dm%02ds in all" \
        $((done_runs + 1)) "$total" "$1" "$CUR_LOADGEN" "$2" "${3:-0}" "$want" $((el / 60)) $((el % 60)))"
      return
    fi
    local filled=$(( (done_runs * 100 + frac) * width / (total * 100) ))
    local bar
    bar=$(printf "%${filled}s" "" | tr ' ' '#')$(printf "%$((width - filled))s" "" | tr ' ' '.')
    progress "$(printf "[%s] %2d/%d  c=%-5s %-12s %-3s %3dm%02ds" "$bar" "$done_runs" "$total" "$2" "$1" \
      "$CUR_LOADGEN" $((el / 60)) $((el % 60)))"
  }
  TICK=sweep_tick
  for c in $levels; do
    if [ -n "${SWEEP_ROUNDS:-}" ]; then rounds=$SWEEP_ROUNDS; elif [ "$c" -ge 1000 ]; then rounds=5; else rounds=10; fi
    n=$((rounds * c))
    if [ -n "$cap" ] && [ "$n" -gt "$cap" ]; then n=$cap; fi
    [ "$n" -lt "$c" ] && n=$c
    for lg in $LOADGEN; do
      for mode in $MODES; do
        run_and_record "$mode" "$c" "$n" "$OUT/sweep-$mode-$lg-c$c" "$lg" "$tsv"
        done_runs=$((done_runs + 1))
      done
    done
  done
  {
    header
    echo
    table "$tsv"
    footer $levels
    echo
    echo "Requests per level (ab): n = ${SWEEP_ROUNDS:-10 (below c = 1000) or 5} x c${cap:+, at most $cap}. Plot: $plot."
  } >"$OUT/sweep.md"
  echo
  cat "$OUT/sweep.md"
  echo
  mkdir -p "$(dirname "$plot")"
  rt_title=current-thread
  if [ -n "$WORKERS" ]; then rt_title="$WORKERS-worker"; fi
  cargo run --release -q -p mysqlclient-async-bench --bin chartio-plot -- \
    --sleep "$SLEEP" --title "$(date -u +%Y-%m-%d), $(nproc) cores, $rt_title runtime" "$tsv" "$plot"
  echo "(written to $OUT/sweep.md and $plot)"
fi
