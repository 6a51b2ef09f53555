//! Server sync through the loopback reference server (issue: sync): two devices of one user,
//! offline work, stale server state, rejections, full resync, events, and a property test with
//! random operations, faults and restarts on two SQLite devices.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use timconv::transport::loopback::{Faults, LoopbackServer, LoopbackTransport};
use timconv::transport::{
    Bookmark, PendingOperation, PullResponse, PushResponse, ServerEvent, Transport, TransportError,
};
use timconv::{
    CleanTarget, ConversationId, ConversationManager, Draft, ErrorCode, Event, Limits, MarkFlags,
    Message, SqliteStoreOptions,
};

use crate::common::{TempDir, check_consistent, id, incoming, invariant_filters};

pub(crate) const USER: &str = timconv_testkit::property::USER;

// What roams, and settling devices: shared with the server's tests.
pub(crate) use timconv_testkit::sync::{RoamingView, device_view, fast_sync, settle, state_view};

/// Opens a device of `USER`: a manager on the SQLite file at `path`, syncing through
/// `transport`.
pub(crate) async fn open_device(
    path: &Path,
    transport: impl Transport,
    limits: Limits,
) -> ConversationManager {
    timconv_testkit::sync::open_device(path, USER, transport, limits).await
}

/// What roams on the server for `USER`, as [`device_view`] shows a device.
pub(crate) fn server_view(server: &LoopbackServer) -> RoamingView {
    state_view(&server.state(USER))
}

pub(crate) fn assert_converged(server: &LoopbackServer, devices: &[&ConversationManager]) {
    let expected = server_view(server);
    for (n, d) in devices.iter().enumerate() {
        assert_eq!(
            device_view(d),
            expected,
            "device {n} differs from the server"
        );
        check_consistent(d, &invariant_filters(), 3).expect("counters equal a recount");
    }
}

/// Two devices of `USER`, "a" and "b", on SQLite files, syncing through one loopback server
/// that has delivered `messages` (conversation, message ID, position); settled.
pub(crate) struct Pair {
    _dir: TempDir,
    pub(crate) server: LoopbackServer,
    pub(crate) a: ConversationManager,
    pub(crate) b: ConversationManager,
    /// Device b's transport, to take it offline.
    pub(crate) tb: LoopbackTransport,
}

pub(crate) async fn pair(label: &str, limits: Limits, messages: &[(&str, &str, u64)]) -> Pair {
    let dir = TempDir::new(label);
    let server = LoopbackServer::with_limits(limits);
    for (conversation, msg_id, position) in messages {
        server.deliver(USER, &id(conversation), incoming(msg_id, *position));
    }
    let tb = server.transport(USER, "b");
    let a = open_device(&dir.path("a.db"), server.transport(USER, "a"), limits).await;
    let b = open_device(&dir.path("b.db"), tb.clone(), limits).await;
    settle(&[&a, &b]).await.expect("settle");
    Pair {
        _dir: dir,
        server,
        a,
        b,
        tb,
    }
}

/// What a [`Hooked`] transport does with a push before sending it: `Some` refuses it.
type PushHook = Arc<dyn Fn(&[PendingOperation]) -> Option<TransportError> + Send + Sync>;

/// A loopback transport with test hooks: each push is shown to `on_push` first, which may
/// refuse it with an error, and pull answers wait for `pull_gate` when there is one.
#[derive(Clone)]
pub(crate) struct Hooked {
    pub(crate) inner: LoopbackTransport,
    on_push: PushHook,
    pull_gate: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl std::fmt::Debug for Hooked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooked")
            .field("inner", &self.inner)
            .finish()
    }
}

impl Hooked {
    pub(crate) fn new(inner: LoopbackTransport) -> Self {
        Self {
            inner,
            on_push: Arc::new(|_| None),
            pull_gate: None,
        }
    }

    pub(crate) fn on_push(
        mut self,
        hook: impl Fn(&[PendingOperation]) -> Option<TransportError> + Send + Sync + 'static,
    ) -> Self {
        self.on_push = Arc::new(hook);
        self
    }

    /// Pull answers are computed at once (the server's state then) but delivered only while
    /// the test does not hold `gate`.
    pub(crate) fn gate_pulls(mut self, gate: Arc<tokio::sync::Mutex<()>>) -> Self {
        self.pull_gate = Some(gate);
        self
    }
}

impl Transport for Hooked {
    fn push(
        &self,
        ops: Vec<PendingOperation>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        match (self.on_push)(&ops) {
            Some(refused) => Box::pin(async move { Err(refused) }),
            None => self.inner.push(ops),
        }
    }

    fn pull(
        &self,
        since: Option<Bookmark>,
        limit: usize,
    ) -> BoxFuture<'_, Result<PullResponse, TransportError>> {
        Box::pin(async move {
            let answer = self.inner.pull(since, limit).await;
            if let Some(gate) = &self.pull_gate {
                let _open = gate.lock().await;
            }
            answer
        })
    }

    fn connect(&self) -> BoxFuture<'_, Result<BoxStream<'static, ServerEvent>, TransportError>> {
        self.inner.connect()
    }
}

/// Collects events from a stream until it has been quiet for a moment.
pub(crate) async fn drain(events: &mut timconv::EventStream) -> Vec<Event> {
    let mut seen = Vec::new();
    while let Ok(Some(Ok(e))) = tokio::time::timeout(Duration::from_millis(50), events.next()).await
    {
        seen.push(e);
    }
    seen
}

#[tokio::test]
async fn roaming_changes_reach_the_other_device_and_drafts_do_not() {
    let Pair { server, a, b, .. } = pair(
        "sync-two",
        Limits::default(),
        &[
            ("c2c_bob", "b1", 100),
            ("c2c_bob", "b2", 101),
            ("c2c_carol", "c1", 200),
            ("c2c_dave", "d1", 300),
            ("group_g1", "g1-1", 5),
        ],
    )
    .await;
    let (bob, carol, dave, g1) = (
        id("c2c_bob"),
        id("c2c_carol"),
        id("c2c_dave"),
        id("group_g1"),
    );
    assert_eq!(b.total_unread(), 5);

    a.pin(&bob).await.expect("pin");
    a.mark(
        std::slice::from_ref(&g1),
        MarkFlags::STAR | MarkFlags::extension(40).expect("ext"),
    )
    .await
    .expect("mark")
    .into_result()
    .expect("mark");
    a.set_custom_data(std::slice::from_ref(&carol), vec![0xde_u8, 0xad, 0x00])
        .await
        .expect("custom data")
        .into_result()
        .expect("custom data");
    a.create_folder("work", &[g1.clone(), carol.clone()])
        .await
        .expect("group")
        .into_result()
        .expect("group");
    a.clean_unread(
        CleanTarget::Conversation(bob.clone()),
        timconv::ReadUpTo::Everything,
    )
    .await
    .expect("clean");
    a.delete(&dave, timconv::MessageHistory::Keep)
        .await
        .expect("delete");
    a.set_draft(&carol, Draft::new(Message::text("", "not for b"), "", 1))
        .await
        .expect("draft");
    settle(&[&a, &b]).await.expect("settle");

    assert_converged(&server, &[&a, &b]);
    let on_b = |c: &ConversationId| b.get(c).expect("on b");
    assert!(on_b(&bob).is_pinned);
    assert_eq!(on_b(&bob).unread_count, 0);
    assert!(on_b(&g1).marks.contains(MarkFlags::STAR));
    assert_eq!(on_b(&carol).custom_data.as_bytes(), &[0xde, 0xad, 0x00]);
    assert_eq!(b.folders(), vec!["work".to_owned()]);
    assert!(b.get(&dave).is_none(), "the delete reached b");
    assert!(a.get(&carol).and_then(|c| c.draft.clone()).is_some());
    assert!(
        on_b(&carol).draft.is_none(),
        "drafts never leave the device"
    );
    assert_eq!(b.total_unread(), a.total_unread());

    // And back: b renames the group and unpins; a sees both.
    b.rename_folder("work", "office").await.expect("rename");
    b.unpin(&bob).await.expect("unpin");
    settle(&[&a, &b]).await.expect("settle");
    assert_converged(&server, &[&a, &b]);
    assert_eq!(a.folders(), vec!["office".to_owned()]);
    assert!(!a.get(&bob).expect("bob").is_pinned);
}

#[tokio::test]
async fn offline_changes_apply_at_once_survive_a_restart_and_reach_the_server_once() {
    let dir = TempDir::new("sync-offline");
    let server = LoopbackServer::new();
    let bob = id("c2c_bob");
    server.deliver(USER, &bob, incoming("m1", 10));
    let transport = server.transport(USER, "phone");
    let phone = open_device(&dir.path("phone.db"), transport.clone(), Limits::default()).await;
    settle(&[&phone]).await.expect("settle");

    transport.set_online(false);
    phone.pin(&bob).await.expect("pin offline");
    phone
        .mark(std::slice::from_ref(&bob), MarkFlags::FOLD)
        .await
        .expect("mark offline")
        .into_result()
        .expect("mark offline");
    phone
        .clean_unread(bob.clone(), timconv::ReadUpTo::Everything)
        .await
        .expect("clean offline");
    // Applied locally at once.
    let local = phone.get(&bob).expect("bob");
    assert!(local.is_pinned && local.marks.contains(MarkFlags::FOLD));
    assert_eq!(local.unread_count, 0);
    assert_eq!(phone.pending_operations(), 3);
    assert!(phone.sync().await.is_err(), "no sync while offline");
    assert!(server.applied(USER).is_empty());

    // Survives a restart, still offline.
    phone.shutdown().await.expect("shutdown");
    drop(phone);
    let phone = open_device(&dir.path("phone.db"), transport.clone(), Limits::default()).await;
    assert_eq!(phone.pending_operations(), 3);
    assert!(phone.get(&bob).expect("bob").is_pinned);

    // Reconnect, with responses lost half of the time: each operation applies exactly once.
    transport.set_faults(Some(
        Faults::new(7)
            .with_drop_response(0.5)
            .with_duplicate_request(0.3),
    ));
    transport.set_online(true);
    for _ in 0..100 {
        if phone.sync().await.is_ok() && phone.pending_operations() == 0 {
            break;
        }
    }
    assert_eq!(phone.pending_operations(), 0);
    let applied = server.applied(USER);
    assert_eq!(applied.len(), 3, "each operation exactly once: {applied:?}");
    let state = server.state(USER);
    let remote = &state.conversations[&bob];
    assert!(remote.pinned);
    assert_eq!(remote.marks, MarkFlags::FOLD.bits());
    assert_eq!(remote.read_position, 10);
}

#[tokio::test]
async fn a_stale_server_state_delivered_after_a_local_change_does_not_undo_it() {
    let dir = TempDir::new("sync-stale");
    let server = LoopbackServer::new();
    let bob = id("c2c_bob");
    server.deliver(USER, &bob, incoming("m1", 10));
    server.deliver(USER, &bob, incoming("m2", 11));
    let gate = Arc::new(tokio::sync::Mutex::new(()));
    let transport = Hooked::new(server.transport(USER, "a")).gate_pulls(Arc::clone(&gate));
    let a = open_device(&dir.path("a.db"), transport, Limits::default()).await;
    settle(&[&a]).await.expect("settle");

    // Hold the next pull's answer (unpinned, unmarked, unread 2), change things locally, then
    // let the stale answer in.
    let held = gate.lock().await;
    let syncing = {
        let a = a.clone();
        tokio::spawn(async move { a.sync().await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    a.pin(&bob).await.expect("pin");
    a.mark(std::slice::from_ref(&bob), MarkFlags::STAR)
        .await
        .expect("mark")
        .into_result()
        .expect("mark");
    a.clean_unread(bob.clone(), timconv::ReadUpTo::Everything)
        .await
        .expect("read");
    drop(held);
    syncing.await.expect("join").expect("sync");
    let c = a.get(&bob).expect("bob");
    assert!(c.is_pinned, "the stale state did not unpin");
    assert!(c.marks.contains(MarkFlags::STAR), "nor unmark");
    assert_eq!(c.unread_count, 0, "nor move the read position back");
    settle(&[&a]).await.expect("settle");
    assert_converged(&server, &[&a]);
    assert!(server.state(USER).conversations[&bob].pinned);
}

#[tokio::test]
async fn a_rejected_operation_rolls_back_and_is_reported() {
    let limits = Limits::default().with_max_pinned(1);
    let Pair {
        server, a, b, tb, ..
    } = pair(
        "sync-reject",
        limits,
        &[("c2c_bob", "b1", 10), ("c2c_carol", "c1", 11)],
    )
    .await;
    let (bob, carol) = (id("c2c_bob"), id("c2c_carol"));

    tb.set_online(false);
    a.pin(&bob).await.expect("a pins bob");
    settle(&[&a]).await.expect("a settles");
    b.pin(&carol).await.expect("b pins carol while offline");
    assert!(b.get(&carol).expect("carol").is_pinned);

    let mut events = b.events();
    tb.set_online(true);
    settle(&[&a, &b]).await.expect("settle");
    let seen = drain(&mut events).await;
    let rejected: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            Event::OperationRejected { code, .. } => Some(*code),
            _ => None,
        })
        .collect();
    assert_eq!(rejected, vec![ErrorCode::TooManyPinned]);
    assert!(!b.get(&carol).expect("carol").is_pinned, "rolled back");
    assert!(b.get(&bob).expect("bob").is_pinned, "a's pin arrived");
    assert_converged(&server, &[&a, &b]);
}

#[tokio::test]
async fn too_far_behind_resyncs_fully() {
    let Pair {
        server, a, b, tb, ..
    } = pair(
        "sync-resync",
        Limits::default(),
        &[("c2c_bob", "b1", 10), ("c2c_carol", "c1", 11)],
    )
    .await;
    let (bob, carol) = (id("c2c_bob"), id("c2c_carol"));

    tb.set_online(false);
    a.delete(&carol, timconv::MessageHistory::Keep)
        .await
        .expect("delete");
    a.pin(&bob).await.expect("pin");
    a.create_folder("g", std::slice::from_ref(&bob))
        .await
        .expect("group")
        .into_result()
        .expect("group");
    settle(&[&a]).await.expect("a settles");
    server.forget_history(USER);
    tb.set_online(true);
    settle(&[&a, &b]).await.expect("settle");
    assert!(
        b.get(&carol).is_none(),
        "the forgotten delete still reached b"
    );
    assert_converged(&server, &[&a, &b]);
}

#[tokio::test]
async fn a_deleted_conversation_comes_back_only_with_a_newer_message() {
    let Pair { server, a, b, .. } =
        pair("sync-delete", Limits::default(), &[("c2c_bob", "m1", 10)]).await;
    let bob = id("c2c_bob");
    a.delete(&bob, timconv::MessageHistory::Keep)
        .await
        .expect("delete");
    settle(&[&a, &b]).await.expect("settle");
    assert!(b.get(&bob).is_none());

    // Replayed old message: stays deleted everywhere.
    server.deliver(USER, &bob, incoming("m0", 9));
    settle(&[&a, &b]).await.expect("settle");
    assert!(a.get(&bob).is_none() && b.get(&bob).is_none());
    // A newer message: back on both, with only the new message unread.
    server.deliver(USER, &bob, incoming("m2", 20));
    settle(&[&a, &b]).await.expect("settle");
    for d in [&a, &b] {
        let c = d.get(&bob).expect("back");
        assert_eq!(c.unread_count, 1);
        assert!(!c.is_pinned);
    }
    assert_converged(&server, &[&a, &b]);
}

#[tokio::test]
async fn sync_events_come_in_pairs() {
    let dir = TempDir::new("sync-events");
    let server = LoopbackServer::new();
    let transport = server.transport(USER, "a");
    let a = open_device(&dir.path("a.db"), transport.clone(), Limits::default()).await;
    let mut events = a.events();
    a.sync().await.expect("sync");
    transport.set_online(false);
    let err = a.sync().await.expect_err("offline");
    assert_eq!(err.code(), ErrorCode::NetworkDisconnected);
    transport.set_online(true);
    a.sync().await.expect("sync");
    let progress: Vec<u32> = drain(&mut events)
        .await
        .iter()
        .filter_map(|e| match e {
            Event::SyncStarted => Some(3),
            Event::SyncFinished => Some(4),
            Event::SyncFailed { .. } => Some(5),
            _ => None,
        })
        .collect();
    assert!(!progress.is_empty());
    for pair in progress.chunks(2) {
        assert!(pair == [3, 4] || pair == [3, 5], "unpaired: {progress:?}");
    }
    assert!(
        progress.contains(&5),
        "the offline cycle failed: {progress:?}"
    );

    let local = ConversationManager::builder()
        .in_memory()
        .open()
        .await
        .expect("open");
    assert_eq!(
        local.sync().await.expect_err("no transport").code(),
        ErrorCode::NotSupported
    );
}

#[tokio::test]
async fn a_push_refused_as_a_whole_rejects_its_operations_and_resyncs() {
    let dir = TempDir::new("sync-refused");
    let server = LoopbackServer::new();
    let bob = id("c2c_bob");
    server.deliver(USER, &bob, incoming("b1", 10));
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hook = Arc::clone(&armed);
    let transport = Hooked::new(server.transport(USER, "a")).on_push(move |_| {
        hook.swap(false, std::sync::atomic::Ordering::SeqCst)
            .then(|| {
                TransportError::refused(ErrorCode::ServerInvalidParameters, "malformed request")
            })
    });
    let a = open_device(&dir.path("a.db"), transport, Limits::default()).await;
    settle(&[&a]).await.expect("settle");
    let mut events = a.events();
    armed.store(true, std::sync::atomic::Ordering::SeqCst);
    a.pin(&bob).await.expect("pin");
    // The refused push fails one cycle; the next one resyncs fully.
    settle(&[&a]).await.expect("settle");
    let seen = drain(&mut events).await;
    assert!(
        seen.iter().any(|e| matches!(
            e,
            Event::OperationRejected {
                code: ErrorCode::ServerInvalidParameters,
                operation: timconv::transport::Operation::Pin { .. },
                ..
            }
        )),
        "{seen:?}"
    );
    assert!(
        !a.get(&bob).expect("bob").is_pinned,
        "back to the server's state"
    );
    assert!(server.applied(USER).is_empty());
    assert_converged(&server, &[&a]);
}

#[tokio::test]
async fn a_device_that_misses_the_server_hints_still_pulls_now_and_then() {
    let dir = TempDir::new("sync-poll");
    let server = LoopbackServer::new();
    let bob = id("c2c_bob");
    server.deliver(USER, &bob, incoming("b1", 10));
    let a = open_device(
        &dir.path("a.db"),
        server.transport(USER, "a"),
        Limits::default(),
    )
    .await;
    // b hears nothing from the server (every pushed event is lost) and is never asked to sync.
    let tb = server.transport(USER, "b");
    tb.set_faults(Some(Faults::new(1).with_drop_event(1.0)));
    let b = ConversationManager::builder()
        .sqlite(SqliteStoreOptions::new().filename(dir.path("b.db")))
        .self_user_id(USER)
        .transport(tb)
        .sync_options(fast_sync().poll_interval(Some(Duration::from_millis(50))))
        .open()
        .await
        .expect("open b");
    settle(&[&a]).await.expect("settle");
    a.pin(&bob).await.expect("pin");
    settle(&[&a]).await.expect("settle");
    let mut pinned = false;
    for _ in 0..100 {
        if b.get(&bob).is_some_and(|c| c.is_pinned) {
            pinned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(pinned, "b pulled on its own");
}
