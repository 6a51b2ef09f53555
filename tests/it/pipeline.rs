//! The writer pipelines: it plans the next group of writes while the store commits the
//! previous one. Writes submitted all at once over a slow store end exactly as the same writes
//! made one at a time, each with the same outcome; nothing shows before it is durable; and a
//! failed commit fails the group planned on it too, changing nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, join_all};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use timconv::store::{ChangeSet, Snapshot};
use timconv::{
    Conversation, ConversationManager, Draft, Error, GroupType, MarkFlags, MemoryStore, Message,
    ReceiveOption, Store,
};

use crate::common::{check_consistent, history, invariant_filters, set_marks, set_pinned};
use crate::properties::{GROUP_NAMES, MARKS, Op, conv_id, delivered, limits, msg_id, op, up_to};

/// A memory store whose commits take a while (so that the next group is planned on the one
/// being committed), and that can be told to fail one commit.
#[derive(Debug, Clone)]
struct SlowStore {
    inner: MemoryStore,
    delay: Duration,
    commits: Arc<AtomicUsize>,
    /// The commit (counted from 0) that fails (`usize::MAX`: none).
    fail: Arc<AtomicUsize>,
    /// The manager, once open: each commit checks what it shows when the commit starts.
    manager: Arc<Mutex<Option<ConversationManager>>>,
    /// What was durable before the last commit that succeeded.
    before_last: Arc<Mutex<Option<Snapshot>>>,
    /// What the checks found wrong.
    wrong: Arc<Mutex<Vec<String>>>,
}

impl SlowStore {
    fn new(delay: Duration, fail: Option<usize>) -> Self {
        Self {
            inner: MemoryStore::new(),
            delay,
            commits: Arc::default(),
            fail: Arc::new(AtomicUsize::new(fail.unwrap_or(usize::MAX))),
            manager: Arc::default(),
            before_last: Arc::default(),
            wrong: Arc::default(),
        }
    }

    /// When a commit starts, the manager shows none of it (not durable yet): each
    /// conversation it writes shows its durable state, or, while the previous commit is still
    /// being applied (the next one starts as soon as the previous one is durable), the state
    /// durable before it.
    async fn check_visibility(&self, change: &ChangeSet) {
        let Some(m) = self.manager.lock().expect("manager").clone() else {
            return;
        };
        let durable = self.inner.load().await.expect("the memory store loads");
        let before_last = self.before_last.lock().expect("before last").clone();
        let ids = change
            .upserts
            .iter()
            .map(|c| &c.id)
            .chain(change.deletes.iter().map(|t| &t.id));
        let state = |snapshot: &Snapshot, id| {
            snapshot
                .conversations
                .iter()
                .find(|c| &c.id == id)
                .map(|c| (**c).clone())
        };
        for id in ids {
            let shown = m.get(id).map(|c| (*c).clone());
            let durable_now = shown == state(&durable, id);
            let durable_before = before_last.as_ref().is_some_and(|b| shown == state(b, id));
            if !durable_now && !durable_before {
                self.wrong
                    .lock()
                    .expect("wrong")
                    .push(format!("{id} shows other than its durable state"));
            }
        }
    }
}

impl Store for SlowStore {
    fn load(&self) -> BoxFuture<'_, timconv::Result<Snapshot>> {
        self.inner.load()
    }

    fn commit<'a>(&'a self, change: &'a ChangeSet) -> BoxFuture<'a, timconv::Result<()>> {
        async move {
            let n = self.commits.fetch_add(1, Ordering::SeqCst);
            self.check_visibility(change).await;
            tokio::time::sleep(self.delay).await;
            if self.fail.load(Ordering::SeqCst) == n {
                return Err(Error::store(std::io::Error::other("the disk is full")));
            }
            let before = self.inner.load().await?;
            self.inner.commit(change).await?;
            *self.before_last.lock().expect("before last") = Some(before);
            Ok(())
        }
        .boxed()
    }

    fn close(&self) -> BoxFuture<'_, timconv::Result<()>> {
        self.inner.close()
    }
}

async fn open(store: SlowStore) -> ConversationManager {
    let watched = Arc::clone(&store.manager);
    let m = ConversationManager::builder()
        .store(store)
        .self_user_id("me")
        .limits(limits())
        .open()
        .await
        .expect("opens");
    *watched.lock().expect("manager") = Some(m.clone());
    m
}

/// Shuts down the manager of `store`; what its commits found wrong.
async fn close(m: ConversationManager, store: &SlowStore) -> Vec<String> {
    store.manager.lock().expect("manager").take();
    m.shutdown().await.expect("shutdown");
    std::mem::take(&mut *store.wrong.lock().expect("wrong"))
}

/// The first message built for each message ID (later ingests redeliver it).
fn messages_of(ops: &[Op]) -> HashMap<String, Message> {
    let mut messages = HashMap::new();
    for op in ops {
        delivered(op, &mut messages);
    }
    messages
}

/// Makes the call `op` stands for; its outcome as text (error codes, not messages).
async fn call(m: &ConversationManager, op: &Op, messages: &HashMap<String, Message>) -> String {
    fn shown<T: std::fmt::Debug>(r: timconv::Result<T>) -> String {
        match r {
            Ok(v) => format!("ok {v:?}"),
            Err(e) => format!("error {}", e.code().as_i32()),
        }
    }
    fn done<T>(r: timconv::Result<T>) -> String {
        shown(r.map(|_| ()))
    }
    let ids = |v: &[usize]| v.iter().map(|&i| conv_id(i)).collect::<Vec<_>>();
    match op {
        Op::Ingest { conv, msg, .. } => {
            let message = messages[&msg_id(*conv, *msg)].clone();
            shown(m.ingest_message(&conv_id(*conv), message).await)
        }
        Op::Pin { conv, on } => shown(set_pinned(m, &conv_id(*conv), *on).await),
        Op::Mark { convs, mark, on } => {
            let bits = MarkFlags::from_bits_retain(MARKS[*mark]);
            shown(set_marks(m, &ids(convs), bits, *on).await)
        }
        Op::CustomData { convs, len } => shown(
            m.set_custom_data(&ids(convs), "x".repeat(*len).as_str())
                .await,
        ),
        Op::SetDraft { conv } => {
            let draft = Draft::new(Message::text("", "draft"), "user define", 1_700_000_000);
            shown(m.set_draft(&conv_id(*conv), draft).await)
        }
        Op::CancelDraft { conv } => shown(m.cancel_draft(&conv_id(*conv)).await),
        Op::ReceiveOption { conv, option } => {
            let option = ReceiveOption::from_u32(*option);
            shown(m.set_receive_option(&conv_id(*conv), option).await)
        }
        Op::Profile { conv, av_chat_room } => {
            let kind = if *av_chat_room {
                GroupType::AvChatRoom
            } else {
                GroupType::Public
            };
            shown(m.set_group_type(&conv_id(*conv), kind).await)
        }
        Op::Clean {
            target,
            timestamp,
            sequence,
        } => shown(
            m.clean_unread(target.clean_target(), up_to(*timestamp, *sequence))
                .await,
        ),
        Op::Delete { conv, clear } => shown(m.delete(&conv_id(*conv), history(*clear)).await),
        Op::DeleteMany { convs } => shown(
            m.delete_many(&ids(convs), timconv::MessageHistory::Keep)
                .await,
        ),
        // The record returned carries its order key, which depends on the clock.
        Op::Create { conv } => done(m.create_conversation(&conv_id(*conv)).await),
        Op::CreateFolder { name, convs } => {
            shown(m.create_folder(GROUP_NAMES[*name], &ids(convs)).await)
        }
        Op::RenameFolder { from, to } => {
            shown(m.rename_folder(GROUP_NAMES[*from], GROUP_NAMES[*to]).await)
        }
        Op::DeleteFolder { name } => shown(m.delete_folder(GROUP_NAMES[*name]).await),
        Op::AddToFolder { name, convs } => {
            shown(m.add_to_folder(GROUP_NAMES[*name], &ids(convs)).await)
        }
        Op::RemoveFromFolder { name, convs } => {
            shown(m.remove_from_folder(GROUP_NAMES[*name], &ids(convs)).await)
        }
    }
}

/// The state a manager shows, without what depends on the clock: the list in order, each
/// record with its order key cleared, the folders, the total unread.
fn state(m: &ConversationManager) -> (Vec<Conversation>, Vec<String>, u64) {
    let list = m
        .conversations()
        .iter()
        .map(|c| {
            let mut c = Conversation::clone(c);
            c.order_key = 0;
            c
        })
        .collect();
    (list, m.folders(), m.total_unread())
}

/// Whether `op` goes in the writer's bulk lane (message ingest) rather than its action lane.
fn is_ingest(op: &Op) -> bool {
    matches!(op, Op::Ingest { .. })
}

type InFlightCall<'a> = (
    std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send + 'a>>,
    std::task::Poll<String>,
);

/// Awaits the calls in flight, in order, appending their outcomes to `got`.
async fn await_all(calls: &mut Vec<InFlightCall<'_>>, got: &mut Vec<String>) {
    for (call, first) in calls.drain(..) {
        got.push(match first {
            std::task::Poll::Ready(outcome) => outcome,
            std::task::Poll::Pending => call.await,
        });
    }
}

async fn pipelined_equals_one_at_a_time(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let messages = messages_of(&ops);
    let one = open(SlowStore::new(Duration::ZERO, None)).await;
    let mut expected = Vec::new();
    for op in &ops {
        expected.push(call(&one, op, &messages).await);
    }
    let store = SlowStore::new(Duration::from_millis(2), None);
    let commits = Arc::clone(&store.commits);
    let all = open(store.clone()).await;
    // Submitted in order from this task, a few at a time while commits go on, so that groups
    // form and are planned on the one being committed. Writes in flight together keep their
    // order only within a lane (a user action goes ahead of queued message ingests), so the
    // calls in flight are awaited where the lane changes: ingests then actions, or the reverse.
    let mut got = Vec::new();
    let mut calls = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        if n > 0 && is_ingest(op) != is_ingest(&ops[n - 1]) {
            await_all(&mut calls, &mut got).await;
        }
        let mut call = Box::pin(call(&all, op, &messages));
        let first = futures::poll!(call.as_mut());
        calls.push((call, first));
        if n % 4 == 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    await_all(&mut calls, &mut got).await;
    drop(calls);
    for (n, (got, expected)) in got.iter().zip(&expected).enumerate() {
        prop_assert_eq!(got, expected, "outcome of step {} {:?}", n, &ops[n]);
    }
    prop_assert_eq!(state(&all), state(&one));
    check_consistent(&all, &invariant_filters(), 5).map_err(TestCaseError::fail)?;
    // Fewer commits than writes that changed something: groups were formed and stacked.
    prop_assert!(commits.load(Ordering::SeqCst) <= ops.len());
    let wrong = close(all, &store).await;
    prop_assert!(wrong.is_empty(), "{:?}", wrong);
    one.shutdown()
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(())
}

proptest! {
    #![proptest_config(crate::common::proptest_config(64))]

    /// Writes queued at once, planned in groups on top of the commit under way, give every
    /// caller the outcome it gets when the writes are made one at a time, and the same state.
    #[test]
    fn pipelined_writes_equal_writes_one_at_a_time(ops in prop::collection::vec(op(), 1..60)) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(format!("runtime: {e}")))?
            .block_on(pipelined_equals_one_at_a_time(ops))?;
    }
}

/// A failed commit fails the writes planned on top of it, and nothing of either shows.
#[tokio::test(flavor = "current_thread")]
async fn a_failed_commit_fails_the_group_planned_on_it() {
    // Commit 0 is the first message. Then 400 messages are queued at once (on this one-thread
    // runtime the writer runs only once all are queued): the writer takes a first group of
    // them (it takes at most 256), commits it (commit 1, which fails) with the rest queued
    // behind, and plans the rest on top of it meanwhile.
    let store = SlowStore::new(Duration::from_millis(50), Some(1));
    let m = open(store.clone()).await;
    let id = conv_id(0);
    let message = |n: u64| crate::common::incoming(&format!("m{n}"), n);
    m.ingest_message(&id, message(1)).await.expect("the first");
    let before = state(&m);
    let mut events = m.events();
    // Unconstrained: every send is made in the first poll (no cooperative yield after a
    // budget of them), so all are queued before the writer runs.
    let all = join_all((2..402).map(|n| m.ingest_message(&id, message(n))));
    let results = tokio::task::unconstrained(all).await;
    let codes: Vec<_> = results
        .into_iter()
        .map(|r| r.map_err(|e| e.code().as_i32()))
        .collect();
    assert!(
        codes.iter().all(|c| *c == Err(6019)),
        "the failed group and the group planned on it: {:?}",
        codes.iter().filter(|c| c.is_ok()).count()
    );
    assert_eq!(
        store.commits.load(Ordering::SeqCst),
        2,
        "the group planned on the failed one was not committed"
    );
    assert_eq!(state(&m), before, "nothing of either shows");
    assert!(
        crate::common::published(&mut events).is_empty(),
        "nor is published"
    );
    // The writer goes on: the same messages are accepted now.
    m.ingest_message(&id, message(2))
        .await
        .expect("the second again");
    m.ingest_message(&id, message(3))
        .await
        .expect("the third again");
    assert_eq!(m.total_unread(), 3);
    assert_eq!(close(m, &store).await, Vec::<String>::new());
}

/// Batches queued together are grouped by their messages, not as one write each: a group
/// holds less than 256 messages plus one batch, so queued batches are committed in several
/// groups (pipelined) rather than all in one, each batch still whole in one commit, and every
/// outcome is the one the same messages get ingested one at a time.
#[tokio::test(flavor = "current_thread")]
async fn queued_batches_are_grouped_by_their_messages() {
    let batch = |b: u64| -> Vec<_> {
        (0..150_u64)
            .map(|n| {
                let k = b * 150 + n;
                let id = conv_id(usize::try_from(k % 8).expect("small"));
                (id, crate::common::incoming(&format!("m{k}"), k + 1))
            })
            .collect()
    };
    let one_by_one = open(SlowStore::new(Duration::ZERO, None)).await;
    let mut expected = Vec::new();
    for b in 0..8 {
        for (id, message) in batch(b) {
            expected.push(one_by_one.ingest_message(&id, message).await.expect("one"));
        }
    }
    let store = SlowStore::new(Duration::from_millis(2), None);
    let m = open(store.clone()).await;
    // Unconstrained: all eight are queued before the writer runs (one thread).
    let all = join_all((0..8).map(|b| m.ingest_messages(batch(b))));
    let results: Vec<_> = tokio::task::unconstrained(all)
        .await
        .into_iter()
        .flat_map(|r| r.expect("a batch"))
        .map(|r| r.expect("accepted"))
        .collect();
    assert_eq!(results, expected);
    assert_eq!(state(&m), state(&one_by_one));
    // Two batches (300 messages) reach the bound: four groups. As one write each, the eight
    // would have been one group.
    assert_eq!(store.commits.load(Ordering::SeqCst), 4);
    assert_eq!(close(m, &store).await, Vec::<String>::new());
}

/// Many writers at once over a slow store: every commit starts with none of its own writes
/// showing, only durable states (checked by the store), and every write lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_shows_before_it_is_durable() {
    let store = SlowStore::new(Duration::from_millis(5), None);
    let m = open(store.clone()).await;
    let writes = join_all((0..200_u64).map(|n| {
        let m = m.clone();
        async move {
            if n % 3 == 0 {
                tokio::time::sleep(Duration::from_millis(n % 7)).await;
            }
            let id = conv_id(usize::try_from(n % 8).expect("small"));
            m.ingest_message(&id, crate::common::incoming(&format!("m{n}"), n + 1))
                .await
        }
    }))
    .await;
    assert!(writes.iter().all(Result::is_ok));
    assert_eq!(m.len(), 8);
    assert_eq!(m.total_unread(), 200);
    let commits = store.commits.load(Ordering::SeqCst);
    assert!(commits < 200, "writes were grouped: {commits} commits");
    assert_eq!(close(m, &store).await, Vec::<String>::new());
}

/// A transport whose pulls take longer than a commit: a page arrives after the page before it
/// has been committed (or has failed).
#[cfg(feature = "loopback")]
#[derive(Debug, Clone)]
struct SlowPulls<T>(T);

#[cfg(feature = "loopback")]
impl<T: timconv::transport::Transport> timconv::transport::Transport for SlowPulls<T> {
    fn push(
        &self,
        ops: Vec<timconv::transport::PendingOperation>,
    ) -> BoxFuture<'_, Result<timconv::transport::PushResponse, timconv::transport::TransportError>>
    {
        self.0.push(ops)
    }

    fn pull(
        &self,
        since: Option<timconv::transport::Bookmark>,
        limit: usize,
    ) -> BoxFuture<'_, Result<timconv::transport::PullResponse, timconv::transport::TransportError>>
    {
        async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            self.0.pull(since, limit).await
        }
        .boxed()
    }

    fn connect(
        &self,
    ) -> BoxFuture<
        '_,
        Result<
            futures::stream::BoxStream<'static, timconv::transport::ServerEvent>,
            timconv::transport::TransportError,
        >,
    > {
        self.0.connect()
    }
}

/// Pulled pages are handed to the writer as they arrive, each planned on the page before it.
/// When a page's commit fails, no later page is applied past it: the next sync brings the
/// device to exactly the server's state, nothing skipped.
#[cfg(feature = "loopback")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_page_is_not_skipped_by_the_pages_after_it() {
    use timconv::transport::loopback::LoopbackServer;
    use timconv_testkit::sync::{device_view, fast_sync, state_view};

    let server = LoopbackServer::new();
    let message = |n: u64| crate::common::incoming(&format!("m{n}"), n);
    for n in 0..40 {
        server.deliver(
            "me",
            &crate::common::id(&format!("c2c_p{n}")),
            message(n + 1),
        );
    }
    let store = SlowStore::new(Duration::from_millis(3), None);
    let device = ConversationManager::builder()
        .store(store.clone())
        .self_user_id("me")
        .transport(SlowPulls(server.transport("me", "phone")))
        .sync_options(fast_sync().pull_page_size(4))
        .open()
        .await
        .expect("opens");
    device.sync().await.expect("the first sync");
    assert_eq!(device_view(&device), state_view(&server.state("me")));
    // 40 newer messages: ten pages of four. The third page's commit fails.
    for n in 0..40 {
        let newer = crate::common::incoming(&format!("new{n}"), n + 100);
        server.deliver("me", &crate::common::id(&format!("c2c_p{n}")), newer);
    }
    let done = store.commits.load(Ordering::SeqCst);
    store.fail.store(done + 2, Ordering::SeqCst);
    assert!(
        device.sync().await.is_err(),
        "the failed page fails the sync"
    );
    // The pages come in delivery order: what is applied is the first pages, none skipped
    // (the sync task may already be retrying in the background, so how many is not fixed).
    let newer: Vec<bool> = (0..40)
        .map(|n| {
            device
                .get(&crate::common::id(&format!("c2c_p{n}")))
                .and_then(|c| c.last_message.clone())
                .and_then(|m| m.msg_id)
                .is_some_and(|m| m.starts_with("new"))
        })
        .collect();
    let applied = newer.iter().take_while(|&&n| n).count();
    assert!(
        newer[applied..].iter().all(|&n| !n),
        "applied pages are a prefix: {newer:?}"
    );
    // The next sync pulls from the failed page on.
    device.sync().await.expect("the sync after");
    assert_eq!(device_view(&device), state_view(&server.state("me")));
    assert!(
        store.commits.load(Ordering::SeqCst) > done + 3,
        "pages were committed one by one"
    );
    device.shutdown().await.expect("shutdown");
}

/// A user's action goes ahead of the message ingests queued when it is made: it is committed
/// in the next group, not after 2,000 queued messages, and neither lane loses anything.
#[tokio::test(flavor = "current_thread")]
async fn a_user_action_goes_ahead_of_queued_ingests() {
    const QUEUED: u64 = 2_000;
    let store = SlowStore::new(Duration::from_millis(5), None);
    let m = open(store.clone()).await;
    let pinned = conv_id(0);
    m.ingest_message(&pinned, crate::common::incoming("first", 1))
        .await
        .expect("first");
    let acknowledged = AtomicUsize::new(0);
    let ingests = (0..QUEUED).map(|k| {
        let id = conv_id(usize::try_from(k % 8).expect("small"));
        let message = crate::common::incoming(&format!("m{k}"), k + 2);
        let (m, acknowledged) = (&m, &acknowledged);
        async move {
            m.ingest_message(&id, message).await.expect("ingested");
            acknowledged.fetch_add(1, Ordering::SeqCst);
        }
    });
    // One thread, unconstrained: the writer runs only once every call has been made (the
    // ingests past the queue's capacity wait for room, in order), so the pin is made after
    // all 2,000.
    let pin = async {
        m.pin(&pinned).await.expect("pinned");
        acknowledged.load(Ordering::SeqCst)
    };
    let (_, before_pin) =
        tokio::task::unconstrained(async { futures::join!(join_all(ingests), pin) }).await;
    assert!(
        before_pin < 256,
        "the pin was committed with the first group, not after the {before_pin} ingests \
         acknowledged before it"
    );
    assert_eq!(acknowledged.load(Ordering::SeqCst), 2_000);
    assert!(m.get(&pinned).expect("there").is_pinned);
    assert_eq!(m.total_unread(), QUEUED + 1);
    assert_eq!(close(m, &store).await, Vec::<String>::new());
}

/// `shutdown` comes after every write queued before it, in both lanes: the ingests still
/// waiting for room in the queue and the actions are all carried out and acknowledged.
#[tokio::test(flavor = "current_thread")]
async fn shutdown_waits_for_the_writes_queued_in_both_lanes() {
    let store = SlowStore::new(Duration::from_millis(2), None);
    let m = open(store.clone()).await;
    for i in 0..8 {
        m.ingest_message(
            &conv_id(i),
            crate::common::incoming(&format!("first{i}"), 1),
        )
        .await
        .expect("first");
    }
    let ingests = join_all((0..1_500_u64).map(|k| {
        let id = conv_id(usize::try_from(k % 8).expect("small"));
        let m = &m;
        async move {
            m.ingest_message(&id, crate::common::incoming(&format!("m{k}"), k + 2))
                .await
        }
    }));
    let drafts = join_all((0..8).map(|i| {
        let draft = Draft::new(Message::text("", "later"), "", 1_700_000_000);
        let m = &m;
        async move { m.set_draft(&conv_id(i), draft).await }
    }));
    store.manager.lock().expect("manager").take();
    let (ingested, drafted, shut) =
        tokio::task::unconstrained(async { futures::join!(ingests, drafts, m.shutdown()) }).await;
    assert!(
        ingested.iter().all(Result::is_ok),
        "every ingest acknowledged"
    );
    assert!(
        drafted.iter().all(Result::is_ok),
        "every draft acknowledged"
    );
    shut.expect("shut down");
    let reopened = open(SlowStore {
        manager: Arc::default(),
        ..store.clone()
    })
    .await;
    assert_eq!(reopened.total_unread(), 1_508);
    assert!((0..8).all(|i| reopened.get(&conv_id(i)).expect("there").draft.is_some()));
    assert_eq!(close(reopened, &store).await, Vec::<String>::new());
}
