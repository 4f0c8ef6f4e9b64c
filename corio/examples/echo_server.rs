//! A line echo server on asyncio-style streams.
//!
//! ```sh
//! cargo run --release --example echo_server -- 127.0.0.1:8888
//! ```
//! Then `cargo run --release --example many_clients -- 127.0.0.1:8888 1000 100`.

use corio::stream::{start_server, StreamReader, StreamWriter};

async fn echo(mut reader: StreamReader, writer: StreamWriter) {
    while let Ok(line) = reader.read_line().await {
        if line.is_empty() {
            break; // the client sent EOF
        }
        if writer.write(&line).is_err() || writer.drain().await.is_err() {
            break;
        }
    }
}

#[corio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8888".to_owned());
    let server = start_server(echo, addr.as_str()).await?;
    for addr in server.local_addrs() {
        println!("echo server listening on {addr:?}");
    }
    server.serve_forever().await;
    Ok(())
}
