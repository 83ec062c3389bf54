#!/usr/bin/env bash
# A database for the benchmarks: MYSQL_URL if it is set, otherwise a private,
# throwaway mariadbd (temp datadir, own unix socket, a free port on 127.0.0.1,
# --max-connections=$MYSQL_MAX_CONNECTIONS, default 3000 for the c=1000 runs), stopped
# and deleted on exit.
#
#   scripts/with-mysql.sh COMMAND [ARGS...]   run COMMAND with MYSQL_URL exported
#   source scripts/with-mysql.sh; ensure_mysql   (from another bash script)
#
# Every URL gets ?ssl_mode=disabled unless it names an ssl_mode: the benchmarks
# compare drivers without TLS.

_mysql_tmp=""
_mysql_pid=""

stop_throwaway_mysql() {
  if [ -n "$_mysql_pid" ] && kill -0 "$_mysql_pid" 2>/dev/null; then
    kill "$_mysql_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$_mysql_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$_mysql_pid" 2>/dev/null || true
  fi
  _mysql_pid=""
  if [ -n "$_mysql_tmp" ]; then rm -rf "$_mysql_tmp"; fi
  _mysql_tmp=""
}

_free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "with-mysql: no free port found" >&2
  return 1
}

start_throwaway_mysql() {
  local mariadbd installdb
  mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
  installdb=$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)
  if [ ! -x "$mariadbd" ] || [ ! -x "$installdb" ]; then
    echo "with-mysql: mariadbd / mariadb-install-db not found; run scripts/setup.sh or set MYSQL_URL" >&2
    return 1
  fi
  _mysql_tmp=$(mktemp -d "${TMPDIR:-/tmp}/mca-bench-mysql.XXXXXX")
  if ! "$installdb" --no-defaults --datadir="$_mysql_tmp/data" --user="$(id -un)" \
      --auth-root-authentication-method=normal --skip-test-db >"$_mysql_tmp/install.log" 2>&1; then
    cat "$_mysql_tmp/install.log" >&2
    return 1
  fi
  # A free port can be taken by someone else before mariadbd binds it: try again.
  local attempt
  for attempt in 1 2 3 4 5; do
    if _start_mariadbd "$mariadbd"; then return 0; fi
    if ! grep -q "Address already in use" "$_mysql_tmp/error.log" 2>/dev/null; then break; fi
    echo "with-mysql: port taken, retrying ($attempt)" >&2
  done
  echo "with-mysql: mariadbd did not start; its log:" >&2
  cat "$_mysql_tmp/error.log" >&2 || true
  stop_throwaway_mysql
  return 1
}

_start_mariadbd() {
  local mariadbd=$1 port
  port=$(_free_port)
  : >"$_mysql_tmp/error.log"
  echo "with-mysql: starting a throwaway mariadbd on 127.0.0.1:$port (datadir $_mysql_tmp)" >&2
  # One file per connection plus tables and logs: mariadbd lowers max_connections to
  # fit its open-files limit, so raise the limit first (only upwards; past the hard
  # limit only as root with CAP_SYS_RESOURCE).
  local max_conn=${MYSQL_MAX_CONNECTIONS:-3000} files
  files=$((2 * max_conn + 4096))
  if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$files" ]; then
    ulimit -Hn "$files" 2>/dev/null || true
  fi
  if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$files" ]; then
    ulimit -Sn "$files" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
  fi
  "$mariadbd" --no-defaults --datadir="$_mysql_tmp/data" --user="$(id -un)" \
    --socket="$_mysql_tmp/mysqld.sock" --port="$port" --bind-address=127.0.0.1 \
    --pid-file="$_mysql_tmp/mysqld.pid" --log-error="$_mysql_tmp/error.log" \
    --max-connections="$max_conn" --back-log=4096 --max-connect-errors=1000000 \
    --open-files-limit="$files" \
    --thread-cache-size=3000 --skip-name-resolve --skip-log-bin \
    --innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=0 \
    --performance-schema=OFF --skip-ssl >/dev/null 2>&1 &
  _mysql_pid=$!
  local ok=""
  for _ in $(seq 300); do
    if ! kill -0 "$_mysql_pid" 2>/dev/null; then break; fi
    if mariadb --no-defaults -S "$_mysql_tmp/mysqld.sock" -uroot \
        -e "CREATE DATABASE IF NOT EXISTS test" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.1
  done
  if [ -z "$ok" ]; then
    kill "$_mysql_pid" 2>/dev/null || true
    wait "$_mysql_pid" 2>/dev/null || true
    _mysql_pid=""
    return 1
  fi
  MYSQL_URL="mysql://root@127.0.0.1:$port/test"
  export MYSQL_URL
}

# Use MYSQL_URL or start a throwaway server (stopped by an EXIT trap); export
# MYSQL_URL with ssl_mode=disabled.
ensure_mysql() {
  if [ -z "${MYSQL_URL:-}" ]; then
    trap stop_throwaway_mysql EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    start_throwaway_mysql || return 1
  fi
  case "$MYSQL_URL" in
    *ssl_mode=*|*sslmode=*) ;;
    *\?*) MYSQL_URL="$MYSQL_URL&ssl_mode=disabled" ;;
    *) MYSQL_URL="$MYSQL_URL?ssl_mode=disabled" ;;
  esac
  export MYSQL_URL
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  if [ $# -eq 0 ]; then
    echo "usage: scripts/with-mysql.sh COMMAND [ARGS...]" >&2
    exit 2
  fi
  ensure_mysql
  status=0
  "$@" || status=$?
  exit "$status"
fi
