use mysqlclient_async::FromRow;

#[derive(FromRow)]
struct Borrowed<'a> {
    name: &'a str,
}

fn main() {}
