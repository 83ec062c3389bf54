use mysqlclient_async::FromRow;

#[derive(FromRow)]
#[mysql(rename = "users")]
struct User {
    id: u64,
}

fn main() {}
