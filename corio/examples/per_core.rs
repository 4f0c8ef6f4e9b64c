//! One loop per core (`corio::runtime::per_core`), every loop accepting on
//! the same port through `SO_REUSEPORT`; each connection is told which
//! loop took it. Ctrl-C (or `--self-test`) stops them together.
//!
//! ```sh
//! cargo run --release --example per_core -- 127.0.0.1:4000
//! nc 127.0.0.1 4000
//! cargo run --example per_core -- --self-test    # connects 100 times, prints the spread, stops
//! ```

use std::io::Read;

use corio::net::{BindOptions, TcpListener};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let self_test = args.iter().any(|a| a == "--self-test");
    let addr = match args.iter().find(|a| !a.starts_with("--")) {
        // A free port, found by binding and letting go of it.
        _ if self_test => std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .to_string(),
        Some(addr) => addr.clone(),
        None => "127.0.0.1:4000".to_owned(),
    };
    let loops = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bind_to = addr.clone();
    let mut cores = corio::runtime::per_core(loops, move |core| {
        let addr = bind_to.clone();
        async move {
            let options = BindOptions {
                reuse_port: true,
                ..BindOptions::default()
            };
            let listener = TcpListener::bind_with(addr.as_str(), options)
                .await
                .expect("bind the shared port");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                corio::spawn(async move {
                    let _ = stream.write_all(format!("loop {core}\n").as_bytes()).await;
                })
                .detach();
            }
        }
    })?;
    println!("{loops} loops on {addr}, one per core");
    if self_test {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut spread = vec![0; loops];
        for _ in 0..100 {
            let mut answer = String::new();
            std::net::TcpStream::connect(addr.as_str())?.read_to_string(&mut answer)?;
            let core: usize = answer.trim().trim_start_matches("loop ").parse()?;
            spread[core] += 1;
        }
        println!("100 connections per loop: {spread:?}");
        cores.stop();
        cores.join()?;
        return Ok(());
    }
    // Until Ctrl-C: a thread waits for the signal, then stops every loop.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        corio::run(async {
            let _ = corio::signal::ctrl_c().await;
        });
        let _ = tx.send(());
    });
    let _ = rx.recv();
    cores.stop();
    cores.join()?;
    println!("stopped");
    Ok(())
}
