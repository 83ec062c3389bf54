# mysqlclient-async: the commands a newcomer types.
#   make test      install system packages (once), then every test against a real server
#   make chartio   the 2011 Chartio benchmark, replicated (see README)
# Point everything at an existing server with MYSQL_TEST_URL=mysql://user:pass@host:port/db;
# otherwise the tests start a private throwaway mariadbd.

CARGO ?= cargo
JOBS ?= 2
export CARGO_BUILD_JOBS = $(JOBS)

.PHONY: setup test lint fmt clippy doc memcheck

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

# Every FFI path once (tests/memcheck.rs) under valgrind: fails on any invalid read or
# write and on any definite leak. Runs in CI after `make test`.
VALGRIND = valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
	--errors-for-leak-kinds=definite --num-callers=40 --quiet
memcheck: setup
	CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$(VALGRIND)" \
		$(CARGO) test --test memcheck -- --test-threads=1
