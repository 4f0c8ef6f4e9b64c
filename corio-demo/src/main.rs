//! corio's flagship demo: why asyncio exists, in one minute.
//!
//! ```sh
//! cargo run --release -p corio-demo
//! cargo run --release -p corio-demo -- --count 50 --concurrency 10
//! cargo run --release -p corio-demo -- --url https://example.org/ --url http://localhost:8080/
//! ```

use std::time::{Duration, Instant};

use corio::executor::{worker_main, ProcessPool};
use corio_demo::{
    count_primes, fetch_concurrent, fetch_sequential, start_slow_server, Client, COUNT_PRIMES,
};
use hyper::Uri;
use indicatif::{ProgressBar, ProgressStyle};

struct Options {
    urls: Vec<String>,
    count: usize,
    concurrency: usize,
    cpu_jobs: usize,
    cpu_size: u64,
}

const HELP: &str = "corio-demo: many web requests at once on one thread, then CPU work on threads and processes

Options:
  --url URL          fetch this URL instead of the local slow server (repeat for more; http or https)
  --count N          requests to the local server (default 200)
  --concurrency N    requests in flight at once (default 50)
  --cpu-jobs N       CPU-heavy jobs (default: 2 per core)
  --cpu-size N       each job counts the primes below N (default 1500000)
  --help             this text";

fn parse_args() -> Result<Options, String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut options = Options {
        urls: Vec::new(),
        count: 200,
        concurrency: 50,
        cpu_jobs: 2 * cores,
        cpu_size: 1_500_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--url" => options.urls.push(value("--url")?),
            "--count" => {
                options.count = value("--count")?
                    .parse()
                    .map_err(|e| format!("--count: {e}"))?
            }
            "--concurrency" => {
                options.concurrency = value("--concurrency")?
                    .parse()
                    .map_err(|e| format!("--concurrency: {e}"))?
            }
            "--cpu-jobs" => {
                options.cpu_jobs = value("--cpu-jobs")?
                    .parse()
                    .map_err(|e| format!("--cpu-jobs: {e}"))?
            }
            "--cpu-size" => {
                options.cpu_size = value("--cpu-size")?
                    .parse()
                    .map_err(|e| format!("--cpu-size: {e}"))?
            }
            "--help" | "-h" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other:?}\n\n{HELP}")),
        }
    }
    Ok(options)
}

fn progress(len: usize, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>24} [{bar:40}] {pos}/{len} {elapsed_precise}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_owned());
    bar
}

fn main() {
    worker_main(&[&COUNT_PRIMES]); // a process-pool worker serves jobs here and never returns
    let options = match parse_args() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    corio::run(demo(options));
}

async fn demo(options: Options) {
    let mut table: Vec<(String, Duration, String)> = Vec::new();

    // 1. I/O-bound: many requests at once on one thread.
    let (urls, _server) = if options.urls.is_empty() {
        let (addr, server) =
            start_slow_server(Duration::from_millis(50), Duration::from_millis(200))
                .await
                .expect("start the local server");
        println!("Local HTTP server on http://{addr}/ answers each /item/N in 50-200 ms.");
        let urls: Vec<Uri> = (0..options.count)
            .map(|i| format!("http://{addr}/item/{i}").parse().unwrap())
            .collect();
        (urls, Some(server))
    } else {
        let urls = options.urls.iter().map(|u| {
            u.parse::<Uri>()
                .unwrap_or_else(|e| panic!("bad URL {u:?}: {e}"))
        });
        (urls.collect(), None)
    };
    let client = Client::new();
    println!(
        "\n1. The I/O-bound lesson: {} requests, one after another, then {} at a time.\n",
        urls.len(),
        options.concurrency
    );

    let bar = progress(urls.len(), "one after another");
    let (sequential, seq_time) = fetch_sequential(&client, &urls, || bar.inc(1)).await;
    bar.finish();
    let bar = progress(urls.len(), "concurrently (gather)");
    let (concurrent, conc_time) =
        fetch_concurrent(&client, &urls, options.concurrency, || bar.inc(1)).await;
    bar.finish();
    let ok = |results: &[Result<corio_demo::Fetched, corio_demo::Error>]| {
        results.iter().filter(|r| r.is_ok()).count()
    };
    for (url, result) in urls.iter().zip(&concurrent) {
        if let Err(e) = result {
            eprintln!("  {url}: {e}");
        }
    }
    table.push((
        "requests one after another".into(),
        seq_time,
        format!("{}/{} ok", ok(&sequential), urls.len()),
    ));
    table.push((
        format!("requests {} at a time", options.concurrency),
        conc_time,
        format!(
            "{}/{} ok, {:.1}x faster",
            ok(&concurrent),
            urls.len(),
            seq_time.as_secs_f64() / conc_time.as_secs_f64()
        ),
    ));

    // 2. CPU-bound: the loop cannot help; threads and processes can.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "\n2. The CPU-bound lesson: {} jobs counting primes below {} on {cores} cores.\n",
        options.cpu_jobs, options.cpu_size
    );
    let size = options.cpu_size;
    let bar = progress(options.cpu_jobs, "one after another");
    let start = Instant::now();
    for _ in 0..options.cpu_jobs {
        std::hint::black_box(count_primes(size));
        bar.inc(1);
        corio::yield_now().await; // let the progress bar and the loop breathe
    }
    let cpu_seq = start.elapsed();
    bar.finish();

    let bar = progress(options.cpu_jobs, "threads (to_thread)");
    let start = Instant::now();
    let bar_ref = &bar;
    corio::gather_all((0..options.cpu_jobs).map(|_| async move {
        let r = corio::to_thread(move || count_primes(size)).await;
        bar_ref.inc(1);
        r
    }))
    .await;
    let cpu_threads = start.elapsed();
    bar.finish();

    let pool = ProcessPool::with_default_workers();
    let _ = pool.submit(&COUNT_PRIMES, 10).await; // start the workers before timing
    let bar = progress(options.cpu_jobs, "process pool");
    let start = Instant::now();
    let bar_ref = &bar;
    corio::gather_all((0..options.cpu_jobs).map(|_| async {
        let r = pool.submit(&COUNT_PRIMES, size).await;
        bar_ref.inc(1);
        r
    }))
    .await;
    let cpu_processes = start.elapsed();
    bar.finish();
    pool.shutdown().await;

    let speedup = |t: Duration| format!("{:.1}x", cpu_seq.as_secs_f64() / t.as_secs_f64());
    table.push(("CPU jobs one after another".into(), cpu_seq, "1.0x".into()));
    table.push((
        "CPU jobs on threads".into(),
        cpu_threads,
        speedup(cpu_threads),
    ));
    table.push((
        "CPU jobs on processes".into(),
        cpu_processes,
        speedup(cpu_processes),
    ));

    println!("\n{:<30} {:>10}", "", "time");
    for (name, time, note) in &table {
        println!("{name:<30} {:>10.2?}   {note}", time);
    }
    println!(
        "\nWaiting overlaps on one thread; computing needs more cores ({cores} here): \
         threads and processes give that."
    );
}
