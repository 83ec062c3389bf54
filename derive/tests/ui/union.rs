use mysqlclient_async::FromRow;

#[derive(FromRow)]
union Bits {
    i: u64,
    f: f64,
}

fn main() {}
