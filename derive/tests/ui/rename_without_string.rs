use mysqlclient_async::FromRow;

#[derive(FromRow)]
struct User {
    #[mysql(rename = user_id)]
    id: u64,
}

#[derive(FromRow)]
struct Other {
    #[mysql(rename)]
    id: u64,
}

fn main() {}
