//! What a connection costs in memory with each co-routine stack size: opens N
//! connections (default 500) and reports the growth of this process's resident
//! and virtual memory (`/proc/self/statm`) per connection. Each configuration runs
//! in a fresh child process, so that no run reuses memory an earlier one freed.
//!
//! ```text
//! MYSQL_URL=mysql://… cargo run --example stack_rss -- [N]
//! make stack-depth        # the depth table (tests/coroutine_stack.rs), then this
//! ```
//!
//! The rows: the library's own default stack (256 KiB in Connector/C 3.3), this
//! crate's default, the smallest size accepted, and the readable-then-read path,
//! which allocates no co-routine at all. The server needs `max_connections` above N
//! (`scripts/with-mysql.sh` starts one with 3000).

use std::process::Command;

use mysqlclient_async::{
    AsyncConn, IoMode, Opts, DEFAULT_COROUTINE_STACK_SIZE, MIN_COROUTINE_STACK_SIZE,
};

/// Connector/C 3.3's `ASYNC_CONTEXT_DEFAULT_STACK_SIZE` (`4096 * 64`).
const LIBRARY_DEFAULT: usize = 4096 * 64;

/// (resident, virtual) bytes of this process.
fn statm() -> (usize, usize) {
    let s = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let mut f = s
        .split_whitespace()
        .map(|v| v.parse::<usize>().unwrap() * 4096);
    let size = f.next().unwrap();
    (f.next().unwrap(), size)
}

/// One configuration: open `n` connections, print "rss vsz" per connection.
async fn child(url: &str, stack: usize, n: usize) -> mysqlclient_async::Result<()> {
    let mut b = Opts::from_url(url)?.to_builder();
    b = if stack == 0 {
        b.io_mode(IoMode::ReadableThenRead)
    } else {
        b.coroutine_stack_size(stack)
    };
    let opts = b.build();
    // One connection first: the library's and the runtime's one-time allocations.
    let mut warm = AsyncConn::connect(&opts).await?;
    warm.query_drop("DO 1").await?;
    let (r0, v0) = statm();
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = AsyncConn::connect(&opts).await?;
        c.query_drop("DO 1").await?;
        conns.push(c);
    }
    let (r1, v1) = statm();
    println!(
        "{} {}",
        r1.saturating_sub(r0) / n,
        v1.saturating_sub(v0) / n
    );
    for c in conns {
        c.close().await?;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url =
        std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let stack: usize = args[2].parse()?;
        let n: usize = args[3].parse()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(child(&url, stack, n))?;
        return Ok(());
    }
    let n: usize = args.get(1).map(|v| v.parse()).transpose()?.unwrap_or(500);
    println!(
        "backend {}; {n} connections each; bytes per connection:",
        mysqlclient_async::backend()
    );
    println!("{:>10} {:>10}  co-routine stack", "RSS", "virtual");
    for (stack, what) in [
        (LIBRARY_DEFAULT, "the library's default"),
        (DEFAULT_COROUTINE_STACK_SIZE, "this crate's default"),
        (MIN_COROUTINE_STACK_SIZE, "the smallest accepted"),
        (0, "none (readable_then_read)"),
    ] {
        let out = Command::new(std::env::current_exe()?)
            .args(["--child", &stack.to_string(), &n.to_string()])
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "child for stack {stack} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        let line = String::from_utf8(out.stdout)?;
        let mut f = line.split_whitespace();
        let (rss, vsz) = (f.next().unwrap_or("?"), f.next().unwrap_or("?"));
        let size = if stack == 0 {
            String::new()
        } else {
            format!("{stack} B, ")
        };
        println!("{rss:>10} {vsz:>10}  {size}{what}");
    }
    Ok(())
}
