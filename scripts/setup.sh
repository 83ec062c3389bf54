#!/usr/bin/env bash
# Installs the system packages mysqlclient-async needs to build, test and benchmark.
# Idempotent: a second run installs nothing and finishes in well under a second.
set -euo pipefail

pkgs=(
  libmariadb-dev      # MariaDB Connector/C headers + libmariadb (the system libmysqlclient)
  pkg-config          # finds libmariadb for mysqlclient-sys and build.rs
  clang libclang-dev  # bindgen in build.rs
  mariadb-server      # mariadbd + mariadb-install-db for the throwaway test server
  galera-4            # libgalera_smm.so: the throwaway Galera clusters of make test-cluster
  rsync               # their state transfer (wsrep_sst_method=rsync)
  apache2-utils       # ab, for the Chartio benchmark
  wrk                 # a multi-threaded HTTP load generator: the Chartio benchmark's second ceiling (LOADGEN=wrk)
  openssl             # test CA and server certificates for the TLS tests
  valgrind            # make memcheck
  cmake g++ libssl-dev  # the `bundled` feature: Oracle's client built from source
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all system packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
