//! A new user's first program, as someone coming from mysql_async or sqlx writes
//! it: connect by URL, a transaction with parameterised inserts, typed reads into
//! a derived struct, a stream with an `.await` in its loop, and the pool from
//! several spawned tasks, on a multi-thread runtime.
//!
//! ```text
//! MYSQL_URL=mysql://root@127.0.0.1:3306/test cargo run --example first_steps --features derive
//! ```

use mysqlclient_async::{AsyncConn, FromRow, Pool, Queryable, Result};

#[derive(Debug, FromRow)]
struct User {
    id: u64,
    name: String,
    #[mysql(rename = "mail")]
    email: Option<String>,
    #[mysql(default)]
    karma: i64,
}

/// Works with a connection, a pooled connection, a transaction or the pool.
async fn add_user(db: &mut impl Queryable, name: &str, email: Option<&str>) -> Result<u64> {
    let done = db
        .exec_drop(
            "INSERT INTO first_steps_users (name, mail) VALUES (?, ?)",
            (name, email),
        )
        .await?;
    Ok(done.last_insert_id)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let url = std::env::var("MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string());

    // Connect by URL.
    let mut conn = AsyncConn::connect(url.as_str()).await?;
    println!("connected to {}", conn.server_version());
    conn.query_drop("DROP TABLE IF EXISTS first_steps_users")
        .await?;
    conn.query_drop(
        "CREATE TABLE first_steps_users (
            id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
            name VARCHAR(40) NOT NULL,
            mail VARCHAR(80) NULL
        ) ENGINE=InnoDB",
    )
    .await?;

    // A transaction with parameterised inserts; a savepoint inside it.
    let mut tx = conn.begin().await?;
    let ada = add_user(&mut tx, "ada", Some("ada@example.org")).await?;
    let batch = tx
        .exec_batch(
            "INSERT INTO first_steps_users (name, mail) VALUES (?, ?)",
            [("grace", None), ("edsger", Some("ewd@example.org"))],
        )
        .await?;
    let mut sp = tx.begin().await?;
    add_user(&mut sp, "mallory", None).await?;
    sp.rollback().await?; // only mallory goes
    tx.commit().await?;
    println!(
        "inserted ada as {ada}, then {} more in a batch",
        batch.affected_rows
    );

    // Typed reads: a derived struct, a tuple, one value.
    let users: Vec<User> = conn
        .exec(
            "SELECT id, name, mail FROM first_steps_users WHERE id >= ? ORDER BY id",
            (ada,),
        )
        .await?;
    for u in &users {
        let mail = u.email.as_deref().unwrap_or("no mail");
        println!("  #{} {} <{mail}>, karma {}", u.id, u.name, u.karma);
    }
    let (n, longest): (i64, String) = conn
        .query_one("SELECT COUNT(*), MAX(name) FROM first_steps_users")
        .await?;
    println!("{n} users; last name in order: {longest}");

    // A stream with an await in its body, inside a spawned task.
    let streamed = tokio::spawn(async move {
        let mut rows = conn
            .query_stream::<User>("SELECT id, name, mail FROM first_steps_users ORDER BY id")
            .await?;
        let mut names = Vec::new();
        while let Some(user) = rows.try_next().await? {
            // RowStream is a futures Stream too (StreamExt, TryStreamExt).
            tokio::task::yield_now().await;
            names.push(user.name);
        }
        drop(rows);
        conn.close().await?;
        Ok::<_, mysqlclient_async::Error>(names)
    })
    .await
    .expect("the stream task panicked")?;
    println!("streamed: {}", streamed.join(", "));

    // The pool from several spawned tasks.
    let pool = Pool::builder(url.as_str()).max_size(4).build()?;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let mut pool = pool.clone();
            tokio::spawn(async move {
                let id = add_user(&mut pool, &format!("task {i}"), None).await?;
                let name: String = pool
                    .exec_one("SELECT name FROM first_steps_users WHERE id = ?", (id,))
                    .await?;
                Ok::<_, mysqlclient_async::Error>(name)
            })
        })
        .collect();
    let mut names = Vec::new();
    for t in tasks {
        names.push(t.await.expect("a pool task panicked")?);
    }
    names.sort();
    println!("8 tasks through the pool: {}", names.join(", "));
    let total: i64 = pool
        .query_one("SELECT COUNT(*) FROM first_steps_users")
        .await?;
    println!("{total} users in all; pool: {:?}", pool.metrics());
    pool.query_drop("DROP TABLE first_steps_users").await?;
    pool.close().await;
    Ok(())
}
