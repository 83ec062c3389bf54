#!/usr/bin/env bash
# Checks the `rust-version` of mysqlclient-async (Cargo.toml) against what building
# the library really takes:
#
# - its dependency graph as Cargo.lock resolves it: normal and build dependencies,
#   with all of the crate's features, for every target platform. Dev-dependencies
#   are left out (users never build them), and so is the workspace's `bench`
#   member with its heavy peers: `cargo tree -p mysqlclient-async -e normal,build`
#   resolves features for the library alone, as a user's build does (`cargo
#   metadata`'s graph unifies the features of the whole workspace, dev-dependencies
#   included, and would count crates no user builds);
# - our own code, OWN_MIN below. clippy's `incompatible_msrv` lint (on by default;
#   `make clippy` denies warnings) checks every std API we call against the
#   rust-version: the newest is `std::task::Waker::noop`, stable since 1.85.
#   Language features have no such check, and only one toolchain is installed
#   here, so an older compiler cannot be tried; edition 2021 already rules out
#   the newest ones (let chains are edition 2024 only). Raise OWN_MIN when the code
#   starts to use something newer.
#
# The required version is the highest of these. The check fails when Cargo.toml's
# rust-version is lower; when it is higher, it passes and says so. Prints the
# packages that set the dependencies' maximum and the next ones below it, each with
# the direct dependencies that bring it in.
#
# No network: `cargo metadata` and `cargo tree` run with --locked --offline, so every
# crate of the graph must be downloaded already (`make msrv` runs `cargo fetch
# --locked` first).
set -euo pipefail
cd "$(dirname "$0")/.."

PKG=mysqlclient-async
OWN_MIN=1.85 # std::task::Waker::noop
TOP=${TOP:-12}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

offline() {
  if ! "$@" >"$tmp/out" 2>"$tmp/err"; then
    cat "$tmp/err" >&2
    echo "check-rust-version: '$*' failed; if crates are missing, run 'cargo fetch --locked' first" >&2
    exit 2
  fi
  cat "$tmp/out"
}

# The crate's own manifest: its rust-version and features (nothing downloaded).
offline cargo metadata --format-version 1 --locked --offline --no-deps >"$tmp/self.json"
features=$(python3 - "$tmp/self.json" "$PKG" <<'PY'
import json, sys
meta = json.load(open(sys.argv[1]))
pkg = next(p for p in meta["packages"] if p["name"] == sys.argv[2])
print(",".join(f"{pkg['name']}/{f}" for f in sorted(pkg["features"]) if f != "default"))
PY
)

# Every package's declared rust-version, with the library's features on.
offline cargo metadata --format-version 1 --locked --offline \
  ${features:+--features "$features"} >"$tmp/meta.json"

# The packages the library's build uses, on any platform.
offline cargo tree -p "$PKG" --all-features -e normal,build --target all \
  --locked --offline --prefix depth --no-dedupe --format '{p}' >"$tmp/tree.txt"

python3 - "$tmp/meta.json" "$tmp/tree.txt" "$PKG" "$OWN_MIN" "$TOP" <<'PY'
import json, sys

meta_path, tree_path, name, own_min, top = sys.argv[1:6]
meta = json.load(open(meta_path))

def key(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))

def show(v):
    return ".".join(str(x) for x in key(v)[:2]) if key(v)[2] == 0 else v

members = set(meta["workspace_members"])
ours = next(p for p in meta["packages"] if p["name"] == name and p["id"] in members)
declared = ours.get("rust_version")
if not declared:
    sys.exit(f"check-rust-version: {name} declares no rust-version in Cargo.toml")
rv = {(p["name"], p["version"]): p.get("rust_version") for p in meta["packages"]}

# Lines are `<depth><name> v<version> …`; remember which direct dependency of ours
# brings each package in.
deps, via, direct = set(), {}, None
for line in open(tree_path):
    depth = len(line) - len(line.lstrip("0123456789"))
    parts = line[depth:].split()
    if not depth or len(parts) < 2 or int(line[:depth]) == 0:
        continue
    dep = (parts[0], parts[1].lstrip("v"))
    if int(line[:depth]) == 1:
        direct = dep[0]
    deps.add(dep)
    via.setdefault(dep, set()).add(direct)
missing = sorted(d for d in deps if d not in rv)
if missing:
    sys.exit(f"check-rust-version: not in cargo metadata: {missing}")

rows = sorted(
    ((rv[d], *d) for d in deps if rv[d]),
    key=lambda r: (key(r[0]), r[1]),
    reverse=True,
)
undeclared = len(deps) - len(rows)
dep_max = rows[0][0] if rows else "0"
required = max(dep_max, own_min, key=key)

print(f"{name} declares rust-version {declared}")
print(
    f"its {len(deps)} dependencies (normal + build, all features, all targets; "
    f"{undeclared} declare no rust-version), highest first:"
)
for v, n, ver in rows[: int(top)]:
    through = sorted(via[(n, ver)] - {n})
    how = ["direct"] if n in via[(n, ver)] else []
    how += [f"via {', '.join(through)}"] if through else []
    print(f"  {v:<8} {n} {ver}  ({'; '.join(how)})")
print(f"required: {show(required)} (dependencies: {show(dep_max)}; our own code: {own_min})")

if key(declared) < key(required):
    print(f"FAIL: rust-version {declared} is below {show(required)}: set rust-version = \"{show(required)}\"")
    sys.exit(1)
if key(declared) > key(required):
    print(f"ok, and note: rust-version {declared} is above the {show(required)} required")
else:
    print(f"ok: rust-version {declared} is what the crate requires")
PY
