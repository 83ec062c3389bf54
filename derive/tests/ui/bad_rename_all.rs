use mysqlclient_async::FromRow;

#[derive(FromRow)]
#[mysql(rename_all = "kebab-case")]
struct User {
    user_id: u64,
}

fn main() {}
