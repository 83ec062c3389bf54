//! Prepared statements over the binary protocol: the `stmt_read`, `point_select`,
//! `insert_batch` and `pool_exec` sections.
//!
//! - `stmt_read`: one read of `--stmt-rows` rows x 5 columns through a statement
//!   with one parameter (`WHERE id > ?`, bound to 0);
//! - `point_select`: one row by primary key (`WHERE id = ?`, ids varying), c = 1
//!   and 16 connections, one task each (threads for the sync `mysql` crate);
//! - `insert_batch`: `--batch-rows` rows of 5 columns into an emptied table, in one
//!   transaction;
//! - `pool_exec`: c = 16 tasks looping {check out, `SELECT CAST(? AS SIGNED) + 1`,
//!   return} on a pool of 16.
//!
//! Our binary-protocol rows (`ours`, `ours-reset`) need the library's statement API
//! (prepared `exec`, `exec_batch`, the pool's `always_reset`): the `stmt-api`
//! feature. `ours-text` is our text-protocol path as a reference: `query` for the
//! read, `exec` with client-side parameters otherwise (today's `exec`; with
//! `stmt-api`, the `client_side_params=true` URL option). Every driver keeps its
//! statements in its own per-connection cache, at its default size.
//!
//! The peers are built without chrono/time support (which would change the
//! workspace's Cargo.lock): a DATETIME(6) is read as each driver's own value (ours
//! `DateTime`, mysql_async `Value::Date`, sqlx the binary value's bytes, decoded
//! here the way sqlx-mysql's chrono support does), and sqlx binds it as text, which
//! the server converts.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysqlclient_async_bench::{fmt_num, Measurement, Rounds, Table};

use super::{measure_window, note, prepare_rows_table, Config, R};

/// The table read by `stmt_read` and `point_select` (`--stmt-rows` rows).
const STMT_TABLE: &str = "bench_stmt";
/// The table `insert_batch` fills.
const INSERT_TABLE: &str = "bench_insert";
/// `stmt_read`, prepared; bound to 0.
const READ_SQL: &str = "SELECT id, name, score, at, body FROM bench_stmt WHERE id > ?";
/// `stmt_read` over the text protocol.
const READ_TEXT_SQL: &str = "SELECT id, name, score, at, body FROM bench_stmt WHERE id > 0";
/// `point_select`.
const POINT_SQL: &str = "SELECT id, name, score, at, body FROM bench_stmt WHERE id = ?";
/// One row of `insert_batch`, for the batch APIs.
#[cfg(any(feature = "peers", feature = "stmt-api"))]
const INSERT_SQL: &str =
    "INSERT INTO bench_insert (id, name, score, at, body) VALUES (?, ?, ?, ?, ?)";
/// The start of a multi-row INSERT.
const INSERT_HEAD: &str = "INSERT INTO bench_insert (id, name, score, at, body) ";
/// `pool_exec`'s statement.
const PLUS_ONE_SQL: &str = "SELECT CAST(? AS SIGNED) + 1";
/// Rows per multi-row INSERT for the drivers without a batch API.
const CHUNK: usize = 1000;

/// One of the four sections.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Section {
    /// `stmt_read`.
    Read,
    /// `point_select`.
    Point,
    /// `insert_batch`.
    Insert,
    /// `pool_exec`.
    Pool,
}

impl Section {
    /// Every section, in report order.
    pub const ALL: [Section; 4] = [
        Section::Read,
        Section::Point,
        Section::Insert,
        Section::Pool,
    ];

    /// Its name for `--only`.
    pub fn name(self) -> &'static str {
        match self {
            Section::Read => "stmt_read",
            Section::Point => "point_select",
            Section::Insert => "insert_batch",
            Section::Pool => "pool_exec",
        }
    }

    /// Concurrency levels (tasks, threads).
    fn levels(self) -> &'static [usize] {
        match self {
            Section::Read | Section::Insert => &[1],
            Section::Point => &[1, 16],
            Section::Pool => &[16],
        }
    }

    /// What one operation is, plural and singular.
    fn unit(self) -> (&'static str, &'static str) {
        match self {
            Section::Read | Section::Insert => ("rows", "row"),
            Section::Point => ("q", "query"),
            Section::Pool => ("ops", "op"),
        }
    }
}

/// One row of `insert_batch`.
pub struct BatchRow {
    id: i64,
    name: String,
    score: f64,
    /// 2020-01-01 00:00:00 + `secs` seconds, and `micros`.
    secs: u32,
    micros: u32,
    body: String,
}

impl BatchRow {
    fn new(i: u64) -> BatchRow {
        BatchRow {
            id: i as i64,
            name: format!("name-{i}"),
            score: i as f64 * 1.25,
            secs: i as u32,
            micros: (i * 7919 % 1_000_000) as u32,
            body: char::from(b'a' + (i % 26) as u8)
                .to_string()
                .repeat(20 + (i % 180) as usize),
        }
    }

    /// Year, month, day, hour, minute, second, micros (the rows span a few days of
    /// January 2020).
    fn at(&self) -> (u16, u8, u8, u8, u8, u8, u32) {
        let s = self.secs;
        (
            2020,
            1,
            (1 + s / 86_400) as u8,
            (s / 3600 % 24) as u8,
            (s / 60 % 60) as u8,
            (s % 60) as u8,
            self.micros,
        )
    }

    fn at_ours(&self) -> R<mysqlclient_async::DateTime> {
        let (y, mo, d, h, mi, s, us) = self.at();
        mysqlclient_async::Date::new(y, mo, d)
            .and_then(|date| mysqlclient_async::DateTime::new(date, h, mi, s, us))
            .ok_or_else(|| format!("bad datetime for row {}", self.id).into())
    }
}

fn batch_rows(n: u64) -> Vec<BatchRow> {
    (1..=n).map(BatchRow::new).collect()
}

fn row_sum(id: i64, name: &str, score: f64, body: &str) -> u64 {
    (id as u64)
        .wrapping_add((name.len() + body.len()) as u64)
        .wrapping_add(score as u64)
}

/// A driver as its users would write prepared-statement code.
#[allow(async_fn_in_trait)]
trait StmtDriver: 'static {
    type Conn: 'static;
    type Pool: Clone + 'static;
    type Pooled: 'static;
    async fn connect(cfg: &Config) -> R<Self::Conn>;
    async fn close(conn: Self::Conn);
    /// An empty pool of at most `max` connections.
    fn pool(cfg: &Config, max: usize) -> R<Self::Pool>;
    async fn checkout(pool: &Self::Pool) -> R<Self::Pooled>;
    async fn close_pool(pool: Self::Pool);
    /// A statement without parameters or rows (`BEGIN`, `COMMIT`).
    async fn run(conn: &mut Self::Conn, sql: &str) -> R<()>;
    /// Every row of [`READ_SQL`]: (rows, a checksum).
    async fn read(conn: &mut Self::Conn) -> R<(usize, u64)>;
    /// [`POINT_SQL`] for this id: the id read back.
    async fn point(conn: &mut Self::Conn, id: i64) -> R<i64>;
    /// Insert the rows into [`INSERT_TABLE`].
    async fn insert(conn: &mut Self::Conn, rows: &[BatchRow]) -> R<()>;
    /// [`PLUS_ONE_SQL`] on a pooled connection.
    async fn plus_one(conn: &mut Self::Pooled, x: i64) -> R<i64>;
}

type Ours5 = (i64, String, f64, mysqlclient_async::DateTime, String);

fn ours_sum(rows: &[Ours5]) -> u64 {
    rows.iter().fold(0u64, |acc, (id, name, score, _, body)| {
        acc.wrapping_add(row_sum(*id, name, *score, body))
    })
}

/// Our URL for the text-protocol path: parameters interpolated on the client.
fn text_url(cfg: &Config) -> String {
    if cfg!(feature = "stmt-api") {
        format!("{}&client_side_params=true", cfg.url)
    } else {
        cfg.url.clone()
    }
}

/// This crate over the text protocol: `query`, and `exec` with client-side
/// parameters; its pool with the default return policy.
struct OursText;

impl StmtDriver for OursText {
    type Conn = mysqlclient_async::AsyncConn;
    type Pool = mysqlclient_async::Pool;
    type Pooled = mysqlclient_async::PooledConn;

    async fn connect(cfg: &Config) -> R<Self::Conn> {
        Ok(mysqlclient_async::AsyncConn::connect(text_url(cfg).as_str()).await?)
    }
    async fn close(conn: Self::Conn) {
        let _ = conn.close().await;
    }
    fn pool(cfg: &Config, max: usize) -> R<Self::Pool> {
        Ok(mysqlclient_async::Pool::builder(text_url(cfg).as_str())
            .max_size(max)
            .acquire_timeout(Duration::from_secs(120))
            .build()?)
    }
    async fn checkout(pool: &Self::Pool) -> R<Self::Pooled> {
        Ok(pool.get().await?)
    }
    async fn close_pool(pool: Self::Pool) {
        pool.close().await;
    }
    async fn run(conn: &mut Self::Conn, sql: &str) -> R<()> {
        conn.query_drop(sql).await?;
        Ok(())
    }
    async fn read(conn: &mut Self::Conn) -> R<(usize, u64)> {
        let rows: Vec<Ours5> = conn.query(READ_TEXT_SQL).await?;
        Ok((rows.len(), ours_sum(&rows)))
    }
    async fn point(conn: &mut Self::Conn, id: i64) -> R<i64> {
        let row: Ours5 = conn.exec_one(POINT_SQL, (id,)).await?;
        Ok(row.0)
    }
    async fn insert(conn: &mut Self::Conn, rows: &[BatchRow]) -> R<()> {
        use mysqlclient_async::Value;
        let full = multi_row_insert(CHUNK);
        for chunk in rows.chunks(CHUNK) {
            let mut values = Vec::with_capacity(chunk.len() * 5);
            for r in chunk {
                values.extend([
                    Value::Int(r.id),
                    Value::Text(r.name.clone()),
                    Value::Double(r.score),
                    Value::DateTime(r.at_ours()?),
                    Value::Text(r.body.clone()),
                ]);
            }
            if chunk.len() == CHUNK {
                conn.exec_drop(full.as_str(), values).await?;
            } else {
                conn.exec_drop(multi_row_insert(chunk.len()).as_str(), values)
                    .await?;
            }
        }
        Ok(())
    }
    async fn plus_one(conn: &mut Self::Pooled, x: i64) -> R<i64> {
        Ok(conn.exec_one(PLUS_ONE_SQL, (x,)).await?)
    }
}

/// `INSERT … VALUES (?, ?, ?, ?, ?), …` for `rows` rows.
fn multi_row_insert(rows: usize) -> String {
    let mut sql = format!("{INSERT_HEAD}VALUES ");
    for i in 0..rows {
        sql.push_str(if i == 0 {
            "(?, ?, ?, ?, ?)"
        } else {
            ", (?, ?, ?, ?, ?)"
        });
    }
    sql
}

/// This crate over the binary protocol: prepared `exec` (statements cached per
/// connection), `exec_batch`; its pool resetting a returned connection only when
/// the borrower changed the session (`ALWAYS_RESET` false, the default) or always.
#[cfg(feature = "stmt-api")]
struct OursBin<const ALWAYS_RESET: bool>;

#[cfg(feature = "stmt-api")]
impl<const ALWAYS_RESET: bool> StmtDriver for OursBin<ALWAYS_RESET> {
    type Conn = mysqlclient_async::AsyncConn;
    type Pool = mysqlclient_async::Pool;
    type Pooled = mysqlclient_async::PooledConn;

    async fn connect(cfg: &Config) -> R<Self::Conn> {
        Ok(mysqlclient_async::AsyncConn::connect(cfg.url.as_str()).await?)
    }
    async fn close(conn: Self::Conn) {
        let _ = conn.close().await;
    }
    fn pool(cfg: &Config, max: usize) -> R<Self::Pool> {
        Ok(mysqlclient_async::Pool::builder(cfg.url.as_str())
            .max_size(max)
            .acquire_timeout(Duration::from_secs(120))
            .always_reset(ALWAYS_RESET)
            .build()?)
    }
    async fn checkout(pool: &Self::Pool) -> R<Self::Pooled> {
        Ok(pool.get().await?)
    }
    async fn close_pool(pool: Self::Pool) {
        pool.close().await;
    }
    async fn run(conn: &mut Self::Conn, sql: &str) -> R<()> {
        conn.query_drop(sql).await?;
        Ok(())
    }
    async fn read(conn: &mut Self::Conn) -> R<(usize, u64)> {
        let rows: Vec<Ours5> = conn.exec(READ_SQL, (0i64,)).await?;
        Ok((rows.len(), ours_sum(&rows)))
    }
    async fn point(conn: &mut Self::Conn, id: i64) -> R<i64> {
        let row: Ours5 = conn.exec_one(POINT_SQL, (id,)).await?;
        Ok(row.0)
    }
    async fn insert(conn: &mut Self::Conn, rows: &[BatchRow]) -> R<()> {
        let mut params = Vec::with_capacity(rows.len());
        for r in rows {
            params.push((
                r.id,
                r.name.as_str(),
                r.score,
                r.at_ours()?,
                r.body.as_str(),
            ));
        }
        conn.exec_batch(INSERT_SQL, params).await?;
        Ok(())
    }
    async fn plus_one(conn: &mut Self::Pooled, x: i64) -> R<i64> {
        Ok(conn.exec_one(PLUS_ONE_SQL, (x,)).await?)
    }
}

#[cfg(feature = "peers")]
mod peers {
    use super::*;
    use crate::peers::{MysqlAsync, Sqlx};
    use crate::AsyncDriver;
    use mysql_async::prelude::Queryable as _;
    use sqlx::Row as _;

    type Ma5 = (i64, String, f64, mysql_async::Value, String);

    impl StmtDriver for MysqlAsync {
        type Conn = mysql_async::Conn;
        type Pool = mysql_async::Pool;
        type Pooled = mysql_async::Conn;

        async fn connect(cfg: &Config) -> R<Self::Conn> {
            <MysqlAsync as AsyncDriver>::connect(cfg).await
        }
        async fn close(conn: Self::Conn) {
            <MysqlAsync as AsyncDriver>::close(conn).await
        }
        fn pool(cfg: &Config, max: usize) -> R<Self::Pool> {
            <MysqlAsync as AsyncDriver>::pool(cfg, max)
        }
        async fn checkout(pool: &Self::Pool) -> R<Self::Pooled> {
            <MysqlAsync as AsyncDriver>::checkout(pool).await
        }
        async fn close_pool(pool: Self::Pool) {
            <MysqlAsync as AsyncDriver>::close_pool(pool).await
        }
        async fn run(conn: &mut Self::Conn, sql: &str) -> R<()> {
            conn.query_drop(sql).await?;
            Ok(())
        }
        async fn read(conn: &mut Self::Conn) -> R<(usize, u64)> {
            let rows: Vec<Ma5> = conn.exec(READ_SQL, (0i64,)).await?;
            let sum = rows.iter().fold(0u64, |acc, (id, name, score, _, body)| {
                acc.wrapping_add(row_sum(*id, name, *score, body))
            });
            Ok((rows.len(), sum))
        }
        async fn point(conn: &mut Self::Conn, id: i64) -> R<i64> {
            let row: Ma5 = conn.exec_first(POINT_SQL, (id,)).await?.ok_or("no row")?;
            Ok(row.0)
        }
        async fn insert(conn: &mut Self::Conn, rows: &[BatchRow]) -> R<()> {
            let params = rows.iter().map(|r| {
                let (y, mo, d, h, mi, s, us) = r.at();
                (
                    r.id,
                    r.name.as_str(),
                    r.score,
                    mysql_async::Value::Date(y, mo, d, h, mi, s, us),
                    r.body.as_str(),
                )
            });
            Ok(conn.exec_batch(INSERT_SQL, params).await?)
        }
        async fn plus_one(conn: &mut Self::Pooled, x: i64) -> R<i64> {
            Ok(conn.exec_first(PLUS_ONE_SQL, (x,)).await?.ok_or("no row")?)
        }
    }

    /// A binary-protocol DATETIME as sqlx gives it without its chrono/time features
    /// (length byte; year LE, month, day; hour, minute, second; micros LE), checked and
    /// split the way sqlx-mysql's chrono decoding does.
    fn sqlx_datetime(b: &[u8]) -> R<(u16, u8, u8, u8, u8, u8, u32)> {
        let len = *b.first().ok_or("empty DATETIME")? as usize;
        let v = b.get(1..1 + len).ok_or("short DATETIME")?;
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        if !matches!(len, 0 | 4 | 7 | 11) {
            return Err(format!("DATETIME of {len} bytes").into());
        }
        let micros = if len == 11 {
            u32::from_le_bytes([v[7], v[8], v[9], v[10]])
        } else {
            0
        };
        Ok((
            u16::from_le_bytes([at(0), at(1)]),
            at(2),
            at(3),
            at(4),
            at(5),
            at(6),
            micros,
        ))
    }

    /// `at` as DATETIME text, for sqlx to bind.
    fn at_text(r: &BatchRow) -> String {
        let (y, mo, d, h, mi, s, us) = r.at();
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
    }

    fn sqlx_row(row: &sqlx::mysql::MySqlRow) -> R<u64> {
        let id: i64 = row.try_get(0)?;
        let name: String = row.try_get(1)?;
        let score: f64 = row.try_get(2)?;
        let at = sqlx_datetime(row.try_get_unchecked::<&[u8], _>(3)?)?;
        let body: String = row.try_get(4)?;
        std::hint::black_box(at);
        Ok(row_sum(id, &name, score, &body))
    }

    impl StmtDriver for Sqlx {
        type Conn = sqlx::MySqlConnection;
        type Pool = sqlx::MySqlPool;
        type Pooled = sqlx::pool::PoolConnection<sqlx::MySql>;

        async fn connect(cfg: &Config) -> R<Self::Conn> {
            <Sqlx as AsyncDriver>::connect(cfg).await
        }
        async fn close(conn: Self::Conn) {
            <Sqlx as AsyncDriver>::close(conn).await
        }
        fn pool(cfg: &Config, max: usize) -> R<Self::Pool> {
            <Sqlx as AsyncDriver>::pool(cfg, max)
        }
        async fn checkout(pool: &Self::Pool) -> R<Self::Pooled> {
            <Sqlx as AsyncDriver>::checkout(pool).await
        }
        async fn close_pool(pool: Self::Pool) {
            <Sqlx as AsyncDriver>::close_pool(pool).await
        }
        async fn run(conn: &mut Self::Conn, sql: &str) -> R<()> {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
        async fn read(conn: &mut Self::Conn) -> R<(usize, u64)> {
            let rows = sqlx::query(READ_SQL)
                .bind(0i64)
                .fetch_all(&mut *conn)
                .await?;
            let mut sum = 0u64;
            for row in &rows {
                sum = sum.wrapping_add(sqlx_row(row)?);
            }
            Ok((rows.len(), sum))
        }
        async fn point(conn: &mut Self::Conn, id: i64) -> R<i64> {
            let row = sqlx::query(POINT_SQL)
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
            std::hint::black_box(sqlx_row(&row)?);
            Ok(row.try_get(0)?)
        }
        async fn insert(conn: &mut Self::Conn, rows: &[BatchRow]) -> R<()> {
            for chunk in rows.chunks(CHUNK) {
                let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(INSERT_HEAD);
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(r.id)
                        .push_bind(r.name.as_str())
                        .push_bind(r.score)
                        .push_bind(at_text(r))
                        .push_bind(r.body.as_str());
                });
                qb.build().execute(&mut *conn).await?;
            }
            Ok(())
        }
        async fn plus_one(conn: &mut Self::Pooled, x: i64) -> R<i64> {
            Ok(sqlx::query_scalar::<_, i64>(PLUS_ONE_SQL)
                .bind(x)
                .fetch_one(&mut **conn)
                .await?)
        }
    }

    /// `point_select` for the sync `mysql` crate: one thread and connection each.
    pub fn point_threads(cfg: &Config, c: usize) -> R<Measurement> {
        use mysql::prelude::Queryable as _;
        let rows = cfg.stmt_rows as i64;
        crate::peers::loop_threads(cfg, c, move |conn, t, k| {
            let id = point_id(rows, t, k);
            let row: Option<(i64, String, f64, mysql::Value, String)> = conn
                .exec_first(POINT_SQL, (id,))
                .map_err(|e| e.to_string())?;
            match row {
                Some(r) if r.0 == id => Ok(()),
                _ => Err(format!("no row {id}")),
            }
        })
    }
}

/// The id task (or thread) `t` reads in its `k`-th query: a stride through the
/// table, different per task.
fn point_id(rows: i64, t: usize, k: u64) -> i64 {
    ((k as i64).wrapping_mul(7919) + t as i64 * 104_729).rem_euclid(rows.max(1)) + 1
}

/// One full read of [`STMT_TABLE`] (connecting is not timed).
async fn read_async<D: StmtDriver>(cfg: &Config) -> R<Measurement> {
    let mut conn = D::connect(cfg).await?;
    let m0 = mysqlclient_async_bench::Mark::now(0);
    let (n, sum) = D::read(&mut conn).await?;
    std::hint::black_box(sum);
    let m = m0.until(&mysqlclient_async_bench::Mark::now(n as u64));
    D::close(conn).await;
    if n as u64 != cfg.stmt_rows {
        return Err(format!("stmt_read read {n} rows, expected {}", cfg.stmt_rows).into());
    }
    Ok(m)
}

/// Point selects in a loop on `c` connections, one task each.
async fn point_async<D: StmtDriver>(cfg: &Config, c: usize) -> R<Measurement> {
    let mut conns = Vec::with_capacity(c);
    for _ in 0..c {
        conns.push(D::connect(cfg).await?);
    }
    let rows = cfg.stmt_rows as i64;
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (t, mut conn) in conns.into_iter().enumerate() {
        let (count, stop) = (count.clone(), stop.clone());
        tasks.push(tokio::task::spawn_local(async move {
            let mut k = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let id = point_id(rows, t, k);
                let got = D::point(&mut conn, id).await.map_err(|e| e.to_string())?;
                if got != id {
                    return Err(format!("asked for id {id}, got {got}"));
                }
                k += 1;
                count.fetch_add(1, Ordering::Relaxed);
            }
            D::close(conn).await;
            Ok::<(), String>(())
        }));
    }
    measure_window(cfg, &count, &stop, tasks).await
}

/// One batch insert of `rows` in a transaction (the table emptied before, connecting
/// not timed).
async fn insert_async<D: StmtDriver>(cfg: &Config, rows: &[BatchRow]) -> R<Measurement> {
    let mut conn = D::connect(cfg).await?;
    let m0 = mysqlclient_async_bench::Mark::now(0);
    D::run(&mut conn, "BEGIN").await?;
    D::insert(&mut conn, rows).await?;
    D::run(&mut conn, "COMMIT").await?;
    let m = m0.until(&mysqlclient_async_bench::Mark::now(rows.len() as u64));
    D::close(conn).await;
    Ok(m)
}

/// `c` tasks, each looping {check out, [`PLUS_ONE_SQL`], return} on a pool of `c`
/// (its connections opened before the window).
async fn pool_async<D: StmtDriver>(cfg: &Config, c: usize) -> R<Measurement> {
    let pool = D::pool(cfg, c)?;
    let mut held = Vec::new();
    for _ in 0..c {
        held.push(D::checkout(&pool).await?);
    }
    drop(held);
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..c {
        let (pool, count, stop) = (pool.clone(), count.clone(), stop.clone());
        tasks.push(tokio::task::spawn_local(async move {
            let mut x = t as i64;
            while !stop.load(Ordering::Relaxed) {
                let mut conn = D::checkout(&pool).await.map_err(|e| e.to_string())?;
                let v = D::plus_one(&mut conn, x).await.map_err(|e| e.to_string())?;
                drop(conn);
                if v != x + 1 {
                    return Err(format!("{x} + 1 returned {v}"));
                }
                x += 1;
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), String>(())
        }));
    }
    let m = measure_window(cfg, &count, &stop, tasks).await;
    D::close_pool(pool).await;
    m
}

/// One measurement of one driver in one section at one level.
fn measure(
    cfg: &Config,
    rt: &tokio::runtime::Runtime,
    local: &tokio::task::LocalSet,
    driver: &str,
    section: Section,
    c: usize,
    rows: &[BatchRow],
) -> R<Measurement> {
    if section == Section::Insert {
        let mut conn = mysqlclient_async::Conn::connect(cfg.url.as_str())?;
        conn.query_drop(&format!("TRUNCATE TABLE {INSERT_TABLE}"))?;
    }
    macro_rules! on_async {
        ($d:ty) => {
            match section {
                Section::Read => local.block_on(rt, read_async::<$d>(cfg)),
                Section::Point => local.block_on(rt, point_async::<$d>(cfg, c)),
                Section::Insert => local.block_on(rt, insert_async::<$d>(cfg, rows)),
                Section::Pool => local.block_on(rt, pool_async::<$d>(cfg, c)),
            }
        };
    }
    let m = match driver {
        #[cfg(feature = "stmt-api")]
        "ours" => on_async!(OursBin<false>),
        #[cfg(feature = "stmt-api")]
        "ours-reset" => on_async!(OursBin<true>),
        "ours-text" => on_async!(OursText),
        #[cfg(feature = "peers")]
        "mysql_async" => on_async!(crate::peers::MysqlAsync),
        #[cfg(feature = "peers")]
        "sqlx" => on_async!(crate::peers::Sqlx),
        #[cfg(feature = "peers")]
        "mysql" if section == Section::Point => peers::point_threads(cfg, c),
        other => Err(format!("{other} has no {} figure", section.name()).into()),
    }?;
    if section == Section::Insert {
        let mut conn = mysqlclient_async::Conn::connect(cfg.url.as_str())?;
        let n: i64 = conn.query_one(&format!("SELECT COUNT(*) FROM {INSERT_TABLE}"))?;
        if n as usize != rows.len() {
            return Err(format!("{driver} inserted {n} rows, expected {}", rows.len()).into());
        }
    }
    Ok(m)
}

/// The rows of a section: ours over the binary protocol (with `stmt-api`), our
/// text path, then the peers in `--drivers`.
fn drivers(cfg: &Config, section: Section) -> Vec<String> {
    let mut out = Vec::new();
    if cfg.drivers.iter().any(|d| d == "ours") {
        if cfg!(feature = "stmt-api") {
            out.push("ours".to_string());
            if section == Section::Pool {
                out.push("ours-reset".to_string());
            }
        }
        out.push("ours-text".to_string());
    }
    for d in &cfg.drivers {
        match d.as_str() {
            "ours" => {}
            "mysql" if section != Section::Point => {}
            _ => out.push(d.clone()),
        }
    }
    out
}

fn label(section: Section, driver: &str) -> String {
    use Section::*;
    match (driver, section) {
        ("ours", Read | Point) => "mysqlclient-async, prepared `exec` (binary)",
        ("ours", Insert) => "mysqlclient-async `exec_batch` (binary, array binding)",
        ("ours", Pool) => "mysqlclient-async, reset only when the session changed (default)",
        ("ours-reset", _) => "mysqlclient-async, `always_reset(true)`",
        ("ours-text", Read) => "mysqlclient-async `query` (text)",
        ("ours-text", Point) => "mysqlclient-async `exec`, client-side params (text)",
        ("ours-text", Insert) => {
            "mysqlclient-async, INSERTs of 1,000 rows, client-side params (text)"
        }
        ("ours-text", Pool) => "mysqlclient-async, client-side params (text), default pool",
        ("mysql_async", Insert) => "mysql_async `exec_batch` (binary, MariaDB bulk when offered)",
        ("mysql_async", Pool) => "mysql_async `exec` (binary), its default pool",
        ("mysql_async", _) => "mysql_async `exec` (binary)",
        ("sqlx", Read) => "sqlx `query().bind().fetch_all` (binary)",
        ("sqlx", Point) => "sqlx `query().bind().fetch_one` (binary)",
        ("sqlx", Insert) => "sqlx `QueryBuilder::push_values`, 1,000 rows per INSERT (binary)",
        ("sqlx", Pool) => "sqlx `query_scalar().bind()` (binary), its default pool",
        ("mysql", _) => "mysql (threads) `exec_first` (binary)",
        (other, _) => other,
    }
    .to_string()
}

fn description(cfg: &Config, section: Section) -> String {
    match section {
        Section::Read => format!(
            "`{READ_SQL}` with ? = 0: {} rows x 5 columns (BIGINT, VARCHAR, DOUBLE, DATETIME(6), TEXT) \
             into a Vec, one connection; median of {} reads.",
            fmt_num(cfg.stmt_rows as f64, 0),
            cfg.repeat
        ),
        Section::Point => format!(
            "`{POINT_SQL}`, ids striding through {} rows, one connection per task \
             (per thread for `mysql`); windows of {} s, median of {} rounds.",
            fmt_num(cfg.stmt_rows as f64, 0),
            cfg.window.as_secs_f64(),
            cfg.repeat
        ),
        Section::Insert => format!(
            "{} rows (BIGINT, VARCHAR, DOUBLE, DATETIME(6), TEXT) into an emptied table, \
             BEGIN … COMMIT included; sqlx binds the DATETIME as text; median of {} rounds.",
            fmt_num(cfg.batch_rows as f64, 0),
            cfg.repeat
        ),
        Section::Pool => format!(
            "c tasks looping {{check out, `{PLUS_ONE_SQL}`, return}} on a pool of c, each pool \
             at its defaults otherwise (mysql_async resets every returned connection, which \
             empties its statement cache; sqlx pings on checkout); windows of {} s, median of {} rounds.",
            cfg.window.as_secs_f64(),
            cfg.repeat
        ),
    }
}

/// Run one section (every driver at every level, `--repeat` interleaved rounds, the
/// median of each) and render its table.
pub fn section(
    cfg: &Config,
    rt: &tokio::runtime::Runtime,
    local: &tokio::task::LocalSet,
    section: Section,
) -> R<String> {
    let drivers = drivers(cfg, section);
    let rows = match section {
        Section::Read | Section::Point => {
            prepare_rows_table(cfg, STMT_TABLE, cfg.stmt_rows)?;
            Vec::new()
        }
        Section::Insert => {
            prepare_insert_table(cfg)?;
            batch_rows(cfg.batch_rows)
        }
        Section::Pool => Vec::new(),
    };
    let (units, unit) = section.unit();
    let mut samples = Rounds::default();
    for round in 1..=cfg.repeat {
        for &c in section.levels() {
            for d in &drivers {
                let m = measure(cfg, rt, local, d, section, c, &rows)?;
                note(format!(
                    "round {round}/{}: {d:12} {} c={c:<3} {:>11} {units}/s  {:>7} µs CPU/{unit}",
                    cfg.repeat,
                    section.name(),
                    fmt_num(m.rate(), 0),
                    fmt_num(m.cpu_us_per_op(), 3)
                ));
                samples.push((d.clone(), c), m);
            }
        }
    }
    let get = |d: &str, c: usize| samples.median(&(d.to_string(), c));
    // Ratios against our binary path, or our text path in a build without it.
    let base = drivers
        .iter()
        .find(|d| d.as_str() == "ours")
        .or_else(|| drivers.iter().find(|d| d.as_str() == "ours-text"));
    let show_c = matches!(section, Section::Point | Section::Pool);
    let base_name = match base.map(String::as_str) {
        Some("ours") => "ours",
        _ => "ours (text)",
    };
    let mut header = vec![section.name().to_string()];
    for &c in section.levels() {
        let at = if show_c {
            format!(", c={c}")
        } else {
            String::new()
        };
        header.push(format!("{units}/s{at}"));
        header.push(format!("CPU µs/{unit}{at}"));
        if base.is_some() {
            header.push(format!("{base_name} ÷ this{at}"));
        }
    }
    let mut t = Table::new(header);
    for d in &drivers {
        let mut cells = vec![label(section, d)];
        for &c in section.levels() {
            let m = get(d, c);
            cells.push(m.map_or("—".into(), |m| fmt_num(m.rate(), 0)));
            cells.push(m.map_or("—".into(), |m| fmt_num(m.cpu_us_per_op(), 3)));
            if let Some(b) = base {
                cells.push(match (get(b, c), m) {
                    (Some(o), Some(m)) => super::ratio(o.rate(), m.rate()),
                    _ => "—".into(),
                });
            }
        }
        t.row(cells);
    }
    let mut out = format!(
        "\n\n**{}**: {}\n\n{}",
        section.name(),
        description(cfg, section),
        t.render()
    );
    if !cfg!(feature = "stmt-api") && cfg.drivers.iter().any(|d| d == "ours") {
        out.push_str(
            "\nOur binary-protocol rows need the library's statement API (the bench's `stmt-api` feature): not in this build.\n",
        );
    }
    Ok(out)
}

/// Create (once) the empty table `insert_batch` fills.
fn prepare_insert_table(cfg: &Config) -> R<()> {
    let mut conn = mysqlclient_async::Conn::connect(cfg.url.as_str())?;
    conn.query_drop(&format!(
        "CREATE TABLE IF NOT EXISTS {INSERT_TABLE} (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, \
         score DOUBLE NOT NULL, at DATETIME(6) NOT NULL, body TEXT NOT NULL) ENGINE=InnoDB"
    ))?;
    Ok(())
}
