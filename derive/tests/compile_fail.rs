//! What `#[derive(FromRow)]` refuses, and how it says so: the expected compiler
//! output of each case is committed beside it (`tests/ui/*.stderr`). After a
//! deliberate change of a message, `TRYBUILD=overwrite cargo test -p
//! mysqlclient-async-derive --test compile_fail` rewrites them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
