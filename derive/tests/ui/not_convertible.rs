use mysqlclient_async::FromRow;

struct Email(String);

#[derive(FromRow)]
struct User {
    id: u64,
    email: Email,
}

fn main() {}
