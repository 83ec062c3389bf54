//! Bad input: each case gives a typed error, and the connection's state afterwards
//! is defined and checked.

mod support;

use support::block_on as run;

use mysqlclient_async::{AsyncConn, Conn, ErrorKind, Opts, Pool};

/// A query over the server's max_allowed_packet: the server refuses it and closes
/// the connection. The error is fatal, the connection reports itself broken, and a
/// pool replaces it.
#[test]
fn query_larger_than_max_allowed_packet() {
    let server = support::start_private_with(&["--max-allowed-packet=1M"]);
    let url = server.url();
    let big = format!("SELECT '{}'", "x".repeat(2 * 1024 * 1024));

    let mut c = Conn::connect(url.as_str()).unwrap();
    let e = c.query_drop(&big).unwrap_err();
    println!("blocking, 2 MiB query vs 1 MiB max_allowed_packet: {e}");
    assert!(e.is_fatal(), "{e}");
    assert!(
        matches!(e.kind(), ErrorKind::ConnectionLost | ErrorKind::Client),
        "{e}"
    );
    assert!(c.is_broken());
    assert_eq!(
        c.query_drop("SELECT 1").unwrap_err().kind(),
        ErrorKind::Broken
    );

    run(async {
        let mut a = AsyncConn::connect(url.as_str()).await.unwrap();
        let e = a.query_drop(&big).await.unwrap_err();
        println!("async, same: {e}");
        assert!(e.is_fatal(), "{e}");
        assert!(a.is_broken());
        let e = a.query_drop("SELECT 1").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Broken, "{e}");

        // Through a pool: the broken connection is discarded, the next query works.
        let pool = Pool::builder(url.as_str()).max_size(1).build().unwrap();
        assert!(pool.query_drop(&big).await.unwrap_err().is_fatal());
        assert_eq!(pool.query_one::<i32>("SELECT 1").await.unwrap(), 1);
        assert!(pool.metrics().discarded >= 1);
    });
}

/// Bytes that are not UTF-8, sent into a utf8mb4 column: a server error under the
/// default strict mode, and the connection stays usable. (A query is a `&str`, so
/// invalid UTF-8 can only arrive as data.)
#[test]
fn invalid_utf8_data() {
    let t = format!("t_badutf8_{}", std::process::id());
    let mut c = Conn::connect(support::url().as_str()).unwrap();
    c.query_drop(&format!(
        "CREATE TABLE {t} (s VARCHAR(10) CHARACTER SET utf8mb4)"
    ))
    .unwrap();
    let e = c
        .query_drop(&format!("INSERT INTO {t} VALUES (X'C328')"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert_eq!(e.code(), Some(1366), "Incorrect string value: {e}");
    assert!(!e.is_fatal());
    let e = c
        .exec_drop(
            &format!("INSERT INTO {t} VALUES (CONVERT(? USING utf8mb4))"),
            (vec![0xffu8, 0xfe],),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert!(!e.is_fatal());
    assert_eq!(
        c.query_one::<i64>(&format!("SELECT COUNT(*) FROM {t}"))
            .unwrap(),
        0
    );
    c.query_drop(&format!("DROP TABLE {t}")).unwrap();
}

/// NUL bytes in a query: inside a string literal they are data, outside one they
/// are a syntax error. Either way the connection stays usable.
#[test]
fn nul_bytes_in_queries() {
    let mut c = Conn::connect(support::url().as_str()).unwrap();
    let v: Vec<u8> = c.query_one("SELECT 'a\0b'").unwrap();
    assert_eq!(v, b"a\0b");
    let e = c.query_drop("SELECT 1 \0 + 1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert!(!e.is_fatal());
    run(async {
        let mut a = AsyncConn::connect(support::url().as_str()).await.unwrap();
        let e = a.query_drop("SELECT \0").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Server, "{e}");
        assert_eq!(a.query_one::<i32>("SELECT 2").await.unwrap(), 2);
        // As a parameter, a NUL byte is escaped and stored literally.
        let s: String = a.exec_one("SELECT ?", ("x\0y",)).await.unwrap();
        assert_eq!(s, "x\0y");
    });
    assert_eq!(c.query_one::<i32>("SELECT 3").unwrap(), 3);
}

/// Connect errors: typed, fatal (there is no connection), the password never shown.
#[test]
fn wrong_password_and_unknown_host() {
    let bad = Opts::from_url(&support::url())
        .unwrap()
        .to_builder()
        .password("no-such-secret")
        .build();
    let e = Conn::connect(&bad).unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::Connect, Some(1045)),
        "{e}"
    );
    assert!(!format!("{e} {e:?}").contains("no-such-secret"));
    run(async {
        let e = AsyncConn::connect(&bad).await.unwrap_err();
        assert_eq!(
            (e.kind(), e.code()),
            (ErrorKind::Connect, Some(1045)),
            "{e}"
        );
        // The name is resolved on the runtime (tokio::net::lookup_host), not by the
        // C library; the error names the host.
        let e = AsyncConn::connect("mysql://root@unknown-host.invalid:3306/test")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
        assert!(
            e.to_string()
                .contains("cannot resolve host `unknown-host.invalid`"),
            "{e}"
        );
        assert!(e.is_fatal());
    });
}
