//! A real PostgreSQL server through the stack: tokio-postgres driven on
//! corio (its `connect_raw` takes a corio `TcpStream` through the
//! `tokio-io` feature; the connection future is a corio task, no tokio
//! runtime anywhere), concurrent queries through a small pool built on
//! corio's `Queue`, and a transaction rolled back by a cancelled task.
//!
//! The test starts its own server (initdb + pg_ctl from Debian's
//! `postgresql` package, which `scripts/ensure-services.sh` installs) in a
//! temporary directory on a free port, and stops it at the end.

use std::path::PathBuf;
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use corio::net::TcpStream;
use corio::queue::Queue;
use corio::{spawn, timeout, TaskError};
use tokio_postgres::{Client, NoTls};

/// A PostgreSQL server of the test's own; stopped when dropped.
struct Server {
    dir: PathBuf,
    port: u16,
}

fn binary(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|version| version.path().join("bin").join(name))
        .filter(|path| path.exists())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL's {name} is not installed (Debian's postgresql package; \
             scripts/ensure-services.sh installs it): this test starts its own server"
        )
    })
}

/// initdb refuses to run as root: then run it (and pg_ctl) as `postgres`.
fn as_postgres(program: PathBuf, args: &[&str]) -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program).args(args);
        cmd
    } else {
        let mut cmd = Command::new(program);
        cmd.args(args);
        cmd
    }
}

fn run(mut cmd: Command, what: &str, log: &std::path::Path) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {what}: {e}"));
    if !out.status.success() {
        panic!(
            "PostgreSQL did not start ({what} failed): {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
}

impl Server {
    fn start() -> Server {
        let dir = std::env::temp_dir().join(format!("corio-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(
                status.success(),
                "could not hand {dir:?} to the postgres user"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data = dir.join("data");
        let log = dir.join("log");
        let data_s = data.to_str().unwrap();
        run(
            as_postgres(
                binary("initdb"),
                &["-D", data_s, "-A", "trust", "-U", "postgres", "--no-sync"],
            ),
            "initdb",
            &log,
        );
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.display()
        );
        run(
            as_postgres(
                binary("pg_ctl"),
                &[
                    "-D",
                    data_s,
                    "-l",
                    log.to_str().unwrap(),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    &options,
                    "start",
                ],
            ),
            "pg_ctl start",
            &log,
        );
        Server { dir, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = as_postgres(
            binary("pg_ctl"),
            &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
        )
        .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A tokio-postgres client over a corio socket; its connection runs as a
/// corio task.
async fn connect(port: u16) -> Client {
    connect_as(port, "corio-test").await
}

async fn connect_as(port: u16, application: &str) -> Client {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut config = tokio_postgres::Config::new();
    config
        .user("postgres")
        .dbname("postgres")
        .application_name(application);
    let (client, connection) = config.connect_raw(stream, NoTls).await.unwrap();
    spawn(async move {
        let _ = connection.await;
    })
    .detach();
    client
}

/// The smallest pool: idle clients in a corio `Queue`; a task takes one
/// (waiting when all are out) and puts it back.
struct Pool {
    idle: Queue<Client>,
}

impl Pool {
    async fn new(port: u16, size: usize) -> Rc<Pool> {
        let idle = Queue::new(size);
        for _ in 0..size {
            idle.put_nowait(connect(port).await).unwrap();
        }
        Rc::new(Pool { idle })
    }

    async fn query_one_i64(&self, sql: &str, arg: i64) -> i64 {
        let client = self.idle.get().await.unwrap();
        let row = client.query_one(sql, &[&arg]).await.unwrap();
        self.idle.put_nowait(client).unwrap();
        row.get(0)
    }
}

#[corio::test]
async fn tokio_postgres_runs_on_corio_with_a_pool_and_rolls_back_a_cancelled_transaction() {
    let server = Server::start();
    let port = server.port;

    // 50 tasks x 40 queries through a pool of 8 connections.
    let pool = Pool::new(port, 8).await;
    let tasks: Vec<_> = (0..50i64)
        .map(|t| {
            let pool = pool.clone();
            spawn(async move {
                let mut sum = 0;
                for i in 0..40i64 {
                    sum += pool
                        .query_one_i64("SELECT $1::int8 * 2", t * 1000 + i)
                        .await;
                }
                sum
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += timeout(Duration::from_secs(60), task)
            .await
            .unwrap()
            .unwrap();
    }
    let expected: i64 = (0..50i64)
        .flat_map(|t| (0..40i64).map(move |i| 2 * (t * 1000 + i)))
        .sum();
    assert_eq!(total, expected);

    // A transaction whose task is cancelled midway is rolled back.
    let setup = connect(port).await;
    setup
        .batch_execute("CREATE TABLE items (name text PRIMARY KEY)")
        .await
        .unwrap();
    let writer = spawn(async move {
        let mut client = connect_as(port, "corio-writer").await;
        let tx = client.transaction().await.unwrap();
        tx.execute("INSERT INTO items VALUES ('uncommitted')", &[])
            .await
            .unwrap();
        // Cancelled while the server sleeps: the transaction is dropped
        // unfinished.
        tx.batch_execute("SELECT pg_sleep(2)").await.unwrap();
        tx.commit().await.unwrap();
    });
    corio::sleep(Duration::from_millis(300)).await;
    writer.cancel();
    assert!(matches!(writer.await, Err(TaskError::Cancelled)));
    let count: i64 = setup
        .query_one("SELECT count(*) FROM items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0, "the cancelled transaction's row is visible");
    // Dropping the unfinished transaction queued a ROLLBACK behind the
    // sleep; then the connection task, whose client is gone, closes the
    // session. Wait for that, then look again.
    let mut sessions: i64 = -1;
    for _ in 0..100 {
        sessions = setup
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name = 'corio-writer'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if sessions == 0 {
            break;
        }
        corio::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sessions, 0, "the cancelled task's session did not end");
    let count: i64 = setup
        .query_one("SELECT count(*) FROM items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0, "the cancelled transaction was committed");
    drop(server);
}
