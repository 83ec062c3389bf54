# mysqlclient-async: the commands a newcomer types.
#   make test      install system packages (once), then every test against a real server
#   make chartio   the 2011 Chartio benchmark, replicated (see bench/RESULTS.md)
# Point everything at an existing server with MYSQL_TEST_URL=mysql://user:pass@host:port/db;
# otherwise the tests start a private throwaway mariadbd.

CARGO ?= cargo
JOBS ?= 2
export CARGO_BUILD_JOBS = $(JOBS)

.PHONY: setup test test-oracle test-portable test-cluster lint fmt clippy doc docs-rs memcheck msrv stack-depth

setup:
	@bash scripts/setup.sh

# Every feature that changes the API (not `bundled`, which changes the library linked):
# the tests of each run (tests/derive.rs refuses to build without `derive`).
TEST_FEATURES = --features mysqlclient-async/derive,mysqlclient-async/chrono,mysqlclient-async/time,mysqlclient-async/rust_decimal,mysqlclient-async/serde_json

# The whole suite on MariaDB Connector/C, then the async core again on the portable
# readable-then-read (Chartio) path.
test: setup
	MYSQLCLIENT_ASYNC_EXPECT_BACKEND=mariadb $(CARGO) test --workspace --all-targets $(TEST_FEATURES)
	MYSQLCLIENT_ASYNC_TEST_IO_MODE=readable_then_read $(CARGO) test --test async_core $(TEST_FEATURES)
	$(CARGO) test --workspace --doc $(TEST_FEATURES)
	MYSQL_URL="$${MYSQL_TEST_URL:-}" bash scripts/with-mysql.sh \
		$(CARGO) run --example first_steps $(TEST_FEATURES)

# Oracle's libmysqlclient, built from source by mysqlclient-sys (`bundled`; cmake),
# against the same throwaway MariaDB server: the whole suite.
test-oracle: setup
	MYSQLCLIENT_ASYNC_EXPECT_BACKEND=oracle $(CARGO) test --features bundled,derive --all-targets

# The portable backend, with every non-blocking function hidden from the bindings:
# proves it builds and works against a library without them (the whole suite; the
# stall and drop tests hold it to that path's documented bounds). Its own target
# dir, so that switching backends does not rebuild the others.
test-portable: setup
	MYSQLCLIENT_ASYNC_BACKEND=portable MYSQLCLIENT_ASYNC_EXPECT_BACKEND=portable \
		CARGO_TARGET_DIR=target/portable $(CARGO) test --features derive --all-targets
	MYSQLCLIENT_ASYNC_BACKEND=portable CARGO_TARGET_DIR=target/portable \
		$(CARGO) clippy --features derive --all-targets -- -D warnings

# The tests that need a replication pair or a Galera cluster of throwaway servers
# (tests/support/cluster.rs; Galera's nodes run as the `mysql` user when we are
# root), alone: `make test` runs them too, with everything else. One word per test
# binary.
CLUSTER_TESTS = cluster_support replicas galera multihost
test-cluster: setup
	$(CARGO) test --features derive $(addprefix --test ,$(CLUSTER_TESTS))

lint: fmt clippy

fmt:
	$(CARGO) fmt --all -- --check

clippy: setup
	$(CARGO) clippy --workspace --all-targets -- -D warnings

doc: setup
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps

# The docs.rs build: no bindgen, no libclang (the -sys crate's bindings).
docs-rs: setup
	DOCS_RS=1 CARGO_TARGET_DIR=target/portable \
		RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --features derive,chrono,time,rust_decimal,serde_json

# Cargo.toml's rust-version against the highest one in the library's dependency graph
# (scripts/check-rust-version.sh, which reads the downloaded crates offline; `cargo
# fetch` downloads the locked ones that are missing, and nothing when none is).
msrv:
	$(CARGO) fetch --locked --quiet
	bash scripts/check-rust-version.sh

# Every FFI path once (tests/memcheck.rs) under valgrind: fails on any invalid read or
# write and on any definite leak. Runs in CI after `make test`.
VALGRIND = valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
	--errors-for-leak-kinds=definite --num-callers=40 --quiet
memcheck: setup
	CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$(VALGRIND)" \
		$(CARGO) test --test memcheck -- --test-threads=1

# The co-routine stack of MariaDB Connector/C (README, "Co-routine stack"): how deep
# each operation goes (tests/coroutine_stack.rs, which also runs in `make test`), then
# the memory per connection with each stack size (examples/stack_rss.rs; 500
# connections to a throwaway server unless MYSQL_URL is set; STACK_RSS_CONNECTIONS=N
# for another count).
stack-depth: setup
	$(CARGO) test --test coroutine_stack -- --nocapture
	$(CARGO) build --example stack_rss
	bash scripts/with-mysql.sh $(CARGO) run --quiet --example stack_rss -- $(STACK_RSS_CONNECTIONS)

# ---- Benchmarks: see bench/RESULTS.md. Each uses MYSQL_URL, or starts a
# throwaway mariadbd (scripts/with-mysql.sh). Shorter runs, e.g.:
#   CONCURRENCY=20 REQUESTS=200 SLEEP=0.2 MODES="null async" make chartio
.PHONY: chartio chartio-sweep bench

# The Chartio replication: ab -c 100 -n 10000 against each mode of examples/chartio.rs
# and the same server on mysql_async and sqlx (LOADGEN=wrk: wrk instead of ab).
chartio: setup
	bash scripts/chartio.sh

# c = 10, 100, 1000, 5000, 10000 over the modes, with an SVG plot (docs/chartio-sweep.svg).
chartio-sweep: setup
	bash scripts/chartio.sh sweep

# mysqlclient-async against mysql_async, sqlx and the sync mysql crate (BENCH_ARGS: see --help).
bench: setup
	bash scripts/bench.sh $(BENCH_ARGS)
