//! tokio-postgres on corio: no tokio runtime, corio's `TcpStream` through
//! the `tokio-io` feature, the connection future as a corio task, and a
//! small pool on corio's `Queue` for concurrent queries.
//!
//! ```sh
//! # against a local server (trust authentication, user postgres):
//! cargo run --features tokio-io --example postgres -- 127.0.0.1:5432
//! ```

use std::rc::Rc;

use corio::net::TcpStream;
use corio::queue::Queue;
use tokio_postgres::{Client, NoTls};

async fn connect(addr: &str) -> Result<Client, Box<dyn std::error::Error>> {
    let stream = TcpStream::connect(addr).await?;
    let mut config = tokio_postgres::Config::new();
    config.user("postgres").dbname("postgres");
    let (client, connection) = config.connect_raw(stream, NoTls).await?;
    // The connection does the socket work; it runs as a task on the loop.
    corio::spawn(async move {
        if let Err(err) = connection.await {
            eprintln!("connection error: {err}");
        }
    })
    .detach();
    Ok(client)
}

#[corio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5432".to_owned());
    // A pool of 4 connections: a task takes one from the queue and puts it back.
    let pool = Rc::new(Queue::new(4));
    for _ in 0..4 {
        pool.put_nowait(connect(&addr).await?)
            .map_err(|_| "pool full")?;
    }
    let tasks: Vec<_> = (0..20i32)
        .map(|i| {
            let pool = pool.clone();
            corio::spawn(async move {
                let client = pool.get().await.expect("the pool is open");
                let row = client.query_one("SELECT $1::int4 * $1::int4", &[&i]).await;
                pool.put_nowait(client).expect("room for it");
                row.map(|row| (i, row.get::<_, i32>(0)))
            })
        })
        .collect();
    for task in tasks {
        let (i, square) = task.await??;
        println!("{i}^2 = {square}");
    }
    Ok(())
}
