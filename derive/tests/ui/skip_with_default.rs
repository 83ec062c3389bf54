use mysqlclient_async::FromRow;

#[derive(FromRow)]
struct User {
    id: u64,
    #[mysql(skip, default)]
    cache: Vec<u8>,
}

fn main() {}
