use mysqlclient_async::FromRow;

struct Audit {
    created_by: String,
}

#[derive(FromRow)]
struct User {
    id: u64,
    #[mysql(flatten)]
    audit: Audit,
}

fn main() {}
