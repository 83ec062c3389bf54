use mysqlclient_async::FromRow;

struct Level(u8);

#[derive(FromRow)]
struct User {
    id: u64,
    #[mysql(try_from = "i64")]
    level: Level,
}

fn main() {}
