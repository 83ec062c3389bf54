//! `#[derive(FromRow)]` against a real server: every attribute, through the query
//! methods (text and binary protocol, blocking and async, streamed) and through an
//! owned `Row`, and the errors a row that does not fit gives.

#[cfg(not(feature = "derive"))]
compile_error!("tests/derive.rs needs --features derive (make test passes it)");

mod support;

use support::block_on as run;

use futures_util::TryStreamExt;
use mysqlclient_async::{AsyncConn, Conn, Error, ErrorKind, FromRow, Row};

fn conn() -> Conn {
    Conn::connect(support::url().as_str()).expect("connect to the test server")
}

/// The message of a conversion error, after checking that it is one and that it
/// leaves the connection usable.
fn conversion(e: Error) -> String {
    assert_eq!(e.kind(), ErrorKind::Conversion, "{e}");
    assert!(!e.is_fatal(), "a conversion error is not fatal: {e}");
    e.to_string()
}

/// `sql`'s rows read as `T` through the query methods (`from_row_ref`, straight
/// from the library's buffer) and, after copying them into owned rows, through
/// `from_row`: both give the same.
fn both<T: FromRow + PartialEq + std::fmt::Debug>(c: &mut Conn, sql: &str) -> Vec<T> {
    let direct: Vec<T> = c.query(sql).unwrap();
    let rows: Vec<Row> = c.query(sql).unwrap();
    let owned: Vec<T> = rows.into_iter().map(|r| T::from_row(r).unwrap()).collect();
    assert_eq!(direct, owned, "from_row_ref and from_row differ for {sql}");
    direct
}

/// Both paths fail alike; the message.
fn both_fail<T: FromRow + std::fmt::Debug>(c: &mut Conn, sql: &str) -> String {
    let direct = conversion(c.query_one::<T>(sql).unwrap_err());
    let row: Row = c.query_one(sql).unwrap();
    let owned = conversion(T::from_row(row).unwrap_err());
    assert_eq!(
        direct, owned,
        "from_row_ref and from_row fail differently for {sql}"
    );
    // The connection is still in sync.
    assert_eq!(c.query_one::<i64>("SELECT 7").unwrap(), 7);
    direct
}

#[derive(Debug, PartialEq, FromRow)]
struct User {
    id: u64,
    name: String,
    email: Option<String>,
}

#[test]
fn named_fields_by_column_name() {
    let mut c = conn();
    // Column order does not matter, extra columns are ignored.
    let users: Vec<User> = both(
        &mut c,
        "SELECT 'x' AS extra, 'ann' AS name, NULL AS email, 1 AS id \
         UNION ALL SELECT 'y', 'bob', 'bob@example.com', 2",
    );
    assert_eq!(
        users,
        [
            User {
                id: 1,
                name: "ann".into(),
                email: None,
            },
            User {
                id: 2,
                name: "bob".into(),
                email: Some("bob@example.com".into()),
            },
        ]
    );
    // Two columns of one name: the first one is read.
    let u: User = c
        .query_one("SELECT 3 AS id, 'first' AS name, NULL AS email, 'second' AS name")
        .unwrap();
    assert_eq!(u.name, "first");
}

#[test]
fn query_exec_and_query_one() {
    let mut c = conn();
    c.query_drop(
        "CREATE TEMPORARY TABLE users (id BIGINT UNSIGNED PRIMARY KEY, \
         name VARCHAR(20) NOT NULL, email VARCHAR(50) NULL)",
    )
    .unwrap();
    c.query_drop("INSERT INTO users VALUES (1, 'ann', NULL), (2, 'bob', 'b@x')")
        .unwrap();
    let all: Vec<User> = c.query("SELECT * FROM users ORDER BY id").unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].email.as_deref(), Some("b@x"));
    // A server-side statement: the binary protocol.
    let one: Vec<User> = c.exec("SELECT * FROM users WHERE id = ?", (2u64,)).unwrap();
    assert_eq!(one, all[1..]);
    let first: User = c.query_one("SELECT * FROM users ORDER BY id").unwrap();
    assert_eq!(first, all[0]);
    let e: User = c
        .exec_one("SELECT * FROM users WHERE name = ?", ("ann",))
        .unwrap();
    assert_eq!(e, all[0]);
    let none: Option<User> = c.query_opt("SELECT * FROM users WHERE id = 3").unwrap();
    assert_eq!(none, None);

    run(async {
        let mut a = AsyncConn::connect(support::url().as_str()).await.unwrap();
        let rows: Vec<User> = a
            .query("SELECT 1 AS id, 'ann' AS name, NULL AS email")
            .await
            .unwrap();
        assert_eq!(rows, all[..1]);
        let u: User = a
            .query_one("SELECT 2 AS id, 'bob' AS name, 'b@x' AS email")
            .await
            .unwrap();
        assert_eq!(u, all[1]);
        let v: Vec<User> = a
            .exec(
                "SELECT ? AS id, ? AS name, ? AS email",
                (2u64, "bob", "b@x"),
            )
            .await
            .unwrap();
        assert_eq!(v, all[1..]);
        // Streamed rows, each converted from the library's buffer as it arrives.
        let mut s = a
            .query_stream::<User>(
                "SELECT 1 AS id, 'ann' AS name, NULL AS email UNION ALL SELECT 2, 'bob', 'b@x'",
            )
            .await
            .unwrap();
        let mut streamed = Vec::new();
        while let Some(user) = s.try_next().await.unwrap() {
            streamed.push(user);
        }
        drop(s);
        assert_eq!(streamed, all);
        let collected: Vec<User> = a
            .query_stream::<User>("SELECT 1 AS id, 'ann' AS name, NULL AS email")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(collected, all[..1]);
    });
}

#[test]
fn missing_column_names_column_struct_and_row() {
    let mut c = conn();
    let m = both_fail::<User>(&mut c, "SELECT 1 AS id, 'ann' AS nom, NULL AS email");
    assert_eq!(
        m,
        "conversion failed: no column `name` for field `User.name`; \
         the row has `id`, `nom`, `email` [the statement ran; connection still usable]",
        "{m}"
    );
    // Async, and through a server-side statement, alike.
    run(async {
        let mut a = AsyncConn::connect(support::url().as_str()).await.unwrap();
        let e = a.query_one::<User>("SELECT 1 AS id").await.unwrap_err();
        let m = conversion(e);
        assert!(m.contains("no column `name` for field `User.name`"), "{m}");
        let e = a.exec::<User, _>("SELECT ? AS id", (1,)).await.unwrap_err();
        let m = conversion(e);
        assert!(m.contains("the row has `id`"), "{m}");
        assert_eq!(a.query_one::<i64>("SELECT 1").await.unwrap(), 1);
    });
}

#[test]
fn missing_column_lists_at_most_32_columns() {
    let mut c = conn();
    let cols: Vec<String> = (0..40).map(|i| format!("{i} AS c{i}")).collect();
    let m = both_fail::<User>(&mut c, &format!("SELECT {}", cols.join(", ")));
    assert!(
        m.contains("`c0`, `c1`") && m.contains("`c31` and 8 more"),
        "{m}"
    );
    assert!(!m.contains("`c32`"), "{m}");
    let m = both_fail::<User>(&mut c, "SELECT 1 AS id, 'a' AS name");
    assert!(
        m.contains("no column `email` for field `User.email`"),
        "{m}"
    );
}

#[test]
fn null_into_option_and_not() {
    let mut c = conn();
    let u: Vec<User> = both(&mut c, "SELECT 1 AS id, 'a' AS name, NULL AS email");
    assert_eq!(u[0].email, None);
    // NULL into a field that is not an Option: the field and column are named.
    let m = both_fail::<User>(&mut c, "SELECT 1 AS id, NULL AS name, NULL AS email");
    assert!(
        m.contains("field `User.name`: column `name`") && m.contains("NULL; use Option<T>"),
        "{m}"
    );
}

#[test]
fn conversion_error_names_field_and_column() {
    let mut c = conn();
    c.query_drop("CREATE TEMPORARY TABLE n (id BIGINT)")
        .unwrap();
    c.query_drop("INSERT INTO n VALUES (-1)").unwrap();
    let m = both_fail::<User>(&mut c, "SELECT id, 'a' AS name, NULL AS email FROM n");
    assert_eq!(
        m,
        "conversion failed: field `User.id`: column `id` (LongLong): cannot convert to u64: \
         value out of range for the target type [the statement ran; connection still usable]",
        "{m}"
    );
}

#[derive(Debug, PartialEq, FromRow)]
struct Renamed {
    #[mysql(rename = "user id")]
    id: u32,
    #[mysql(rename = "NAME")]
    name: String,
    r#type: String,
    // A column may be read by more than one field.
    #[mysql(rename = "user id", try_from = "u32")]
    id_again: u64,
}

#[test]
fn rename() {
    let mut c = conn();
    let r: Vec<Renamed> = both(&mut c, "SELECT 5 AS `user id`, 'x' AS NAME, 't' AS type");
    assert_eq!(
        r,
        [Renamed {
            id: 5,
            name: "x".into(),
            r#type: "t".into(),
            id_again: 5,
        }]
    );
    // Names match exactly: `name` is not `NAME`.
    let m = both_fail::<Renamed>(&mut c, "SELECT 5 AS `user id`, 'x' AS name, 't' AS type");
    assert!(
        m.contains("no column `NAME` for field `Renamed.name`"),
        "{m}"
    );
}

macro_rules! rename_all {
    ($name:ident, $rule:literal) => {
        #[derive(Debug, PartialEq, FromRow)]
        #[mysql(rename_all = $rule)]
        struct $name {
            user_id: u32,
            #[mysql(rename = "kept")]
            display_name: String,
            x: u8,
        }
    };
}

rename_all!(Snake, "snake_case");
rename_all!(Lower, "lowercase");
rename_all!(Upper, "UPPERCASE");
rename_all!(Camel, "camelCase");
rename_all!(Pascal, "PascalCase");
rename_all!(Screaming, "SCREAMING_SNAKE_CASE");

#[test]
fn rename_all_rules() {
    let mut c = conn();
    let sql = |a: &str, x: &str| format!("SELECT 1 AS `{a}`, 'n' AS kept, 2 AS `{x}`");
    let s: Vec<Snake> = both(&mut c, &sql("user_id", "x"));
    assert_eq!(
        (s[0].user_id, s[0].display_name.as_str(), s[0].x),
        (1, "n", 2)
    );
    let l: Vec<Lower> = both(&mut c, &sql("user_id", "x"));
    assert_eq!((l[0].user_id, l[0].x), (1, 2));
    let u: Vec<Upper> = both(&mut c, &sql("USER_ID", "X"));
    assert_eq!((u[0].user_id, u[0].x), (1, 2));
    let cm: Vec<Camel> = both(&mut c, &sql("userId", "x"));
    assert_eq!((cm[0].user_id, cm[0].x), (1, 2));
    let p: Vec<Pascal> = both(&mut c, &sql("UserId", "X"));
    assert_eq!((p[0].user_id, p[0].x), (1, 2));
    let sc: Vec<Screaming> = both(&mut c, &sql("USER_ID", "X"));
    assert_eq!((sc[0].user_id, sc[0].display_name.as_str()), (1, "n"));
    // The field's own name is not tried as well.
    let m = both_fail::<Camel>(&mut c, &sql("user_id", "x"));
    assert!(
        m.contains("no column `userId` for field `Camel.user_id`"),
        "{m}"
    );
}

#[derive(Debug, PartialEq, FromRow)]
struct Defaults {
    id: u32,
    #[mysql(default)]
    count: u32,
    #[mysql(default)]
    note: Option<String>,
    #[mysql(default, rename = "tag list")]
    tags: String,
}

#[test]
fn default_for_a_missing_column() {
    let mut c = conn();
    let d: Vec<Defaults> = both(&mut c, "SELECT 1 AS id");
    assert_eq!(
        d,
        [Defaults {
            id: 1,
            count: 0,
            note: None,
            tags: String::new(),
        }]
    );
    let d: Vec<Defaults> = both(
        &mut c,
        "SELECT 1 AS id, 9 AS count, 'n' AS note, 'a,b' AS `tag list`",
    );
    assert_eq!(
        (d[0].count, d[0].note.as_deref(), d[0].tags.as_str()),
        (9, Some("n"), "a,b")
    );
    // A NULL in a column that is there is not "missing".
    let m = both_fail::<Defaults>(&mut c, "SELECT 1 AS id, NULL AS count");
    assert!(
        m.contains("field `Defaults.count`") && m.contains("NULL"),
        "{m}"
    );
    let d: Vec<Defaults> = both(&mut c, "SELECT 1 AS id, NULL AS note");
    assert_eq!(d[0].note, None);
}

#[derive(Debug, PartialEq, FromRow)]
struct OptionalNoDefault {
    id: u32,
    note: Option<String>,
}

#[test]
fn option_needs_its_column_unless_default() {
    let mut c = conn();
    let m = both_fail::<OptionalNoDefault>(&mut c, "SELECT 1 AS id");
    assert!(
        m.contains("no column `note` for field `OptionalNoDefault.note`"),
        "{m}"
    );
}

#[derive(Debug, PartialEq, FromRow)]
struct Audit {
    created_by: String,
    #[mysql(default)]
    revision: u32,
}

#[derive(Debug, PartialEq, FromRow)]
struct Owner {
    #[mysql(rename = "owner")]
    name: String,
}

#[derive(Debug, PartialEq, FromRow)]
struct Document {
    #[mysql(flatten)]
    audit: Audit,
    id: u64,
    #[mysql(flatten)]
    owner: Owner,
}

#[derive(Debug, PartialEq, FromRow)]
struct Outer {
    #[mysql(flatten)]
    doc: Document,
    #[mysql(default)]
    extra: i8,
}

#[test]
fn flatten() {
    let mut c = conn();
    // A flattened tuple reads the whole row by position: a two-column row here.
    #[derive(Debug, PartialEq, FromRow)]
    struct Two {
        #[mysql(flatten)]
        pair: (i64, String),
        #[mysql(rename = "b")]
        also_b: String,
    }
    let t: Vec<Two> = both(&mut c, "SELECT 1 AS a, 'x' AS b");
    assert_eq!(
        t,
        [Two {
            pair: (1, "x".into()),
            also_b: "x".into(),
        }]
    );

    #[derive(Debug, PartialEq, FromRow)]
    struct Flat {
        id: u64,
        #[mysql(flatten)]
        audit: Audit,
        #[mysql(flatten)]
        owner: Owner,
    }
    let f: Vec<Flat> = both(
        &mut c,
        "SELECT 3 AS id, 'ann' AS created_by, 'bob' AS owner",
    );
    assert_eq!(
        f,
        [Flat {
            id: 3,
            audit: Audit {
                created_by: "ann".into(),
                revision: 0,
            },
            owner: Owner { name: "bob".into() },
        }]
    );
    // Nested: a flattened struct that flattens in turn; its errors name the inner
    // struct.
    let m = both_fail::<Outer>(&mut c, "SELECT 3 AS id, 'bob' AS owner");
    assert!(
        m.contains("no column `created_by` for field `Audit.created_by`"),
        "{m}"
    );
    let m = both_fail::<Flat>(&mut c, "SELECT 3 AS id, 'ann' AS created_by, 4 AS revision");
    assert!(
        m.contains("no column `owner` for field `Owner.name`"),
        "{m}"
    );
}

#[derive(Debug, PartialEq)]
struct Level(u8);

impl TryFrom<i64> for Level {
    type Error = String;
    fn try_from(n: i64) -> Result<Level, String> {
        match u8::try_from(n) {
            Ok(l) if l <= 10 => Ok(Level(l)),
            _ => Err(format!("{n} is not a level (0 to 10)")),
        }
    }
}

#[derive(Debug, PartialEq, FromRow)]
struct Converted {
    #[mysql(try_from = "i64")]
    small: u8,
    #[mysql(try_from = "i64")]
    level: Level,
    #[mysql(try_from = "String", default)]
    label: Box<str>,
    #[mysql(try_from = "Option<i64>", rename = "maybe")]
    maybe_level: Option<i64>,
}

#[test]
fn try_from() {
    let mut c = conn();
    let v: Vec<Converted> = both(
        &mut c,
        "SELECT 200 AS small, 3 AS level, 'l' AS label, NULL AS maybe",
    );
    assert_eq!(
        v,
        [Converted {
            small: 200,
            level: Level(3),
            label: "l".into(),
            maybe_level: None,
        }]
    );
    let v: Vec<Converted> = both(&mut c, "SELECT 0 AS small, 0 AS level, 5 AS maybe");
    assert_eq!((v[0].label.as_ref(), v[0].maybe_level), ("", Some(5)));
    // i64 300 into u8: TryFrom fails; column, field and both types are named.
    c.query_drop("CREATE TEMPORARY TABLE n (small BIGINT)")
        .unwrap();
    c.query_drop("INSERT INTO n VALUES (300)").unwrap();
    let m = both_fail::<Converted>(&mut c, "SELECT small, 3 AS level, NULL AS maybe FROM n");
    assert_eq!(
        m,
        "conversion failed: field `Converted.small`: column `small` (LongLong): read as i64, \
         cannot convert to u8: out of range integral type conversion attempted \
         [the statement ran; connection still usable]",
        "{m}"
    );
    let m = both_fail::<Converted>(&mut c, "SELECT 1 AS small, 11 AS level, NULL AS maybe");
    assert!(
        m.contains("field `Converted.level`: column `level`")
            && m.contains("11 is not a level (0 to 10)"),
        "{m}"
    );
    // The first step (the column into i64) fails as a plain conversion does.
    let m = both_fail::<Converted>(&mut c, "SELECT 'abc' AS small, 1 AS level, NULL AS maybe");
    assert!(
        m.contains("field `Converted.small`: column `small`")
            && m.contains("cannot convert to i64"),
        "{m}"
    );
}

#[derive(Debug, PartialEq, FromRow)]
struct Skipped {
    id: u32,
    #[mysql(skip)]
    cache: Vec<u8>,
    #[mysql(skip)]
    id2: u32,
}

#[test]
fn skip() {
    let mut c = conn();
    // `id2` exists in the row but is never read (it would not even convert).
    let s: Vec<Skipped> = both(
        &mut c,
        "SELECT 1 AS id, 'x' AS cache, 'not a number' AS id2",
    );
    assert_eq!(
        s,
        [Skipped {
            id: 1,
            cache: Vec::new(),
            id2: 0,
        }]
    );
}

#[derive(Debug, PartialEq, FromRow)]
struct Pair(u64, #[mysql(try_from = "i64")] i8, Option<String>);

#[test]
fn tuple_struct_by_position() {
    let mut c = conn();
    let p: Vec<Pair> = both(&mut c, "SELECT 1 AS a, -2 AS b, NULL AS c");
    assert_eq!(p, [Pair(1, -2, None)]);
    let m = both_fail::<Pair>(&mut c, "SELECT 1, 2");
    assert_eq!(
        m, "conversion failed: row has 2 columns but `Pair` has 3 fields [the statement ran; connection still usable]",
        "{m}"
    );
    let m = both_fail::<Pair>(&mut c, "SELECT 1 AS a, 300 AS b, NULL AS c");
    assert!(m.contains("field `Pair.1`: column `b`"), "{m}");
}

#[derive(Debug, PartialEq, FromRow)]
struct Page<T, M: Default> {
    items: T,
    #[mysql(default)]
    meta: M,
    #[mysql(flatten)]
    owner: Owner,
}

#[test]
fn generic_struct() {
    let mut c = conn();
    let p: Vec<Page<String, Option<i32>>> = both(&mut c, "SELECT 'a' AS items, 'ann' AS owner");
    assert_eq!(
        p,
        [Page {
            items: "a".to_string(),
            meta: None,
            owner: Owner { name: "ann".into() },
        }]
    );
    let p: Vec<Page<i64, u8>> = both(&mut c, "SELECT 7 AS items, 4 AS meta, 'bob' AS owner");
    assert_eq!((p[0].items, p[0].meta), (7, 4));
}

mod renamed {
    pub use mysqlclient_async as db;
}

#[derive(Debug, PartialEq, FromRow)]
#[mysql(crate = "renamed::db")]
struct ThroughPath {
    id: i32,
}

#[test]
fn crate_path() {
    let mut c = conn();
    let t: Vec<ThroughPath> = both(&mut c, "SELECT 4 AS id");
    assert_eq!(t, [ThroughPath { id: 4 }]);
}
