use mysqlclient_async::FromRow;

#[derive(FromRow)]
struct User {
    id: u64,
    #[mysql(rename = "name", nullable)]
    name: String,
}

fn main() {}
