//! Decoding throughput: rows per second reading a 200,000-row × 5-column table
//! (BIGINT, VARCHAR, DOUBLE, DATETIME(6), TEXT) into typed tuples, against a floor
//! measured in the same run: the same query in a minimal C-level loop over the
//! library (`mysql_real_query` + `mysql_use_result` + `mysql_fetch_row`, nothing
//! else), written directly against `mysqlclient_sys`.
//!
//! ```text
//! cargo run --release --example decode_bench -- mysql://root@127.0.0.1:3306/test [RUNS]
//! MYSQL_URL=mysql://… cargo run --release --example decode_bench
//! scripts/with-mysql.sh cargo run --release --example decode_bench   # throwaway server
//! ```
//!
//! The table `mca_bench.decode_bench` is created and filled on first use. Each mode
//! runs RUNS times (default 5), interleaved; the medians are printed, with the
//! client's CPU time per run (getrusage), and the ratio of each mode to the floor
//! (the target is ≥ 0.95). The clock covers the query and the decoding into a
//! `Vec` of tuples, not the freeing of that `Vec` afterwards. Nothing is asserted.
//!
//! `Conn::query` buffers the whole result (`mysql_store_result`) and decodes it
//! afterwards, so its decoding cannot overlap the transfer; the streaming
//! `AsyncConn::query_stream` decodes each row while the server sends the next, like
//! the floor's `mysql_use_result` loop.

use std::ffi::{c_char, c_uint, c_ulong, CString};
use std::time::{Duration, Instant};

use mysqlclient_async::{AsyncConn, Conn, DateTime, FromRow, Opts, Row, RowRef, Value};

const ROWS: u64 = 200_000;
const SQL: &str = "SELECT id, name, score, at, note FROM mca_bench.decode_bench";

type Tuple = (i64, String, f64, DateTime, String);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .or_else(|| std::env::var("MYSQL_URL").ok())
        .ok_or("usage: decode_bench URL [RUNS]   (or set MYSQL_URL)")?;
    let runs: usize = args.next().map_or(Ok(5), |s| s.parse())?;
    let opts = Opts::from_url(&url)?;

    let mut conn = Conn::connect(url.as_str())?;
    prepare_table(&mut conn)?;

    let mut floor = CFloor::connect(&opts)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut aconn = rt.block_on(AsyncConn::connect(url.as_str()))?;

    // Warm up every path (server buffer pool, allocator, page cache).
    floor.run()?;
    decode_blocking(&mut conn)?;
    rt.block_on(decode_stream(&mut aconn))?;

    rt.block_on(read_in_place(&mut aconn))?;

    let mut m_floor = Vec::new();
    let mut m_block = Vec::new();
    let mut m_stream = Vec::new();
    let mut m_ref = Vec::new();
    for _ in 0..runs {
        m_floor.push(measure(|| floor.run())?);
        m_block.push(measure(|| decode_blocking(&mut conn))?);
        m_stream.push(measure(|| rt.block_on(decode_stream(&mut aconn)))?);
        m_ref.push(measure(|| rt.block_on(read_in_place(&mut aconn)))?);
    }

    let f = median(&m_floor);
    let b = median(&m_block);
    let s = median(&m_stream);
    let r = median(&m_ref);
    println!(
        "decode_bench: {ROWS} rows x 5 columns (BIGINT, VARCHAR, DOUBLE, DATETIME(6), TEXT), \
         median of {runs} runs"
    );
    println!(
        "{:<48} {:>12} {:>10} {:>10} {:>8}",
        "mode", "rows/s", "wall ms", "cpu ms", "ratio"
    );
    for (name, m) in [
        ("C floor: real_query+use_result+fetch_row", f),
        ("Conn::query::<(i64,String,f64,DateTime,String)>", b),
        ("AsyncConn::query_stream, RowRef -> same tuple", s),
        ("  same stream, typed reads in place (&str)", r),
    ] {
        println!(
            "{:<48} {:>12.0} {:>10.1} {:>10.1} {:>8.3}",
            name,
            ROWS as f64 / m.wall.as_secs_f64(),
            m.wall.as_secs_f64() * 1e3,
            m.cpu.as_secs_f64() * 1e3,
            f.wall.as_secs_f64() / m.wall.as_secs_f64(),
        );
    }
    println!(
        "ratio = floor wall time / mode wall time (target >= 0.95); blocking {:.3}, stream {:.3}",
        f.wall.as_secs_f64() / b.wall.as_secs_f64(),
        f.wall.as_secs_f64() / s.wall.as_secs_f64()
    );
    Ok(())
}

#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
}

/// Time `f`, which returns what it decoded. Freeing the decoded rows is the
/// consumer's business, so it happens after the clock stops.
fn measure<T: Decoded, E>(f: impl FnOnce() -> Result<T, E>) -> Result<Sample, E> {
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let out = f()?;
    let wall = t0.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    assert_eq!(out.rows(), ROWS, "every mode reads every row");
    drop(out);
    Ok(Sample { wall, cpu })
}

/// What a mode produced: a row count (the floor) or the typed rows.
trait Decoded {
    fn rows(&self) -> u64;
}

impl Decoded for u64 {
    fn rows(&self) -> u64 {
        *self
    }
}

impl Decoded for Vec<Tuple> {
    fn rows(&self) -> u64 {
        self.len() as u64
    }
}

/// Median by wall time (the CPU time is that of the same run).
fn median(v: &[Sample]) -> Sample {
    let mut v = v.to_vec();
    v.sort_by_key(|s| s.wall);
    v[v.len() / 2]
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF is valid.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn decode_blocking(conn: &mut Conn) -> mysqlclient_async::Result<Vec<Tuple>> {
    conn.query(SQL)
}

async fn decode_stream(conn: &mut AsyncConn) -> mysqlclient_async::Result<Vec<Tuple>> {
    let mut stream = conn.query_stream::<Tuple>(SQL).await?;
    let mut rows = Vec::new();
    while let Some(row) = stream.try_next().await? {
        rows.push(row);
    }
    Ok(rows)
}

/// A row's checksum, computed from the cells in place: a `FromRow` that borrows
/// every string from the library's buffer and allocates nothing.
struct InPlace(u64);

/// The checksum of one row, `Row` or `RowRef` alike.
macro_rules! in_place {
    ($row:expr) => {{
        let row = $row;
        let id: i64 = row.try_get(0)?;
        let name: &str = row.try_get(1)?;
        let score: f64 = row.try_get(2)?;
        let at: DateTime = row.try_get(3)?;
        let note: &str = row.try_get(4)?;
        Ok(InPlace(
            id as u64 + name.len() as u64 + score as u64 + at.micros() as u64 + note.len() as u64,
        ))
    }};
}

impl FromRow for InPlace {
    fn from_row(row: Row) -> mysqlclient_async::Result<InPlace> {
        in_place!(&row)
    }
    fn from_row_ref(row: &RowRef<'_>) -> mysqlclient_async::Result<InPlace> {
        in_place!(row)
    }
}

/// Every cell read and checked in place, nothing kept: the decoding cost without the
/// allocations an owned tuple needs (a reference line, not the target).
async fn read_in_place(conn: &mut AsyncConn) -> mysqlclient_async::Result<u64> {
    let mut stream = conn.query_stream::<InPlace>(SQL).await?;
    let (mut n, mut check) = (0u64, 0u64);
    while let Some(InPlace(c)) = stream.try_next().await? {
        check = check.wrapping_add(c);
        n += 1;
    }
    std::hint::black_box(check);
    Ok(n)
}

fn prepare_table(conn: &mut Conn) -> mysqlclient_async::Result<()> {
    conn.query_drop("CREATE DATABASE IF NOT EXISTS mca_bench")?;
    conn.query_drop(
        "CREATE TABLE IF NOT EXISTS mca_bench.decode_bench (
            id BIGINT NOT NULL PRIMARY KEY,
            name VARCHAR(64) NOT NULL,
            score DOUBLE NOT NULL,
            at DATETIME(6) NOT NULL,
            note TEXT NOT NULL
        ) CHARACTER SET utf8mb4",
    )?;
    let n: u64 = conn.query_one("SELECT COUNT(*) FROM mca_bench.decode_bench")?;
    if n == ROWS {
        return Ok(());
    }
    eprintln!("decode_bench: filling mca_bench.decode_bench with {ROWS} rows …");
    conn.query_drop("TRUNCATE mca_bench.decode_bench")?;
    // Batched multi-row INSERTs through our own parameters.
    const BATCH: u64 = 2000;
    let row_sql = "(?, ?, ?, ?, ?)";
    for start in (0..ROWS).step_by(BATCH as usize) {
        let end = (start + BATCH).min(ROWS);
        let mut sql = String::from("INSERT INTO mca_bench.decode_bench VALUES ");
        let mut params: Vec<Value> = Vec::with_capacity(5 * (end - start) as usize);
        for id in start..end {
            if id > start {
                sql.push(',');
            }
            sql.push_str(row_sql);
            let at: DateTime = format!(
                "2024-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
                1 + id % 12,
                1 + id % 28,
                id % 24,
                id % 60,
                (id / 60) % 60,
                (id * 7919) % 1_000_000
            )
            .parse()
            .expect("valid datetime");
            params.push(Value::Int(id as i64));
            params.push(Value::Text(format!("name-{id:08}")));
            params.push(Value::Double(id as f64 * 1.25 + 0.1));
            params.push(Value::DateTime(at));
            params.push(Value::Text(
                "lorem ipsum dolor sit amet ".repeat(1 + (id % 5) as usize),
            ));
        }
        conn.exec_drop(&sql, params)?;
    }
    Ok(())
}

/// The floor: a connection driven with nothing but the C API.
struct CFloor {
    mysql: *mut mysqlclient_sys::MYSQL,
}

impl CFloor {
    fn connect(opts: &Opts) -> Result<CFloor, Box<dyn std::error::Error>> {
        let host = CString::new(opts.host())?;
        let user = CString::new(opts.user())?;
        let pass = CString::new(opts.password().expose())?;
        let socket = opts
            .socket()
            .map(|p| CString::new(p.to_string_lossy().into_owned()))
            .transpose()?;
        // SAFETY: mysql_init(NULL) allocates a handle (NULL on OOM, checked).
        let mysql = unsafe { mysqlclient_sys::mysql_init(std::ptr::null_mut()) };
        if mysql.is_null() {
            return Err("mysql_init failed".into());
        }
        let floor = CFloor { mysql };
        // SAFETY: our fresh handle; every string outlives the call.
        let r = unsafe {
            mysqlclient_sys::mysql_real_connect(
                mysql,
                host.as_ptr(),
                user.as_ptr(),
                pass.as_ptr(),
                std::ptr::null(),
                opts.port() as c_uint,
                socket.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
                0,
            )
        };
        if r.is_null() {
            return Err(format!("C floor: connect failed: {}", floor.error()).into());
        }
        Ok(floor)
    }

    fn error(&self) -> String {
        // SAFETY: our handle; the message is copied at once.
        unsafe {
            std::ffi::CStr::from_ptr(mysqlclient_sys::mysql_error(self.mysql))
                .to_string_lossy()
                .into_owned()
        }
    }

    /// The minimal loop: send, stream, fetch every row, free.
    fn run(&mut self) -> Result<u64, Box<dyn std::error::Error>> {
        let mut n = 0u64;
        // SAFETY: our connected handle, used by this thread only; the result is freed
        // before returning and no row pointer outlives its fetch.
        unsafe {
            if mysqlclient_sys::mysql_real_query(
                self.mysql,
                SQL.as_ptr() as *const c_char,
                SQL.len() as c_ulong,
            ) != 0
            {
                return Err(self.error().into());
            }
            let res = mysqlclient_sys::mysql_use_result(self.mysql);
            if res.is_null() {
                return Err(self.error().into());
            }
            while !mysqlclient_sys::mysql_fetch_row(res).is_null() {
                n += 1;
            }
            mysqlclient_sys::mysql_free_result(res);
        }
        Ok(n)
    }
}

impl Drop for CFloor {
    fn drop(&mut self) {
        // SAFETY: our handle, closed once.
        unsafe { mysqlclient_sys::mysql_close(self.mysql) };
    }
}
