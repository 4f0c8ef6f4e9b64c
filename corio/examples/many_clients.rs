//! Opens many connections at once to an echo server, sends lines on each,
//! and checks every byte that comes back: many connections on one thread.
//!
//! ```sh
//! cargo run --release --example many_clients                      # own server, 1000 x 100
//! cargo run --release --example many_clients -- 127.0.0.1:8888 5000 10
//! ```

use std::rc::Rc;
use std::time::Instant;

use corio::stream::{open_connection, start_server, StreamReader, StreamWriter};
use corio::sync::Barrier;

async fn echo(mut reader: StreamReader, writer: StreamWriter) {
    while let Ok(line) = reader.read_line().await {
        if line.is_empty() || writer.write(&line).is_err() || writer.drain().await.is_err() {
            break;
        }
    }
}

#[corio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let connections: usize = args
        .get(1)
        .map_or(1000, |s| s.parse().expect("connections: a number"));
    let messages: usize = args
        .get(2)
        .map_or(100, |s| s.parse().expect("messages: a number"));
    let (addr, _server) = match args.first() {
        Some(addr) => (addr.clone(), None),
        None => {
            let server = start_server(echo, "127.0.0.1:0").await?;
            (
                format!("{:?}", server.local_addrs()[0].inet().unwrap()),
                Some(server),
            )
        }
    };
    let start = Instant::now();
    // Everyone connects, waits until all are connected, then talks.
    let all_connected = Rc::new(Barrier::new(connections));
    let clients: Vec<_> = (0..connections)
        .map(|c| {
            let addr = addr.clone();
            let all_connected = all_connected.clone();
            corio::spawn(async move {
                let (mut reader, writer) = open_connection(addr.as_str()).await?;
                all_connected.wait().await.expect("barrier");
                for m in 0..messages {
                    let line = format!("client {c} message {m}\n");
                    writer.write(line.as_bytes())?;
                    writer.drain().await?;
                    let echoed = reader.read_line().await?;
                    assert_eq!(echoed, line.as_bytes(), "echo mismatch on client {c}");
                }
                Ok::<_, std::io::Error>(())
            })
        })
        .collect();
    let mut failed = 0;
    for client in corio::gather_all(clients).await {
        if !matches!(client, Ok(Ok(()))) {
            failed += 1;
        }
    }
    let elapsed = start.elapsed();
    let round_trips = connections * messages;
    println!(
        "{connections} connections x {messages} messages to {addr}: {round_trips} round trips in {elapsed:.2?} \
         ({:.0}/s), {failed} failed",
        round_trips as f64 / elapsed.as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
