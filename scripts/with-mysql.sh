#!/usr/bin/env bash
# A database for the benchmarks: MYSQL_URL if it is set, otherwise a private,
# throwaway mariadbd (temp datadir, own unix socket, a free port on 127.0.0.1),
# stopped and deleted on exit. Its --max-connections is MYSQL_MAX_CONNECTIONS
# (default 3000, for the c=1000 runs); for more, the open-files limit is raised
# first (the hard limit too when root, up to /proc/sys/fs/nr_open) and passed on as
# --open-files-limit, since every connection is a socket.
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

# Raise this shell's open-files limit to at least $1 (the hard limit too when
# allowed: root), capped by /proc/sys/fs/nr_open; never lowers it. Sets
# open_files to the soft limit in force. (Not for $(...): a subshell's limit
# does not outlive it.)
raise_open_files() {
  local want=$1 hard nr_open
  nr_open=$(cat /proc/sys/fs/nr_open 2>/dev/null || echo 1048576)
  [ "$want" -gt "$nr_open" ] && want=$nr_open
  hard=$(ulimit -Hn)
  if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
    ulimit -Hn "$want" 2>/dev/null || true
    hard=$(ulimit -Hn)
  fi
  [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ] && want=$hard
  if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$want" ]; then
    ulimit -Sn "$want" 2>/dev/null || true
  fi
  open_files=$(ulimit -Sn)
}

_start_mariadbd() {
  local mariadbd=$1 port max_conn files
  max_conn=${MYSQL_MAX_CONNECTIONS:-3000}
  # A socket per connection, plus tables, logs and spare.
  raise_open_files $((2 * max_conn + 4096))
  files=$open_files
  [ "$files" = unlimited ] && files=$((2 * max_conn + 4096))
  if [ "$files" -lt $((max_conn + 1024)) ]; then
    echo "with-mysql: only $files open files for $max_conn connections (not root?); expect refused connections" >&2
  fi
  port=$(_free_port)
  : >"$_mysql_tmp/error.log"
  echo "with-mysql: starting a throwaway mariadbd on 127.0.0.1:$port (datadir $_mysql_tmp, max_connections $max_conn, open files $files)" >&2
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
