//! `corio_example_ext`: a separately built extension module whose `async`
//! functions are Rust futures running on corio's loop (through
//! `corio-ext`), and which awaits Python coroutines from Rust. The
//! `tokio_*` functions do the same through pyo3-async-runtimes on tokio's
//! threads, for the interop benchmark.

use pyo3::prelude::*;

/// `await yield_once()`: ready after one turn of the loop.
#[pyfunction]
fn yield_once(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    corio_ext::future_into_py(py, async {
        corio_ext::yield_now().await;
        Ok(None::<()>)
    })
}

/// `await count_primes(limit, chunk)`: the primes below `limit`, counted in
/// Rust, letting the loop turn after every `chunk` numbers (a long
/// computation that keeps the loop responsive).
#[pyfunction]
#[pyo3(signature = (limit, chunk = 10_000))]
fn count_primes(py: Python<'_>, limit: u64, chunk: u64) -> PyResult<Bound<'_, PyAny>> {
    if chunk == 0 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "chunk must be at least 1",
        ));
    }
    corio_ext::future_into_py(py, async move {
        let mut count = 0u64;
        let mut n = 2;
        while n < limit {
            let end = (n + chunk).min(limit);
            count += (n..end).filter(|&k| is_prime(k)).count() as u64;
            n = end;
            corio_ext::yield_now().await;
        }
        Ok(count)
    })
}

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

/// `await await_each(factory, n)`: a Rust task awaiting `factory()` (a
/// coroutine) `n` times, one after another; returns the last result.
#[pyfunction]
fn await_each<'py>(py: Python<'py>, factory: Py<PyAny>, n: u64) -> PyResult<Bound<'py, PyAny>> {
    corio_ext::future_into_py(py, async move {
        let mut last = Python::attach(|py| py.None());
        for _ in 0..n {
            let fut =
                Python::attach(|py| corio_ext::into_future(factory.bind(py).call0()?.as_ref()))?;
            last = fut.await?;
        }
        Ok(last)
    })
}

/// `await describe_outcome(awaitable)`: awaits a Python awaitable from
/// Rust and describes its outcome as Rust saw it: `"ok: <repr>"`, or
/// `"error: <type>: <message>"` (a Python exception as a Rust error value).
#[pyfunction]
fn describe_outcome<'py>(awaitable: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let fut = corio_ext::into_future(awaitable)?;
    corio_ext::future_into_py(awaitable.py(), async move {
        let outcome: Result<Py<PyAny>, PyErr> = fut.await;
        Python::attach(|py| match outcome {
            Ok(value) => Ok(format!("ok: {}", value.bind(py).repr()?)),
            Err(err) => Ok(format!(
                "error: {}: {}",
                err.get_type(py).name()?,
                err.value(py)
            )),
        })
    })
}

/// `await panic_after_yield(message)`: panics (after one turn) with
/// `message`; the awaiting coroutine gets `corio.RustPanic`.
#[pyfunction]
fn panic_after_yield(py: Python<'_>, message: String) -> PyResult<Bound<'_, PyAny>> {
    corio_ext::future_into_py(py, async move {
        corio_ext::yield_now().await;
        if !message.is_empty() {
            panic!("{message}");
        }
        Ok(())
    })
}

/// `await woken_from_thread(ms)`: a Rust future completed by another
/// thread (a blocking library's callback, say): the thread sleeps `ms`
/// milliseconds, then wakes the task through its waker; returns the
/// thread's name.
#[pyfunction]
fn woken_from_thread(py: Python<'_>, ms: u64) -> PyResult<Bound<'_, PyAny>> {
    use std::sync::{Arc, Mutex};
    use std::task::Poll;

    let shared: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let mut started = false;
    corio_ext::future_into_py(py, async move {
        let name = std::future::poll_fn(|cx| {
            if let Some(name) = shared.lock().unwrap().take() {
                return Poll::Ready(name);
            }
            if !started {
                started = true;
                let (shared, waker) = (shared.clone(), cx.waker().clone());
                std::thread::Builder::new()
                    .name("waker-thread".into())
                    .spawn(move || {
                        std::thread::sleep(std::time::Duration::from_millis(ms));
                        let me = std::thread::current().name().unwrap_or("").to_owned();
                        *shared.lock().unwrap() = Some(me);
                        waker.wake();
                    })
                    .expect("spawning a thread");
            }
            Poll::Pending
        })
        .await;
        Ok(name)
    })
}

/// Calls its Python callable when dropped.
struct CallOnDrop(Py<PyAny>);

impl Drop for CallOnDrop {
    fn drop(&mut self) {
        Python::attach(|py| {
            if let Err(err) = self.0.call0(py) {
                err.write_unraisable(py, None);
            }
        });
    }
}

/// `await wait_forever(on_drop)`: never finishes; when cancelled, its
/// future is dropped and `on_drop()` is called by a destructor.
#[pyfunction]
fn wait_forever(py: Python<'_>, on_drop: Py<PyAny>) -> PyResult<Bound<'_, PyAny>> {
    let guard = CallOnDrop(on_drop);
    corio_ext::future_into_py(py, async move {
        let _guard = guard;
        std::future::pending::<()>().await;
        Ok(())
    })
}

/// `await tokio_yield_once()`: pyo3-async-runtimes' way (a tokio worker
/// thread runs the future, which yields once).
#[pyfunction]
fn tokio_yield_once(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    pyo3_async_runtimes::tokio::future_into_py(py, async {
        tokio::task::yield_now().await;
        Ok(None::<()>)
    })
}

/// `await tokio_await_each(factory, n)`: `await_each` through
/// pyo3-async-runtimes (a tokio task awaiting coroutines on the loop).
#[pyfunction]
fn tokio_await_each<'py>(
    py: Python<'py>,
    factory: Py<PyAny>,
    n: u64,
) -> PyResult<Bound<'py, PyAny>> {
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        let mut last = Python::attach(|py| py.None());
        for _ in 0..n {
            let fut = Python::attach(|py| {
                pyo3_async_runtimes::tokio::into_future(factory.bind(py).call0()?)
            })?;
            last = fut.await?;
        }
        Ok(last)
    })
}

#[pymodule]
fn corio_example_ext(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(yield_once, m)?)?;
    m.add_function(wrap_pyfunction!(count_primes, m)?)?;
    m.add_function(wrap_pyfunction!(await_each, m)?)?;
    m.add_function(wrap_pyfunction!(describe_outcome, m)?)?;
    m.add_function(wrap_pyfunction!(panic_after_yield, m)?)?;
    m.add_function(wrap_pyfunction!(wait_forever, m)?)?;
    m.add_function(wrap_pyfunction!(woken_from_thread, m)?)?;
    m.add_function(wrap_pyfunction!(tokio_yield_once, m)?)?;
    m.add_function(wrap_pyfunction!(tokio_await_each, m)?)?;
    Ok(())
}
