//! tokio's vocabulary on corio: a `watch` for configuration, a `broadcast`
//! for events, a `Notify` for shutdown, tasks in a `JoinSet`, and a
//! `oneshot` answer from another thread.
//!
//! ```sh
//! cargo run --example channels
//! ```

use std::rc::Rc;
use std::time::Duration;

use corio::sync::{broadcast, oneshot, watch, Notify};
use corio::task::JoinSet;

#[corio::main]
async fn main() {
    let (config, config_rx) = watch::channel("fast");
    let (events, _) = broadcast::channel::<String>(16);
    let shutdown = Rc::new(Notify::new());

    let mut workers = JoinSet::new();
    for id in 0..3 {
        let (mut config, mut events, shutdown) =
            (config_rx.clone(), events.subscribe(), shutdown.clone());
        workers.spawn(async move {
            let mut seen = 0;
            let stop = shutdown.notified();
            let mut stop = std::pin::pin!(stop);
            loop {
                match corio::task::select(stop.as_mut(), events.recv()).await {
                    corio::task::Either::Left(()) => break,
                    corio::task::Either::Right(Ok(event)) => {
                        seen += 1;
                        if config.has_changed().unwrap_or(false) {
                            println!("worker {id}: config now {:?}", *config.borrow_and_update());
                        }
                        println!("worker {id}: {event}");
                    }
                    corio::task::Either::Right(Err(_)) => break,
                }
            }
            (id, seen)
        });
    }
    corio::yield_now().await;
    events.send("job 1".to_owned()).unwrap();
    corio::sleep(Duration::from_millis(10)).await;
    config.send("careful").unwrap();
    events.send("job 2".to_owned()).unwrap();
    corio::sleep(Duration::from_millis(10)).await;

    // A thread computes something and answers through a oneshot.
    let (answer_tx, answer) = oneshot::channel();
    std::thread::spawn(move || answer_tx.send(6 * 7).unwrap());
    println!("the thread says {}", answer.await.unwrap());

    shutdown.notify_waiters();
    while let Some(done) = workers.join_next().await {
        let (id, seen) = done.unwrap();
        println!("worker {id} stopped after {seen} events");
        assert_eq!(seen, 2);
    }
}
