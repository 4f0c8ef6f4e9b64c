//! `runtime::per_core`: every loop accepts connections on one shared port
//! (`SO_REUSEPORT`), and all stop together.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use corio::net::{BindOptions, TcpListener};

#[test]
fn every_loop_accepts_on_the_shared_port_and_all_stop_together() {
    const LOOPS: usize = 2;
    let port = Arc::new((Mutex::new(None::<u16>), Condvar::new()));
    let accepted: Arc<Vec<AtomicUsize>> =
        Arc::new((0..LOOPS).map(|_| AtomicUsize::new(0)).collect());
    let ended = Arc::new(AtomicUsize::new(0));
    let (p, a, e) = (port.clone(), accepted.clone(), ended.clone());
    let mut cores = corio::runtime::per_core(LOOPS, move |core| {
        let (port, accepted, ended) = (p.clone(), a.clone(), e.clone());
        async move {
            // Counted when the loop's future is dropped (stop) or ends.
            struct Ended(Arc<AtomicUsize>);
            impl Drop for Ended {
                fn drop(&mut self) {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }
            let _ended = Ended(ended);
            let options = BindOptions {
                reuse_port: true,
                ..BindOptions::default()
            };
            // Loop 0 picks the port; the others bind the same one.
            let listener = if core == 0 {
                let listener = TcpListener::bind_with("127.0.0.1:0", options)
                    .await
                    .unwrap();
                let (lock, ready) = &*port;
                *lock.lock().unwrap() = Some(listener.local_addr().unwrap().port());
                ready.notify_all();
                listener
            } else {
                let chosen = {
                    let (lock, ready) = &*port;
                    let guard = ready
                        .wait_while(lock.lock().unwrap(), |p| p.is_none())
                        .unwrap();
                    guard.unwrap()
                };
                TcpListener::bind_with(("127.0.0.1", chosen), options)
                    .await
                    .unwrap()
            };
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                accepted[core].fetch_add(1, Ordering::SeqCst);
                corio::spawn(async move {
                    let _ = stream.write_all(&[core as u8]).await;
                })
                .detach();
            }
        }
    })
    .unwrap();
    assert_eq!(cores.len(), LOOPS);
    let chosen = {
        let (lock, ready) = &*port;
        ready
            .wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(10), |p| {
                p.is_none()
            })
            .unwrap()
            .0
            .expect("loop 0 bound a port")
    };
    // Let every loop bind before connecting (the kernel balances among the
    // sockets bound at connect time).
    std::thread::sleep(Duration::from_millis(200));
    let mut answered_by = [0usize; LOOPS];
    for _ in 0..200 {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", chosen)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut core = [0u8; 1];
        stream.read_exact(&mut core).unwrap();
        answered_by[core[0] as usize] += 1;
        let _ = stream.write_all(b"bye");
    }
    assert!(
        answered_by.iter().all(|&n| n > 0),
        "a loop accepted nothing: {answered_by:?}"
    );
    let counted: Vec<usize> = accepted.iter().map(|n| n.load(Ordering::SeqCst)).collect();
    assert_eq!(counted, answered_by);

    cores.stop();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || done_tx.send(cores.join()).unwrap());
    let joined = done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the loops did not stop together");
    assert_eq!(joined, Ok(()));
    assert_eq!(ended.load(Ordering::SeqCst), LOOPS);
    // Nobody listens any more.
    assert!(std::net::TcpStream::connect(("127.0.0.1", chosen)).is_err());
}

#[test]
fn a_panicking_loop_is_reported_by_join() {
    let cores = corio::runtime::per_core(2, |core| async move {
        if core == 1 {
            panic!("core one gives up");
        }
    })
    .unwrap();
    let joined = cores.join();
    let message = joined.unwrap_err();
    assert!(
        message.contains("loop 1") && message.contains("core one gives up"),
        "{message}"
    );
}
