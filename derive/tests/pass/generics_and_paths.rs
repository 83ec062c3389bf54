//! Compiles: type parameters get their bounds, a renamed dependency is reached
//! through `crate = "..."`, raw identifiers and user types named like the
//! generated code's helpers do not interfere.

use mysqlclient_async::FromRow;

mod renamed {
    pub use mysqlclient_async as db;
}

#[allow(dead_code)]
struct Result;
#[allow(dead_code)]
struct Option;

#[derive(FromRow)]
struct Page<T, U: Default> {
    items: T,
    #[mysql(default)]
    total: U,
    #[mysql(try_from = "i64")]
    r#type: u8,
}

#[derive(FromRow)]
struct Wrapper<T> {
    #[mysql(flatten)]
    inner: T,
    #[mysql(skip)]
    note: String,
}

#[derive(FromRow)]
#[mysql(crate = "renamed::db")]
struct Pair(u64, #[mysql(try_from = "u64")] u32);

#[derive(FromRow)]
struct Skipped {
    #[mysql(skip)]
    nothing: (),
}

fn is_from_row<T: mysqlclient_async::FromRow>() {}

fn main() {
    is_from_row::<Page<String, u32>>();
    is_from_row::<Wrapper<Page<i64, i64>>>();
    is_from_row::<Pair>();
    is_from_row::<Skipped>();
}
