use mysqlclient_async::FromRow;

#[derive(FromRow)]
struct Pair(u64, #[mysql(rename = "name")] String);

fn main() {}
