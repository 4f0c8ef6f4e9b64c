//! The `tracing` feature: a span per task (id, name, spawn location)
//! entered while it runs, and events for slow callbacks and unretrieved
//! task panics, seen by a real subscriber.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Records spans (with their fields) and events (with the span they
/// happened in) as lines of text.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        let mut fields = Fields(format!("span {}", attrs.metadata().name()));
        attrs.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields(format!("event {}", event.metadata().level()));
        event.record(&mut fields);
        if let Some(span) = ctx.event_span(event) {
            let _ = write!(fields.0, " in={}", span.name());
        }
        self.0.lock().unwrap().push(fields.0);
    }
}

#[test]
fn tasks_have_spans_and_slow_callbacks_and_lost_panics_are_events() {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    tracing::subscriber::with_default(subscriber, || {
        let runtime = corio::Builder::new()
            .debug(true)
            .slow_callback_duration(Duration::from_millis(20))
            .build()
            .unwrap();
        runtime.block_on(async {
            let named = corio::spawn_named("worker", async {
                tracing::info!("inside the task");
            });
            named.await.unwrap();
            // A task that blocks the loop for 50 ms: a slow callback.
            corio::spawn(async { std::thread::sleep(Duration::from_millis(50)) })
                .await
                .unwrap();
            // A panic nobody retrieves (the handle is dropped).
            corio::spawn(async { panic!("lost panic") }).detach();
            corio::sleep(Duration::from_millis(10)).await;
        });
    });
    let lines = recorder.0.lock().unwrap().clone();
    let text = lines.join("\n");
    assert!(
        lines.iter().any(|l| l.starts_with("span task")
            && l.contains("name=\"worker\"")
            && l.contains("spawned_at=")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("inside the task") && l.ends_with("in=task")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("event WARN") && l.contains("slow callback")),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("event ERROR")
            && l.contains("lost panic")
            && l.ends_with("in=task")),
        "{text}"
    );
}
