use mysqlclient_async::FromRow;

#[derive(FromRow)]
struct Nothing;

fn main() {}
