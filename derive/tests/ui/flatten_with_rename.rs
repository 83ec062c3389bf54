use mysqlclient_async::FromRow;

#[derive(FromRow)]
struct Audit {
    created_by: String,
}

#[derive(FromRow)]
struct User {
    id: u64,
    #[mysql(flatten, rename = "audit")]
    audit: Audit,
}

fn main() {}
