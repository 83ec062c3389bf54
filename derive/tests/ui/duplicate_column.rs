use mysqlclient_async::FromRow;

#[derive(FromRow)]
struct User {
    id: u64,
    #[mysql(rename = "id")]
    also_id: u64,
}

fn main() {}
