//! Values: every MySQL/MariaDB column type, read into each matching Rust
//! type, with edge values, and the errors a mismatch gives.

mod support;

use mysqlclient_async::{AsyncConn, Conn, Date, DateTime, Decimal, ErrorKind, Row, Time, Value};

fn conn() -> Conn {
    let mut c = Conn::connect(support::url().as_str()).expect("connect to the test server");
    // Zero dates need a mode without NO_ZERO_DATE; TIMESTAMPs a fixed zone.
    c.query_drop("SET SESSION sql_mode = 'STRICT_ALL_TABLES', time_zone = '+00:00'")
        .unwrap();
    c
}

/// Create a temporary table (private to the connection), fill it with `values`
/// (one SQL row each) and read it back, in insertion order.
fn table(c: &mut Conn, columns: &str, rows: &[&str]) -> Vec<Row> {
    c.query_drop("DROP TEMPORARY TABLE IF EXISTS v").unwrap();
    c.query_drop(&format!(
        "CREATE TEMPORARY TABLE v (id INT AUTO_INCREMENT PRIMARY KEY, {columns}) \
         CHARACTER SET utf8mb4"
    ))
    .unwrap();
    let names: Vec<&str> = split_columns(columns);
    for r in rows {
        c.query_drop(&format!(
            "INSERT INTO v ({}) VALUES ({r})",
            names.join(", ")
        ))
        .unwrap_or_else(|e| panic!("insert ({r}): {e}"));
    }
    c.query(&format!("SELECT {} FROM v ORDER BY id", names.join(", ")))
        .unwrap()
}

/// The column names of a `name TYPE, name TYPE …` list (types may contain commas
/// inside parentheses).
fn split_columns(columns: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, ch) in columns.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(columns[start..i].split_whitespace().next().unwrap());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(columns[start..].split_whitespace().next().unwrap());
    out
}

/// The message of a failed `try_get`.
fn err<T: std::fmt::Debug>(r: mysqlclient_async::Result<T>) -> String {
    let e = r.expect_err("the conversion should fail");
    assert_eq!(e.kind(), ErrorKind::Conversion, "{e}");
    assert!(!e.is_fatal());
    e.to_string()
}

#[test]
fn integers_signed_and_unsigned() {
    let mut c = conn();
    let rows = table(
        &mut c,
        "ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, \
         mi MEDIUMINT, mu MEDIUMINT UNSIGNED, ii INT, iu INT UNSIGNED, \
         bi BIGINT, bu BIGINT UNSIGNED",
        &[
            "-128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0",
            "127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, \
             9223372036854775807, 18446744073709551615",
            "0, 1, 0, 1, 0, 1, 0, 1, 0, 1",
        ],
    );
    let (min, max, small) = (&rows[0], &rows[1], &rows[2]);
    assert_eq!(min.get::<i8>("ti"), i8::MIN);
    assert_eq!(max.get::<i8>("ti"), i8::MAX);
    assert_eq!(max.get::<u8>("tu"), u8::MAX);
    assert_eq!(min.get::<i16>("si"), i16::MIN);
    assert_eq!(max.get::<u16>("su"), u16::MAX);
    assert_eq!(min.get::<i32>("mi"), -8388608);
    assert_eq!(max.get::<u32>("mu"), 16777215);
    assert_eq!(min.get::<i32>("ii"), i32::MIN);
    assert_eq!(max.get::<u32>("iu"), u32::MAX);
    assert_eq!(min.get::<i64>("bi"), i64::MIN);
    assert_eq!(max.get::<i64>("bi"), i64::MAX);
    assert_eq!(max.get::<u64>("bu"), u64::MAX);
    assert_eq!(max.get::<i128>("bu"), u64::MAX as i128);
    assert_eq!(min.get::<isize>("bi"), isize::MIN);
    // Wider targets, floats, exact decimals, strings, Value.
    assert_eq!(max.get::<i64>("tu"), 255);
    assert_eq!(max.get::<f64>("ii"), 2147483647.0);
    assert_eq!(max.get::<Decimal>("bu").as_str(), "18446744073709551615");
    assert_eq!(min.get::<String>("bi"), "-9223372036854775808");
    assert_eq!(min.get::<Value>("bi"), Value::Int(i64::MIN));
    assert_eq!(max.get::<Value>("bu"), Value::UInt(u64::MAX));
    assert_eq!(max.get::<Value>("tu"), Value::UInt(255));
    assert!(!small.get::<bool>("ti") && small.get::<bool>("tu"));
    let col = &max.columns()[9];
    assert!(col.is_unsigned());

    // Overflow names the column.
    let m = err(max.try_get::<i64>("bu"));
    assert!(
        m.contains("column `bu`") && m.contains("out of range"),
        "{m}"
    );
    let m = err(max.try_get::<i8>("si"));
    assert!(
        m.contains("column `si`") && m.contains("out of range"),
        "{m}"
    );
    let m = err(min.try_get::<u64>("ti"));
    assert!(
        m.contains("column `ti`") && m.contains("out of range"),
        "{m}"
    );
    let m = err(max.try_get::<bool>("tu"));
    assert!(m.contains("column `tu`"), "{m}");
    // Wrong type.
    let m = err(min.try_get::<Date>("ii"));
    assert!(m.contains("column `ii`") && m.contains("wrong type"), "{m}");
    let m = err(min.try_get::<Vec<u8>>("nope"));
    assert!(m.contains("no column `nope`"), "{m}");
}

#[test]
fn year_and_bit() {
    let mut c = conn();
    let rows = table(
        &mut c,
        "y YEAR, b1 BIT(1), b8 BIT(8), b12 BIT(12), b64 BIT(64)",
        &[
            "1901, b'0', b'0', b'0', b'0'",
            "2155, b'1', b'10101010', b'111111111111', 18446744073709551615",
            "0000, b'1', 1, 256, 1",
        ],
    );
    assert_eq!(rows[0].get::<u16>("y"), 1901);
    assert_eq!(rows[1].get::<i32>("y"), 2155);
    assert_eq!(rows[2].get::<u16>("y"), 0);
    assert_eq!(rows[1].get::<Value>("y"), Value::UInt(2155));

    assert!(!rows[0].get::<bool>("b1"));
    assert!(rows[1].get::<bool>("b1"));
    assert_eq!(rows[1].get::<u8>("b8"), 0b1010_1010);
    assert_eq!(rows[1].get::<u16>("b12"), 0xfff);
    assert_eq!(rows[2].get::<u16>("b12"), 256);
    assert_eq!(rows[1].get::<u64>("b64"), u64::MAX);
    assert_eq!(rows[1].get::<Value>("b64"), Value::UInt(u64::MAX));
    // The raw bytes: big-endian, as many as the width needs.
    assert_eq!(rows[1].get::<Vec<u8>>("b12"), vec![0x0f, 0xff]);
    assert_eq!(rows[1].get::<&[u8]>("b8"), &[0xaa]);
    let m = err(rows[1].try_get::<i64>("b64"));
    assert!(
        m.contains("column `b64`") && m.contains("out of range"),
        "{m}"
    );
    let m = err(rows[1].try_get::<u8>("b12"));
    assert!(m.contains("column `b12`"), "{m}");
    let m = err(rows[1].try_get::<String>("b8"));
    assert!(m.contains("column `b8`") && m.contains("binary"), "{m}");
}

#[test]
fn floats_and_doubles() {
    let mut c = conn();
    let rows = table(
        &mut c,
        "f FLOAT, d DOUBLE",
        &[
            "0, 0",
            "-1.5, -1.5",
            "3.40282e38, 1.7976931348623157e308",
            "1.17549e-38, 2.2250738585072014e-308",
            "0.1, 0.1",
            "-3.40282e38, 5e-324",
        ],
    );
    assert_eq!(rows[0].get::<f32>("f"), 0.0);
    assert_eq!(rows[1].get::<f32>("f"), -1.5);
    assert_eq!(rows[1].get::<f64>("d"), -1.5);
    assert_eq!(rows[2].get::<f32>("f"), 3.40282e38);
    assert_eq!(rows[2].get::<f64>("d"), f64::MAX);
    assert_eq!(rows[3].get::<f64>("d"), f64::MIN_POSITIVE);
    assert_eq!(rows[4].get::<f32>("f"), 0.1f32);
    assert_eq!(rows[4].get::<f64>("d"), 0.1);
    assert_eq!(rows[5].get::<f64>("d"), 5e-324);
    assert_eq!(rows[4].get::<Value>("f"), Value::Float(0.1));
    assert_eq!(rows[4].get::<Value>("d"), Value::Double(0.1));
    // A DOUBLE beyond f32's range does not silently become infinity.
    let m = err(rows[2].try_get::<f32>("d"));
    assert!(
        m.contains("column `d`") && m.contains("out of range"),
        "{m}"
    );
    let m = err(rows[1].try_get::<i64>("d"));
    assert!(m.contains("column `d`") && m.contains("wrong type"), "{m}");
    let m = err(rows[1].try_get::<Decimal>("d"));
    assert!(m.contains("approximate"), "{m}");
}

#[test]
fn decimals_are_exact() {
    let mut c = conn();
    let big = format!("{}.{}", "9".repeat(35), "9".repeat(30));
    let rows = table(
        &mut c,
        "d DECIMAL(65,30), m DECIMAL(10,2), i DECIMAL(20,0)",
        &[
            &format!("{big}, -12.50, 12345678901234567890"),
            &format!("-{big}, 0, -1"),
            "0.000000000000000000000000000001, 0.01, 0",
        ],
    );
    assert_eq!(rows[0].get::<Decimal>("d").as_str(), big);
    assert_eq!(rows[1].get::<Decimal>("d").as_str(), format!("-{big}"));
    assert_eq!(
        rows[2].get::<Decimal>("d").as_str(),
        "0.000000000000000000000000000001"
    );
    let m: Decimal = rows[0].get("m");
    assert_eq!(
        (m.as_str(), m.scale(), m.is_negative()),
        ("-12.50", 2, true)
    );
    assert_eq!(rows[1].get::<Decimal>("m").as_str(), "0.00");
    assert_eq!(rows[0].get::<f64>("m"), -12.5);
    assert_eq!(rows[0].get::<u64>("i"), 12345678901234567890);
    assert_eq!(rows[1].get::<i8>("i"), -1);
    assert_eq!(rows[1].get::<i64>("m"), 0, "0.00 has no fraction");
    assert_eq!(rows[0].get::<String>("m"), "-12.50");
    assert_eq!(
        rows[0].get::<Value>("m"),
        Value::Decimal("-12.50".parse().unwrap())
    );
    // Exactness: a fraction does not silently truncate into an integer.
    let m = err(rows[0].try_get::<i64>("m"));
    assert!(m.contains("column `m`") && m.contains("fraction"), "{m}");
    let m = err(rows[0].try_get::<i64>("i"));
    assert!(
        m.contains("column `i`") && m.contains("out of range"),
        "{m}"
    );
}

#[cfg(feature = "rust_decimal")]
#[test]
fn rust_decimal_feature() {
    let mut c = conn();
    let (a, b): (rust_decimal::Decimal, Option<rust_decimal::Decimal>) = c
        .query_one("SELECT CAST(-12.50 AS DECIMAL(10,2)), CAST(NULL AS DECIMAL)")
        .unwrap();
    assert_eq!(a.to_string(), "-12.50");
    assert_eq!(b, None);
    let e = c
        .query_one::<rust_decimal::Decimal>(&format!(
            "SELECT CAST({} AS DECIMAL(65,0))",
            "9".repeat(60)
        ))
        .unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
    let back: rust_decimal::Decimal = c.exec_one("SELECT ?", (a,)).unwrap();
    assert_eq!(back, a);
}

#[test]
fn dates_times_datetimes() {
    let mut c = conn();
    let rows = table(
        &mut c,
        "d DATE, t TIME(6), dt DATETIME(6), ts TIMESTAMP(6) NULL, t0 TIME",
        &[
            "'0000-00-00', '-838:59:59', '0000-00-00 00:00:00', '1970-01-01 00:00:01', '00:00:00'",
            "'1000-01-01', '838:59:59', '1000-01-01 00:00:00', '2038-01-19 03:14:07.999999', '-00:00:01'",
            "'9999-12-31', '23:59:59.999999', '9999-12-31 23:59:59.999999', NULL, '100:00:00'",
            "'2024-02-29', '-00:00:00.5', '2024-02-29 12:34:56.000001', '2000-01-01', '-01:02:03'",
        ],
    );
    // DATE
    assert_eq!(rows[0].get::<Date>("d"), Date::ZERO);
    assert!(rows[0].get::<Date>("d").has_zero_part());
    assert_eq!(rows[1].get::<Date>("d"), Date::new(1000, 1, 1).unwrap());
    assert_eq!(rows[2].get::<Date>("d"), Date::new(9999, 12, 31).unwrap());
    assert_eq!(rows[3].get::<Date>("d").to_string(), "2024-02-29");
    assert_eq!(
        rows[3].get::<DateTime>("d"),
        DateTime::from(Date::new(2024, 2, 29).unwrap())
    );
    // TIME: negative, over 24 hours, microseconds.
    let t: Time = rows[0].get("t");
    assert!(t.is_negative());
    assert_eq!(
        (t.hours(), t.minutes(), t.seconds(), t.micros()),
        (838, 59, 59, 0)
    );
    assert_eq!(
        rows[1].get::<Time>("t"),
        Time::new(false, 838, 59, 59, 0).unwrap()
    );
    assert_eq!(rows[2].get::<Time>("t").to_string(), "23:59:59.999999");
    let half = rows[3].get::<Time>("t");
    assert_eq!((half.is_negative(), half.micros()), (true, 500_000));
    assert_eq!(half.as_micros(), -500_000);
    assert_eq!(rows[0].get::<Time>("t0"), Time::default());
    assert_eq!(rows[1].get::<Time>("t0").as_micros(), -1_000_000);
    assert_eq!(rows[2].get::<Time>("t0").hours(), 100);
    assert_eq!(rows[3].get::<Time>("t0").to_string(), "-01:02:03");
    assert_eq!(rows[0].get::<String>("t0"), "00:00:00");
    // DATETIME(6)
    assert_eq!(rows[0].get::<DateTime>("dt"), DateTime::from(Date::ZERO));
    let dt: DateTime = rows[2].get("dt");
    assert_eq!(dt.to_string(), "9999-12-31 23:59:59.999999");
    assert_eq!(
        (dt.hour(), dt.minute(), dt.second(), dt.micros()),
        (23, 59, 59, 999_999)
    );
    assert_eq!(rows[3].get::<DateTime>("dt").micros(), 1);
    // TIMESTAMP (session time zone UTC)
    assert_eq!(
        rows[0].get::<DateTime>("ts").to_string(),
        "1970-01-01 00:00:01"
    );
    assert_eq!(
        rows[1].get::<DateTime>("ts").to_string(),
        "2038-01-19 03:14:07.999999"
    );
    assert_eq!(rows[2].get::<Option<DateTime>>("ts"), None);
    // Value
    assert_eq!(rows[0].get::<Value>("d"), Value::Date(Date::ZERO));
    assert_eq!(rows[0].get::<Value>("t"), Value::Time(t));
    assert_eq!(rows[2].get::<Value>("dt"), Value::DateTime(dt));
    assert_eq!(rows[2].get::<Value>("ts"), Value::Null);
    // Mismatches
    let m = err(rows[0].try_get::<Date>("t"));
    assert!(m.contains("column `t`") && m.contains("not a DATE"), "{m}");
    let m = err(rows[0].try_get::<Time>("dt"));
    assert!(m.contains("column `dt`") && m.contains("not a TIME"), "{m}");
    let m = err(rows[0].try_get::<DateTime>("t"));
    assert!(m.contains("column `t`"), "{m}");
    let m = err(rows[2].try_get::<DateTime>("ts"));
    assert!(m.contains("column `ts`") && m.contains("NULL"), "{m}");
    let m = err(rows[0].try_get::<i64>("d"));
    assert!(m.contains("column `d`") && m.contains("wrong type"), "{m}");
}

#[cfg(feature = "chrono")]
#[test]
fn chrono_feature() {
    use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
    let mut c = conn();
    let (d, t, dt, td): (NaiveDate, NaiveTime, NaiveDateTime, TimeDelta) = c
        .query_one(
            "SELECT DATE '2024-02-29', CAST('23:59:59.999999' AS TIME(6)), \
             CAST('2024-02-29 12:34:56.000001' AS DATETIME(6)), \
             CAST('-838:59:59' AS TIME)",
        )
        .unwrap();
    assert_eq!(d, NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
    assert_eq!(
        t,
        NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap()
    );
    assert_eq!(dt, d.and_hms_micro_opt(12, 34, 56, 1).unwrap());
    assert_eq!(td, -TimeDelta::seconds(838 * 3600 + 59 * 60 + 59));
    let e = c
        .query_one::<NaiveDate>("SELECT CAST('0000-00-00' AS DATE)")
        .unwrap_err();
    assert!(e.to_string().contains("not a calendar date"), "{e}");
    let e = c
        .query_one::<NaiveTime>("SELECT CAST('25:00:00' AS TIME)")
        .unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
    let back: (NaiveDate, NaiveTime, NaiveDateTime, TimeDelta) = c
        .exec_one(
            "SELECT CAST(? AS DATE), CAST(? AS TIME(6)), CAST(? AS DATETIME(6)), CAST(? AS TIME)",
            (d, t, dt, td),
        )
        .unwrap();
    assert_eq!(back, (d, t, dt, td));
}

#[cfg(feature = "time")]
#[test]
fn time_feature() {
    let mut c = conn();
    let (d, t, dt, dur): (
        time::Date,
        time::Time,
        time::PrimitiveDateTime,
        time::Duration,
    ) = c
        .query_one(
            "SELECT DATE '2024-02-29', CAST('23:59:59.999999' AS TIME(6)), \
             CAST('2024-02-29 12:34:56.000001' AS DATETIME(6)), \
             CAST('-100:00:00.5' AS TIME(1))",
        )
        .unwrap();
    assert_eq!(d.to_string(), "2024-02-29");
    assert_eq!(t.microsecond(), 999_999);
    assert_eq!(dt.microsecond(), 1);
    assert_eq!(dur.whole_milliseconds(), -360_000_500);
    let back: (time::Date, time::Time, time::PrimitiveDateTime, time::Duration) = c
        .exec_one(
            "SELECT CAST(? AS DATE), CAST(? AS TIME(6)), CAST(? AS DATETIME(6)), CAST(? AS TIME(6))",
            (d, t, dt, dur),
        )
        .unwrap();
    assert_eq!(back, (d, t, dt, dur));
}

#[test]
fn text_types_are_charset_aware() {
    let mut c = conn();
    let rows = table(
        &mut c,
        "ch CHAR(10), vc VARCHAR(255), tx TEXT, vb VARCHAR(20) COLLATE utf8mb4_bin, \
         e ENUM('a','b','ü'), s SET('x','y','z'), j JSON, l VARCHAR(10) CHARACTER SET latin1",
        &[
            "'', '', '', '', 'a', '', '[]', ''",
            "'abc', 'héllo 😀', '😀👍🏽 emoji', 'Bin', 'ü', 'x,z', '{\"k\": [1, \"😀\"]}', 'ÿ'",
            "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
        ],
    );
    let (empty, full, null) = (&rows[0], &rows[1], &rows[2]);
    for col in ["ch", "vc", "tx", "vb", "s", "l"] {
        assert_eq!(empty.get::<String>(col), "", "{col}");
        assert_eq!(empty.get::<&str>(col), "", "{col}");
        assert_eq!(null.get::<Option<String>>(col), None, "{col}");
        assert_eq!(null.get::<Option<&str>>(col), None, "{col}");
        let m = err(null.try_get::<String>(col));
        assert!(
            m.contains(&format!("column `{col}`")) && m.contains("NULL"),
            "{m}"
        );
    }
    assert_eq!(full.get::<String>("ch"), "abc");
    assert_eq!(full.get::<String>("vc"), "héllo 😀");
    assert_eq!(full.get::<&str>("tx"), "😀👍🏽 emoji");
    // A binary *collation* of a text charset is still text.
    assert_eq!(full.get::<String>("vb"), "Bin");
    assert_eq!(full.get::<String>("e"), "ü");
    assert_eq!(full.get::<String>("s"), "x,z");
    assert_eq!(
        full.get::<String>("l"),
        "ÿ",
        "latin1 is converted to utf8mb4"
    );
    let j: String = full.get("j");
    assert_eq!(j, r#"{"k": [1, "😀"]}"#);
    assert_eq!(full.get::<Value>("vc"), Value::Text("héllo 😀".into()));
    assert_eq!(full.get::<Vec<u8>>("vc"), "héllo 😀".as_bytes());
    assert_eq!(null.get::<Value>("j"), Value::Null);
    let m = err(full.try_get::<i64>("vc"));
    assert!(m.contains("column `vc`") && m.contains("wrong type"), "{m}");
    let m = err(full.try_get::<f64>("e"));
    assert!(m.contains("column `e`"), "{m}");

    // Without result conversion the latin1 byte arrives as is: not UTF-8.
    c.query_drop("SET character_set_results = NULL").unwrap();
    let row: Row = c.query_one("SELECT l FROM v WHERE id = 2").unwrap();
    let m = err(row.try_get::<String>("l"));
    assert!(
        m.contains("column `l`") && m.contains("invalid UTF-8"),
        "{m}"
    );
    assert_eq!(row.get::<Vec<u8>>("l"), vec![0xff]);
    assert_eq!(row.get::<Value>("l"), Value::Bytes(vec![0xff]));
}

#[cfg(feature = "serde_json")]
#[test]
fn serde_json_feature() {
    let mut c = conn();
    let v: serde_json::Value = c
        .query_one(r#"SELECT JSON_OBJECT('k', JSON_ARRAY(1, '😀'))"#)
        .unwrap();
    assert_eq!(v, serde_json::json!({"k": [1, "😀"]}));
    let back: serde_json::Value = c.exec_one("SELECT ?", (&v,)).unwrap();
    assert_eq!(back, v);
    let e = c
        .query_one::<serde_json::Value>("SELECT 'not json'")
        .unwrap_err();
    assert!(e.to_string().contains("not JSON"), "{e}");
}

#[test]
fn binary_types_are_bytes() {
    let mut c = conn();
    let rows = table(
        &mut c,
        "bn BINARY(4), vb VARBINARY(20), bl BLOB, cb VARCHAR(10) CHARACTER SET binary, g GEOMETRY",
        &[
            "X'00ff', X'', X'', '', NULL",
            "X'00ff0a27', X'5c27223f00', X'0001fffe', 'abc', ST_GeomFromText('POINT(1 2)')",
        ],
    );
    // BINARY pads with zero bytes.
    assert_eq!(rows[0].get::<Vec<u8>>("bn"), vec![0, 0xff, 0, 0]);
    assert_eq!(rows[0].get::<&[u8]>("vb"), b"");
    assert_eq!(rows[0].get::<Vec<u8>>("bl"), Vec::<u8>::new());
    assert_eq!(rows[0].get::<Option<Vec<u8>>>("g"), None);
    assert_eq!(rows[1].get::<Vec<u8>>("bn"), vec![0, 0xff, 0x0a, 0x27]);
    assert_eq!(rows[1].get::<&[u8]>("vb"), b"\\'\"?\0");
    assert_eq!(rows[1].get::<Vec<u8>>("bl"), vec![0, 1, 0xff, 0xfe]);
    assert_eq!(rows[1].get::<&[u8]>("cb"), b"abc");
    assert_eq!(
        rows[1].get::<Value>("bl"),
        Value::Bytes(vec![0, 1, 0xff, 0xfe])
    );
    // GEOMETRY: SRID (4 bytes) + WKB point (1 + 4 + 16 bytes).
    let g: Vec<u8> = rows[1].get("g");
    assert_eq!(g.len(), 25);
    assert_eq!(&g[4..9], &[1, 1, 0, 0, 0]);
    assert_eq!(f64::from_le_bytes(g[9..17].try_into().unwrap()), 1.0);
    // Binary strings are bytes, not text.
    for col in ["bn", "vb", "bl", "cb", "g"] {
        let m = err(rows[1].try_get::<String>(col));
        assert!(
            m.contains(&format!("column `{col}`")) && m.contains("binary column"),
            "{m}"
        );
        let m = err(rows[1].try_get::<&str>(col));
        assert!(m.contains(&format!("column `{col}`")), "{m}");
    }
}

/// The widest tuple `FromRow` supports.
type Twelve = (
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    f32,
    f64,
    String,
    Option<i32>,
);

#[test]
fn null_column_and_options() {
    let mut c = conn();
    let row: Row = c
        .query_one("SELECT NULL AS n, 1 AS one, CAST(NULL AS DATE) AS nd")
        .unwrap();
    assert_eq!(row.get::<Option<i64>>("n"), None);
    assert_eq!(row.get::<Option<String>>("n"), None);
    assert_eq!(row.get::<Option<Date>>("nd"), None);
    assert_eq!(row.get::<Option<i64>>("one"), Some(1));
    assert_eq!(row.get::<Value>("n"), Value::Null);
    let m = err(row.try_get::<i64>("n"));
    assert!(
        m.contains("column `n`") && m.contains("NULL; use Option"),
        "{m}"
    );
    let m = err(row.try_get::<Vec<u8>>("nd"));
    assert!(m.contains("column `nd`") && m.contains("NULL"), "{m}");
    // Tuples of up to 12 columns, with the column named in errors.
    let t: Twelve = c
        .query_one("SELECT 1, 2, 3, 4, 5, 6, 7, 8, 9.5, 10.25e0, 'eleven', NULL")
        .unwrap();
    assert_eq!(
        t,
        (1, 2, 3, 4, 5, 6, 7, 8, 9.5, 10.25, "eleven".into(), None)
    );
    let e = c
        .query_one::<(i64, i64)>("SELECT 1 AS a, 'x' AS b")
        .unwrap_err();
    assert!(e.to_string().contains("column `b`"), "{e}");
    let e = c.query_one::<(i64, i64)>("SELECT 1").unwrap_err();
    assert!(
        e.to_string()
            .contains("1 columns but the target tuple has 2"),
        "{e}"
    );
}

#[test]
fn values_through_the_async_api() {
    support::block_on(async {
        let mut c = AsyncConn::connect(support::url().as_str()).await.unwrap();
        let (d, t, dt, dec, b): (Date, Time, DateTime, Decimal, Vec<u8>) = c
            .query_one(
                "SELECT DATE '2024-02-29', CAST('-838:59:59' AS TIME), \
                 CAST('9999-12-31 23:59:59.999999' AS DATETIME(6)), 12.50, X'00ff'",
            )
            .await
            .unwrap();
        assert_eq!(d.to_string(), "2024-02-29");
        assert_eq!(t.to_string(), "-838:59:59");
        assert_eq!(dt.micros(), 999_999);
        assert_eq!(dec.as_str(), "12.50");
        assert_eq!(b, [0, 255]);

        // Streaming rows are read in place: &str and &[u8] borrow the library's buffer.
        let mut s = c
            .query_stream::<Row>("SELECT 'héllo 😀', X'00ff', 7 UNION ALL SELECT 'b', X'', 8")
            .await
            .unwrap();
        let mut seen = Vec::new();
        while let Some(row) = s.try_next().await.transpose() {
            let row = row.unwrap();
            let text: &str = row.get(0);
            let bytes: &[u8] = row.get(1);
            let n: i64 = row.get(2);
            seen.push((text.to_owned(), bytes.to_vec(), n));
            let e = row.try_get::<&str>(1).unwrap_err();
            assert!(e.to_string().contains("binary column"), "{e}");
        }
        assert_eq!(
            seen,
            vec![
                ("héllo 😀".to_owned(), vec![0, 255], 7),
                ("b".to_owned(), vec![], 8)
            ]
        );
        c.close().await.unwrap();
    });
}
