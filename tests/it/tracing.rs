//! What the crate logs: a caller's mistakes at debug level at most, storage failures at warn
//! or error, and every field a span declares filled in.
//!
//! A small capturing layer records every event and, for every span, which of its declared
//! fields were given a value (when the span was made or later with `Span::record`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

use timconv::store::{ChangeSet, Snapshot};
use timconv::{
    CleanTarget, ConversationId, ConversationManager, Draft, Error, GroupType, MarkFlags,
    MemoryStore, Message, MessageHistory, Profile, ReadUpTo, ReceiveOption, Store,
};

use crate::common::{id, incoming};

/// One event as logged.
#[derive(Debug, Clone)]
struct Logged {
    level: Level,
    text: String,
}

#[derive(Default)]
struct Log {
    events: Vec<Logged>,
    /// Closed spans with declared fields that never got a value: `(span, field)`.
    unrecorded: Vec<(String, String)>,
    /// Names of the spans seen.
    spans: BTreeSet<String>,
}

/// The layer: shares its log with the test.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Log>>);

impl Capture {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The events at WARN or ERROR so far.
    fn loud(&self) -> Vec<Logged> {
        self.log()
            .events
            .iter()
            .filter(|e| e.level <= Level::WARN)
            .cloned()
            .collect()
    }

    fn clear(&self) {
        self.log().events.clear();
    }
}

/// The names of the fields a visit saw a value for.
#[derive(Default)]
struct Names(BTreeSet<String>);

impl Visit for Names {
    fn record_debug(&mut self, field: &Field, _: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned());
    }
}

/// An event's message and fields as one line.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

/// The fields a span was given values for so far (kept in the span's extensions).
struct Filled(BTreeSet<String>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut names = Names::default();
        attrs.record(&mut names);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Filled(names.0));
            self.log().spans.insert(span.name().to_owned());
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut names = Names::default();
        values.record(&mut names);
        if let Some(span) = ctx.span(id)
            && let Some(filled) = span.extensions_mut().get_mut::<Filled>()
        {
            filled.0.extend(names.0);
        }
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut text = Text::default();
        event.record(&mut text);
        self.log().events.push(Logged {
            level: *event.metadata().level(),
            text: text.0,
        });
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let missing: Vec<String> = {
            let extensions = span.extensions();
            let filled = extensions.get::<Filled>().map(|f| &f.0);
            span.metadata()
                .fields()
                .iter()
                .map(|f| f.name().to_owned())
                .filter(|name| filled.is_none_or(|filled| !filled.contains(name)))
                .collect()
        };
        let name = span.name().to_owned();
        self.log()
            .unrecorded
            .extend(missing.into_iter().map(|field| (name.clone(), field)));
    }
}

thread_local! {
    /// The capture of the test running on this thread, if it captures.
    static CURRENT: std::cell::RefCell<Option<Capture>> = const { std::cell::RefCell::new(None) };
}

fn current() -> Option<Capture> {
    CURRENT.with(|c| c.borrow().clone())
}

/// The process's one subscriber: hands everything logged on a thread to that thread's
/// capture. One subscriber for the whole test binary, rather than one per test set as the
/// thread's default: tracing caches whether a call site is enabled, and a call site first hit
/// by another test's thread while a capture was being installed could keep "disabled" for it.
struct Forward;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Forward {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        // Asked again at each call (whether this thread captures).
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, _: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        CURRENT.with(|c| c.borrow().is_some())
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(capture) = current() {
            capture.on_new_span(attrs, id, ctx);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(capture) = current() {
            capture.on_record(id, values, ctx);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if let Some(capture) = current() {
            capture.on_event(event, ctx);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(capture) = current() {
            capture.on_close(id, ctx);
        }
    }
}

/// Ends a test's capture.
struct CaptureGuard;

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.borrow_mut().take());
    }
}

/// A fresh capture of what this thread logs, until the guard is dropped. The tests below run on
/// a current-thread runtime, so the manager's writer and sync tasks log here too.
fn capture() -> (Capture, CaptureGuard) {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(Registry::default().with(Forward))
            .expect("no other global subscriber in the test binary");
    });
    let capture = Capture::default();
    CURRENT.with(|c| *c.borrow_mut() = Some(capture.clone()));
    (capture, CaptureGuard)
}

/// A memory store whose commits fail once `failing` is set, as a full disk would make them.
#[derive(Debug, Default)]
struct FailingStore {
    inner: MemoryStore,
    failing: Arc<AtomicBool>,
}

impl Store for FailingStore {
    fn load(&self) -> BoxFuture<'_, timconv::Result<Snapshot>> {
        self.inner.load()
    }

    fn commit<'a>(&'a self, change: &'a ChangeSet) -> BoxFuture<'a, timconv::Result<()>> {
        if self.failing.load(Ordering::SeqCst) {
            let err = std::io::Error::other("no space left on the test device");
            return Box::pin(async move { Err(Error::store(err)) });
        }
        self.inner.commit(change)
    }

    fn close(&self) -> BoxFuture<'_, timconv::Result<()>> {
        self.inner.close()
    }
}

#[tokio::test]
async fn caller_mistakes_log_nothing_louder_than_debug() {
    let (capture, _guard) = capture();
    let manager = ConversationManager::builder()
        .in_memory()
        .self_user_id("me")
        .open()
        .await
        .expect("opens");
    let missing = id("c2c_nobody");
    let team = id("group_team");
    manager.create_conversation(&team).await.expect("created");

    assert!(manager.pin(&missing).await.is_err());
    assert!(manager.unpin(&missing).await.is_err());
    assert!(manager.cancel_draft(&missing).await.is_err());
    assert!(
        manager
            .delete(&missing, MessageHistory::Keep)
            .await
            .is_err()
    );
    // Settings of a conversation not in the list are kept or refused; either way quietly.
    let _ = manager
        .set_profile(&missing, Profile::new().show_name("x"))
        .await;
    let _ = manager.set_group_type(&missing, GroupType::Public).await;
    assert!(
        manager
            .clean_unread(&missing, ReadUpTo::Everything)
            .await
            .is_err()
    );
    // A timestamp cannot read a group.
    assert!(
        manager
            .clean_unread(&team, ReadUpTo::Timestamp(5))
            .await
            .is_err()
    );
    assert!(
        manager
            .mark(&team, MarkFlags::from_bits_retain(1 << 4))
            .await
            .is_err()
    );
    assert!(
        manager
            .set_custom_data(&team, vec![0u8; 1 << 20])
            .await
            .is_err()
    );
    assert!(manager.create_folder("", &team).await.is_err());
    assert!(manager.delete_folder("nowhere").await.is_err());
    assert!(manager.rename_folder("nowhere", "else").await.is_err());
    assert!(manager.add_to_folder("nowhere", &team).await.is_err());
    assert!(manager.remove_from_folder("nowhere", &team).await.is_err());
    assert!(
        manager
            .move_to_folder(&team, "nowhere", "else")
            .await
            .is_err()
    );
    let empty: [ConversationId; 0] = [];
    assert!(
        manager
            .delete_many(empty, MessageHistory::Keep)
            .await
            .is_err()
    );
    // A group message without a sequence has no place in the list.
    let unplaced = Message::builder().msg_id("m1").text("hi").build();
    assert!(manager.ingest_message(&team, unplaced).await.is_err());
    // No store chosen.
    assert!(ConversationManager::builder().open().await.is_err());

    let loud = capture.loud();
    assert!(loud.is_empty(), "caller mistakes logged loudly: {loud:#?}");
    let debug = capture
        .log()
        .events
        .iter()
        .filter(|e| e.level == Level::DEBUG && e.text.contains("error"))
        .count();
    assert!(
        debug > 0,
        "the mistakes are not logged at debug level at all"
    );
    manager.shutdown().await.expect("shuts down");
}

#[tokio::test]
async fn a_failing_store_logs_a_warning() {
    let store = FailingStore::default();
    let failing = Arc::clone(&store.failing);
    let (capture, _guard) = capture();
    let manager = ConversationManager::builder()
        .store(store)
        .open()
        .await
        .expect("opens");
    let alice = id("c2c_alice");
    manager
        .ingest_message(&alice, incoming("m1", 10))
        .await
        .expect("stored");
    assert!(capture.loud().is_empty(), "{:#?}", capture.loud());

    failing.store(true, Ordering::SeqCst);
    let err = manager.pin(&alice).await.expect_err("the commit fails");
    assert!(matches!(err, Error::Store(_)), "{err:?}");
    let loud = capture.loud();
    assert!(
        loud.iter()
            .any(|e| e.level == Level::WARN && e.text.contains("no space left")),
        "a failed commit is not a warning naming its cause: {loud:#?}"
    );
    capture.clear();
    // Shutting down still works: only commits fail.
    manager.shutdown().await.expect("shuts down");
}

#[tokio::test]
async fn a_store_file_that_cannot_be_opened_logs_a_warning() {
    let (capture, _guard) = capture();
    let dir = crate::common::TempDir::new("tracing-open");
    let path = dir.path("no-such-directory").join("conversations.db");
    let err = ConversationManager::open(&path, "me")
        .await
        .expect_err("a missing directory");
    assert!(
        !capture.loud().is_empty(),
        "{err} was not logged as a warning"
    );
}

#[tokio::test]
async fn every_declared_span_field_is_recorded() {
    let (capture, _guard) = capture();
    let manager = ConversationManager::builder()
        .in_memory()
        .self_user_id("me")
        .open()
        .await
        .expect("opens");
    let alice = id("c2c_alice");
    let team = id("group_team");
    manager
        .ingest_message(&alice, incoming("m1", 10))
        .await
        .expect("ok");
    manager
        .ingest_messages([
            (team.clone(), incoming("g1", 1)),
            (team.clone(), incoming("g2", 2)),
        ])
        .await
        .expect("ok");
    manager
        .create_conversation(&id("c2c_bob"))
        .await
        .expect("ok");
    manager.pin(&alice).await.expect("ok");
    manager.unpin(&alice).await.expect("ok");
    manager
        .mark(&alice, MarkFlags::STAR)
        .await
        .and_then(timconv::BatchOutcome::into_result)
        .expect("ok");
    manager
        .unmark(&alice, MarkFlags::STAR)
        .await
        .and_then(timconv::BatchOutcome::into_result)
        .expect("ok");
    manager
        .set_custom_data(&alice, b"x".to_vec())
        .await
        .and_then(timconv::BatchOutcome::into_result)
        .expect("ok");
    let draft = Draft::new(Message::text("d1", "draft"), "", 1);
    manager.set_draft(&alice, draft).await.expect("ok");
    manager.cancel_draft(&alice).await.expect("ok");
    manager
        .set_profile(&team, Profile::new().show_name("Team"))
        .await
        .expect("ok");
    manager
        .set_receive_option(&team, ReceiveOption::NotNotify)
        .await
        .expect("ok");
    manager
        .set_group_type(&team, GroupType::Private)
        .await
        .expect("ok");
    manager
        .clean_unread(CleanTarget::All, ReadUpTo::Everything)
        .await
        .expect("ok");
    manager
        .create_folder("a", &alice)
        .await
        .and_then(timconv::BatchOutcome::into_result)
        .expect("ok");
    manager
        .create_folder("b", &team)
        .await
        .and_then(timconv::BatchOutcome::into_result)
        .expect("ok");
    manager
        .add_to_folder("a", &team)
        .await
        .and_then(timconv::BatchOutcome::into_result)
        .expect("ok");
    manager
        .remove_from_folder("a", &team)
        .await
        .and_then(timconv::BatchOutcome::into_result)
        .expect("ok");
    manager
        .move_to_folder(&alice, "a", "b")
        .await
        .and_then(timconv::BatchOutcome::into_result)
        .expect("ok");
    manager.rename_folder("b", "c").await.expect("ok");
    manager.delete_folder("c").await.expect("ok");
    manager
        .delete(&alice, MessageHistory::Keep)
        .await
        .expect("ok");
    manager
        .delete_many(&team, MessageHistory::Clear)
        .await
        .and_then(timconv::BatchOutcome::into_result)
        .expect("ok");
    manager.shutdown().await.expect("shuts down");

    let log = capture.log();
    for span in [
        "pin",
        "move_to_folder",
        "rename_folder",
        "set_custom_data",
        "clean_unread",
    ] {
        assert!(log.spans.contains(span), "no span {span}: {:?}", log.spans);
    }
    assert!(
        log.unrecorded.is_empty(),
        "declared span fields never recorded: {:?}",
        log.unrecorded
    );
}

#[tokio::test]
async fn a_sync_failure_warns_once_while_it_lasts() {
    let server = timconv::transport::loopback::LoopbackServer::new();
    let transport = server.transport("me", "phone");
    let (capture, _guard) = capture();
    let manager = ConversationManager::builder()
        .in_memory()
        .self_user_id("me")
        .transport(transport.clone())
        .open()
        .await
        .expect("opens");
    manager.sync().await.expect("online");
    assert!(capture.loud().is_empty(), "{:#?}", capture.loud());

    transport.set_online(false);
    for _ in 0..3 {
        let err = manager.sync().await.expect_err("offline");
        assert_eq!(err.code().as_i32(), 9508);
    }
    let warnings: Vec<Logged> = capture
        .loud()
        .into_iter()
        .filter(|e| e.text.contains("sync failed"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning per failure: {warnings:#?}");
    assert!(warnings[0].text.contains("9508"), "{warnings:#?}");

    // Back online: the next failure is news again.
    transport.set_online(true);
    manager.sync().await.expect("online again");
    transport.set_online(false);
    assert!(manager.sync().await.is_err());
    let warnings = capture
        .loud()
        .into_iter()
        .filter(|e| e.text.contains("sync failed"))
        .count();
    assert_eq!(warnings, 2);
    manager.shutdown().await.expect("shuts down");
}
