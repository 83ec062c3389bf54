# mysqlclient-async: the commands a newcomer types.
#   make test      install system packages (once), then every test against a real server
#   make chartio   the 2011 Chartio benchmark, replicated (see README)
# Point everything at an existing server with MYSQL_TEST_URL=mysql://user:pass@host:port/db;
# otherwise the tests start a private throwaway mariadbd.

CARGO ?= cargo
JOBS ?= 2
export CARGO_BUILD_JOBS = $(JOBS)

.PHONY: setup test test-nonblocking test-portable lint fmt clippy doc

setup:
	@bash scripts/setup.sh

# Every async test runs twice: on the full non-blocking path and on the portable
# readable-then-read (Chartio) path.
test: setup
	$(CARGO) test --workspace --all-targets
	MYSQLCLIENT_ASYNC_TEST_IO_MODE=readable_then_read $(CARGO) test --test async_core
	$(CARGO) test --workspace --doc

lint: fmt clippy

fmt:
	$(CARGO) fmt --all -- --check

clippy: setup
	$(CARGO) clippy --workspace --all-targets -- -D warnings

doc: setup
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps
