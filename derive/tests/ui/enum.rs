use mysqlclient_async::FromRow;

#[derive(FromRow)]
enum Shape {
    Circle { r: f64 },
    Square { side: f64 },
}

fn main() {}
