//! The demo's fetch code against its own server.

use std::cell::Cell;
use std::time::Duration;

use corio_demo::{delay_for, fetch_concurrent, fetch_sequential, start_slow_server, Client};
use hyper::Uri;

#[corio::test]
async fn concurrent_fetching_beats_sequential_by_a_wide_margin() {
    let delay = Duration::from_millis(100);
    let (addr, server) = start_slow_server(delay, delay).await.unwrap();
    let urls: Vec<Uri> = (0..50)
        .map(|i| format!("http://{addr}/item/{i}").parse().unwrap())
        .collect();
    let client = Client::new();
    let done = Cell::new(0);

    let (sequential, seq_time) =
        fetch_sequential(&client, &urls, || done.set(done.get() + 1)).await;
    let (concurrent, conc_time) =
        fetch_concurrent(&client, &urls, 50, || done.set(done.get() + 1)).await;
    assert_eq!(done.get(), 100, "progress reported once per request");

    for (i, (a, b)) in sequential.iter().zip(&concurrent).enumerate() {
        let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
        assert_eq!(a.status, 200);
        assert_eq!(a.body, b.body);
        assert_eq!(
            a.body,
            format!("item {i} after 100 ms\n").as_bytes(),
            "results in URL order"
        );
    }
    // 50 x 100 ms one after another is at least 5 s; at once, about 100 ms.
    // 5x holds with a wide margin on any machine.
    assert!(seq_time >= Duration::from_secs(5));
    assert!(
        conc_time * 5 <= seq_time,
        "sequential {seq_time:?} vs concurrent {conc_time:?}"
    );
    server.cancel();
}

#[corio::test]
async fn concurrency_is_bounded_by_the_semaphore() {
    let delay = Duration::from_millis(50);
    let (addr, server) = start_slow_server(delay, delay).await.unwrap();
    let urls: Vec<Uri> = (0..20)
        .map(|i| format!("http://{addr}/item/{i}").parse().unwrap())
        .collect();
    // 20 requests, 5 at a time: at least 4 rounds of 50 ms.
    let (results, time) = fetch_concurrent(&Client::new(), &urls, 5, || {}).await;
    assert!(results.iter().all(Result::is_ok));
    assert!(time >= Duration::from_millis(200), "{time:?}");
    server.cancel();
}

#[corio::test]
async fn bad_urls_are_errors_not_panics() {
    let client = Client::new();
    let err = client
        .get(&"ftp://example.org/".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unsupported scheme"), "{err}");
    // A closed port on loopback: connection refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = client
        .get(&format!("http://127.0.0.1:{port}/").parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().to_lowercase().contains("refused"), "{err}");
}

#[test]
fn delays_stay_in_range_and_vary() {
    let (min, max) = (Duration::from_millis(50), Duration::from_millis(200));
    let delays: Vec<Duration> = (0..200).map(|i| delay_for(i, min, max)).collect();
    assert!(delays.iter().all(|d| *d >= min && *d <= max));
    assert!(
        delays
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len()
            > 50,
        "spread out"
    );
}
