//! Live lists and conversation watches: examples of each behaviour, then properties.
//!
//! The properties open a few live lists on random filters, windows and kept-visible sets, run
//! random operation sequences, and after every step check that each list's copy, kept from
//! the first window and the diffs alone, equals a fresh `list` of its filter and size (with the
//! kept conversations merged in at their places), and that each conversation watch ends on the
//! conversation's current state. The first property runs every local write kind (the
//! generators and steps of `properties.rs`); the second runs changes made on a second device
//! and delivered by the server, applied by sync.
//!
//! `PROPTEST_CASES` sets the number of cases (default 64 per property).

use std::cmp::Reverse;
use std::sync::Arc;
use std::task::Poll;

use futures::StreamExt;
use futures::stream::FusedStream;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use timconv::live::{
    ConversationWatch, LiveList, LiveListController, LiveListStream, Vector, VectorDiff,
};
use timconv::transport::loopback::LoopbackServer;
use timconv::{
    CleanTarget, Conversation, ConversationFilter, ConversationId, ConversationManager, Cursor,
    Error, MarkFlags, Message,
};

use crate::common::{check_consistent, id, incoming, invariant_filters, manager};
use crate::properties::{self, Checks, Model, Op};

type Rows = Vector<Arc<Conversation>>;

/// A watch and the last state it yielded.
type Watched = (ConversationWatch, Option<Arc<Conversation>>);

/// One live list as a UI holds it: the copy kept from its diffs, its stream and controller.
struct Viewer {
    copy: Rows,
    diffs: LiveListStream,
    controller: LiveListController,
}

impl Viewer {
    fn open(manager: &ConversationManager, filter: &ConversationFilter, size: u32) -> Self {
        let LiveList {
            window,
            diffs,
            controller,
            ..
        } = manager.watch_list(filter, size).expect("a valid live list");
        Viewer {
            copy: window,
            diffs,
            controller,
        }
    }

    /// Applies every batch available now; the number of batches.
    async fn drain(&mut self) -> Result<usize, String> {
        let (diffs, copy) = (&mut self.diffs, &mut self.copy);
        tokio::task::unconstrained(async move {
            let mut batches = 0;
            loop {
                match futures::poll!(diffs.next()) {
                    Poll::Ready(Some(batch)) => {
                        for diff in batch {
                            apply(copy, diff)?;
                        }
                        batches += 1;
                    }
                    Poll::Ready(None) => return Err("the live list ended".to_owned()),
                    Poll::Pending => return Ok(batches),
                }
            }
        })
        .await
    }

    /// The copy against a fresh list of what the controller asks for.
    fn check(&self, manager: &ConversationManager) -> Result<(), String> {
        let c = &self.controller;
        let want = expected(manager, &c.filter(), c.window_size(), &c.kept_visible())?;
        if !self.copy.iter().eq(want.iter()) {
            return Err(format!(
                "live list of {:?} (size {}, kept {:?}) holds {:?}, a fresh list {:?}",
                c.filter(),
                c.window_size(),
                ids(c.kept_visible().iter()),
                ids(self.copy.iter().map(|c| &c.id)),
                ids(want.iter().map(|c| &c.id)),
            ));
        }
        Ok(())
    }
}

/// Applies one diff, refusing an index out of range (rather than panicking).
fn apply(copy: &mut Rows, diff: VectorDiff<Arc<Conversation>>) -> Result<(), String> {
    let len = copy.len();
    let bad = match &diff {
        VectorDiff::Insert { index, .. } => *index > len,
        VectorDiff::Set { index, .. } | VectorDiff::Remove { index } => *index >= len,
        VectorDiff::Truncate { length } => *length > len,
        VectorDiff::PopBack | VectorDiff::PopFront => len == 0,
        _ => false,
    };
    if bad {
        return Err(format!("diff {diff:?} out of range of {len} rows"));
    }
    diff.apply(copy);
    Ok(())
}

fn ids<'a>(ids: impl Iterator<Item = &'a ConversationId>) -> Vec<String> {
    ids.map(ToString::to_string).collect()
}

/// The first `size` conversations that match `filter` or are in `kept`, in list order, from
/// a fresh `list` and `get`s.
fn expected(
    manager: &ConversationManager,
    filter: &ConversationFilter,
    size: usize,
    kept: &[ConversationId],
) -> Result<Vec<Arc<Conversation>>, String> {
    let count = u32::try_from(size).map_err(|e| e.to_string())?;
    let mut rows = manager
        .list(filter, Cursor::START, count)
        .map_err(|e| format!("list failed: {e}"))?
        .conversations;
    rows.extend(
        kept.iter()
            .filter_map(|id| manager.get(id))
            .filter(|c| !filter.matches(c)),
    );
    rows.sort_by_key(|c| Reverse(c.sort_key()));
    rows.truncate(size);
    Ok(rows)
}

/// Takes every state a watch has now; the last one.
async fn latest(
    watch: &mut ConversationWatch,
    last: &mut Option<Arc<Conversation>>,
) -> Result<(), String> {
    tokio::task::unconstrained(async move {
        loop {
            match futures::poll!(watch.next()) {
                Poll::Ready(Some(state)) => *last = state,
                Poll::Ready(None) => return Err("a watch ended".to_owned()),
                Poll::Pending => return Ok(()),
            }
        }
    })
    .await
}

async fn ingest(manager: &ConversationManager, conv: &str, msg: &str, position: u64) {
    manager
        .ingest_message(&id(conv), incoming(msg, position))
        .await
        .expect("ingest");
}

fn names(rows: &Rows) -> Vec<String> {
    ids(rows.iter().map(|c| &c.id))
}

#[tokio::test]
async fn first_window_then_diffs() {
    let manager = manager().await;
    for (n, conv) in ["c2c_a", "c2c_b", "c2c_c"].iter().enumerate() {
        ingest(&manager, conv, &format!("m{n}"), 10 + n as u64).await;
    }
    let mut v = Viewer::open(&manager, &ConversationFilter::new(), 2);
    assert_eq!(names(&v.copy), ["c2c_c", "c2c_b"]);

    // A new conversation comes in at the top; the last row drops out.
    ingest(&manager, "c2c_d", "m3", 20).await;
    let batch = v.diffs.next().await.expect("a batch");
    assert!(
        matches!(
            batch.as_slice(),
            [
                VectorDiff::Insert { index: 0, .. },
                VectorDiff::Truncate { length: 2 }
            ]
        ),
        "{batch:?}"
    );
    for diff in batch {
        apply(&mut v.copy, diff).expect("in range");
    }
    assert_eq!(names(&v.copy), ["c2c_d", "c2c_c"]);

    // The top row changes in place: one replace.
    ingest(&manager, "c2c_d", "m4", 21).await;
    let batch = v.diffs.next().await.expect("a batch");
    assert!(
        matches!(batch.as_slice(), [VectorDiff::Set { index: 0, .. }]),
        "{batch:?}"
    );
    for diff in batch {
        apply(&mut v.copy, diff).expect("in range");
    }

    // A row further down moves to the top: remove and insert.
    ingest(&manager, "c2c_c", "m5", 22).await;
    let batch = v.diffs.next().await.expect("a batch");
    assert!(
        matches!(
            batch.as_slice(),
            [
                VectorDiff::Remove { index: 1 },
                VectorDiff::Insert { index: 0, .. }
            ]
        ),
        "{batch:?}"
    );
    v.drain().await.expect("open");
    for diff in batch {
        apply(&mut v.copy, diff).expect("in range");
    }
    v.check(&manager).expect("exact");
}

#[tokio::test]
async fn rows_leaving_the_filter_are_refilled() {
    let manager = manager().await;
    for (n, conv) in ["c2c_a", "c2c_b", "c2c_c"].iter().enumerate() {
        ingest(&manager, conv, &format!("m{n}"), 10 + n as u64).await;
    }
    let unread = ConversationFilter::new().has_unread(true);
    let mut v = Viewer::open(&manager, &unread, 2);
    assert_eq!(names(&v.copy), ["c2c_c", "c2c_b"]);
    manager
        .clean_unread(id("c2c_c"), timconv::ReadUpTo::Everything)
        .await
        .expect("clean");
    assert_eq!(v.drain().await, Ok(1));
    assert_eq!(names(&v.copy), ["c2c_b", "c2c_a"]);
    v.check(&manager).expect("exact");
}

#[tokio::test]
async fn kept_visible_rows_stay_until_released() {
    let manager = manager().await;
    for (n, conv) in ["c2c_a", "c2c_b", "c2c_c"].iter().enumerate() {
        ingest(&manager, conv, &format!("m{n}"), 10 + n as u64).await;
    }
    let unread = ConversationFilter::new().has_unread(true);
    let mut v = Viewer::open(&manager, &unread, 10);
    // The open chat, c2c_b: kept while it is open, so reading it does not remove it.
    v.controller.keep_visible(&id("c2c_b"));
    assert_eq!(
        v.drain().await,
        Ok(0),
        "kept while visible: nothing changes"
    );
    manager
        .clean_unread(id("c2c_b"), timconv::ReadUpTo::Everything)
        .await
        .expect("clean");
    v.drain().await.expect("open");
    assert_eq!(names(&v.copy), ["c2c_c", "c2c_b", "c2c_a"]);
    assert!(v.copy[1].unread_count == 0, "the row shows the read state");
    v.check(&manager).expect("exact");
    // Closing the chat releases it: it leaves the unread list with a remove.
    v.controller.release(&id("c2c_b"));
    let batch = v.diffs.next().await.expect("a batch");
    assert!(
        matches!(batch.as_slice(), [VectorDiff::Remove { index: 1 }]),
        "{batch:?}"
    );
    for diff in batch {
        apply(&mut v.copy, diff).expect("in range");
    }
    assert_eq!(names(&v.copy), ["c2c_c", "c2c_a"]);
    v.check(&manager).expect("exact");
}

#[tokio::test]
async fn load_more_appends_and_a_filter_change_resets() {
    let manager = manager().await;
    for n in 0..5u64 {
        ingest(&manager, &format!("c2c_u{n}"), &format!("m{n}"), 10 + n).await;
    }
    let mut v = Viewer::open(&manager, &ConversationFilter::new(), 2);
    v.controller.add_one_page();
    let batch = v.diffs.next().await.expect("a batch");
    assert!(
        matches!(batch.as_slice(), [VectorDiff::Append { values }] if values.len() == 2),
        "{batch:?}"
    );
    for diff in batch {
        apply(&mut v.copy, diff).expect("in range");
    }
    assert_eq!(v.copy.len(), 4);
    v.check(&manager).expect("exact");
    v.controller
        .set_filter(ConversationFilter::new().conv_type(timconv::ConversationType::Group))
        .expect("valid");
    let batch = v.diffs.next().await.expect("a batch");
    assert!(
        matches!(batch.as_slice(), [VectorDiff::Reset { values }] if values.is_empty()),
        "{batch:?}"
    );
    assert_eq!(
        v.controller.window_size(),
        2,
        "a new filter starts from one page"
    );
    let bad = ConversationFilter::new().mark(MarkFlags::from_bits_retain(1 << 8));
    assert_eq!(
        v.controller.set_filter(bad).map_err(|e| e.code().as_i32()),
        Err(6017)
    );
}

#[tokio::test]
async fn equal_lists_share_one_window() {
    let manager = manager().await;
    let unread = ConversationFilter::new().has_unread(true);
    let mut a = Viewer::open(&manager, &unread, 5);
    let mut b = Viewer::open(&manager, &unread, 5);
    let mut c = Viewer::open(&manager, &unread, 6);
    assert_eq!(manager.live_windows(), 2);
    ingest(&manager, "c2c_a", "m1", 10).await;
    for v in [&mut a, &mut b, &mut c] {
        assert_eq!(v.drain().await, Ok(1));
        v.check(&manager).expect("exact");
    }
    // Growing one moves it to a window of its own; dropping the last user drops a window.
    b.controller.add_one_page();
    b.drain().await.expect("open");
    assert_eq!(manager.live_windows(), 3);
    drop(a);
    assert_eq!(manager.live_windows(), 2);
    drop((b, c));
    assert_eq!(manager.live_windows(), 0);
}

#[tokio::test]
async fn a_consumer_that_falls_behind_gets_a_reset() {
    let manager = manager().await;
    let mut v = Viewer::open(&manager, &ConversationFilter::new(), 3);
    for n in 0..300u64 {
        ingest(
            &manager,
            &format!("c2c_u{}", n % 7),
            &format!("m{n}"),
            10 + n,
        )
        .await;
    }
    let batch = v.diffs.next().await.expect("a batch");
    assert!(
        matches!(batch.as_slice(), [VectorDiff::Reset { .. }]),
        "{batch:?}"
    );
    for diff in batch {
        apply(&mut v.copy, diff).expect("in range");
    }
    v.drain().await.expect("open");
    v.check(&manager).expect("exact");
}

#[tokio::test]
async fn streams_end_on_shutdown() {
    let manager = manager().await;
    ingest(&manager, "c2c_a", "m1", 10).await;
    let mut v = Viewer::open(&manager, &ConversationFilter::new(), 3);
    let mut watch = manager.watch(&id("c2c_a")).expect("a watch");
    assert!(matches!(watch.next().await, Some(Some(_))));
    manager.shutdown().await.expect("shutdown");
    assert!(v.diffs.next().await.is_none(), "the live list ends");
    assert!(watch.next().await.is_none(), "the watch ends");
    assert!(v.diffs.is_terminated() && watch.is_terminated());
    assert!(matches!(
        manager.watch_list(&ConversationFilter::new(), 3),
        Err(Error::Closed)
    ));
    assert!(matches!(manager.watch(&id("c2c_a")), Err(Error::Closed)));
}

/// Every stream the crate hands out can move to another task, be shared, and be polled in a
/// `select!` after it ended.
#[test]
fn every_stream_is_send_sync_and_fused() {
    fn check<T: Send + Sync + FusedStream + Unpin + 'static>() {}
    check::<timconv::EventStream>();
    check::<timconv::SyncStatusStream>();
    check::<timconv::UnreadStream>();
    check::<timconv::live::LiveListStream>();
    check::<timconv::live::ConversationWatch>();
}

#[tokio::test]
async fn a_list_dropped_with_its_manager_ends() {
    let manager = manager().await;
    let mut v = Viewer::open(&manager, &ConversationFilter::new(), 3);
    drop(manager);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), v.diffs.next()).await;
    assert!(
        matches!(ended, Ok(None)),
        "the stream ends once every handle is gone"
    );
}

#[tokio::test]
async fn bad_windows_are_refused() {
    let manager = manager().await;
    let err = manager
        .watch_list(&ConversationFilter::new(), 0)
        .expect_err("an empty window");
    assert_eq!(err.code().as_i32(), 6017);
    let bad = ConversationFilter::new().mark(MarkFlags::from_bits_retain(1 << 8));
    assert_eq!(
        manager
            .watch_list(&bad, 5)
            .map(drop)
            .map_err(|e| e.code().as_i32()),
        Err(6017)
    );
    assert_eq!(manager.live_windows(), 0);
}

#[tokio::test]
async fn a_watch_follows_one_conversation() {
    let manager = manager().await;
    let alice = id("c2c_alice");
    let mut watch = manager.watch(&alice).expect("a watch");
    assert!(matches!(watch.next().await, Some(None)), "absent at first");
    ingest(&manager, "c2c_alice", "m1", 10).await;
    let state = watch.next().await.flatten().expect("created");
    assert_eq!(state.unread_count, 1);
    // Changes to other conversations do not wake it.
    ingest(&manager, "c2c_bob", "m2", 11).await;
    manager.pin(&alice).await.expect("pin");
    let state = watch.next().await.flatten().expect("pinned");
    assert!(state.is_pinned);
    assert!(
        Arc::ptr_eq(&state, &manager.get(&alice).expect("exists")),
        "shared, not copied"
    );
    manager
        .delete(&alice, timconv::MessageHistory::Keep)
        .await
        .expect("delete");
    assert!(matches!(watch.next().await, Some(None)), "deleted");
}

// ---- Properties ----

/// What a step of a property does besides writes: a controller action on a live list.
#[derive(Debug, Clone)]
enum Control {
    Keep { list: usize, conv: usize },
    Release { list: usize, conv: usize },
    ReleaseAll { list: usize },
    SetFilter { list: usize, filter: usize },
    AddPage { list: usize },
    ResetPage { list: usize },
}

const LISTS: usize = 3;

fn filters() -> Vec<ConversationFilter> {
    let mut filters = invariant_filters();
    filters.insert(0, ConversationFilter::new());
    filters
}

fn control() -> impl Strategy<Value = Control> {
    let list = 0..LISTS;
    let conv = 0..properties::PEERS.len();
    prop_oneof![
        3 => (list.clone(), conv.clone()).prop_map(|(list, conv)| Control::Keep { list, conv }),
        2 => (list.clone(), conv).prop_map(|(list, conv)| Control::Release { list, conv }),
        1 => list.clone().prop_map(|list| Control::ReleaseAll { list }),
        2 => (list.clone(), 0..filters().len())
            .prop_map(|(list, filter)| Control::SetFilter { list, filter }),
        2 => list.clone().prop_map(|list| Control::AddPage { list }),
        1 => list.prop_map(|list| Control::ResetPage { list }),
    ]
}

/// The live lists of a case: (filter, size) each. Two of three draw from few choices, so
/// equal lists (one shared window) are common.
fn lists() -> impl Strategy<Value = Vec<(usize, u32)>> {
    prop::collection::vec((0..filters().len(), 1..=4u32), LISTS).prop_map(|mut l| {
        l[1] = (l[1].0 % 3, l[1].1 % 2 + 1);
        l[2] = (l[2].0 % 3, l[2].1 % 2 + 1);
        l
    })
}

/// Applies a controller action.
fn control_list(viewers: &mut [Viewer], action: &Control) {
    let filters = filters();
    let conv = |i: usize| properties::conv_id(i);
    match action {
        Control::Keep { list, conv: c } => viewers[*list].controller.keep_visible(&conv(*c)),
        Control::Release { list, conv: c } => viewers[*list].controller.release(&conv(*c)),
        Control::ReleaseAll { list } => viewers[*list].controller.release_all(),
        Control::SetFilter { list, filter } => viewers[*list]
            .controller
            .set_filter(filters[*filter].clone())
            .expect("valid filters"),
        Control::AddPage { list } => viewers[*list].controller.add_one_page(),
        Control::ResetPage { list } => viewers[*list].controller.reset_to_one_page(),
    }
}

/// Opens the case's live lists and a watch on each pool conversation.
fn open_lists(
    manager: &ConversationManager,
    lists: &[(usize, u32)],
) -> (Vec<Viewer>, Vec<Watched>) {
    let filters = filters();
    let viewers = lists
        .iter()
        .map(|(f, size)| Viewer::open(manager, &filters[*f], *size))
        .collect();
    let watches = (0..properties::PEERS.len())
        .map(|i| {
            let watch = manager.watch(&properties::conv_id(i)).expect("a watch");
            (watch, None)
        })
        .collect();
    (viewers, watches)
}

/// After a step: every list's copy against a fresh list, every watch against `get`.
async fn check_lists(
    manager: &ConversationManager,
    viewers: &mut [Viewer],
    watches: &mut [Watched],
) -> Result<(), String> {
    for v in viewers.iter_mut() {
        v.drain().await?;
        v.check(manager)?;
    }
    for (i, (watch, last)) in watches.iter_mut().enumerate() {
        latest(watch, last).await?;
        let now = manager.get(&properties::conv_id(i));
        if *last != now {
            return Err(format!(
                "the watch of {} ended on {last:?}, the conversation is {now:?}",
                properties::PEERS[i]
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum LocalStep {
    Write(Op),
    Control(Control),
}

fn local_steps() -> impl Strategy<Value = Vec<LocalStep>> {
    prop::collection::vec(
        prop_oneof![
            3 => properties::op().prop_map(LocalStep::Write),
            1 => control().prop_map(LocalStep::Control),
        ],
        1..=50,
    )
}

async fn run_local(lists: Vec<(usize, u32)>, steps: Vec<LocalStep>) -> Result<(), TestCaseError> {
    let manager = crate::common::manager_with(properties::limits()).await;
    let (mut viewers, mut watches) = open_lists(&manager, &lists);
    let (mut model, mut sent) = (Model::default(), std::collections::HashMap::new());
    let checks = Checks { model: false };
    let all = invariant_filters();
    for (n, step) in steps.iter().enumerate() {
        let fail = |e: String| TestCaseError::fail(format!("step {n} {step:?}: {e}"));
        match step {
            LocalStep::Write(op) => {
                properties::step(&manager, &mut model, &mut sent, op, checks)
                    .await
                    .map_err(fail)?;
            }
            LocalStep::Control(action) => control_list(&mut viewers, action),
        }
        check_lists(&manager, &mut viewers, &mut watches)
            .await
            .map_err(fail)?;
        check_consistent(&manager, &all, 3).map_err(fail)?;
    }
    manager
        .shutdown()
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for v in &mut viewers {
        if tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while v.diffs.next().await.is_some() {}
        })
        .await
        .is_err()
        {
            return Err(TestCaseError::fail("a live list did not end on shutdown"));
        }
    }
    Ok(())
}

/// A change made on the other device (or by the server), applied here by sync.
#[derive(Debug, Clone)]
enum Remote {
    /// The server delivers a message to both devices.
    Deliver {
        conv: usize,
        pos: u64,
    },
    Pin {
        conv: usize,
        on: bool,
    },
    Mark {
        conv: usize,
        star: bool,
        on: bool,
    },
    Read {
        conv: usize,
    },
    Delete {
        conv: usize,
    },
    Folder {
        name: usize,
        conv: usize,
        add: bool,
    },
}

#[derive(Debug, Clone)]
enum SyncStep {
    /// A change on the other device, then both sync.
    Remote(Remote),
    /// The same change here (no sync step).
    Local(Remote),
    Control(Control),
}

fn remote() -> impl Strategy<Value = Remote> {
    let conv = || 0..properties::PEERS.len();
    prop_oneof![
        4 => (conv(), 1..=60u64).prop_map(|(conv, pos)| Remote::Deliver { conv, pos }),
        2 => (conv(), any::<bool>()).prop_map(|(conv, on)| Remote::Pin { conv, on }),
        2 => (conv(), any::<bool>(), any::<bool>())
            .prop_map(|(conv, star, on)| Remote::Mark { conv, star, on }),
        2 => conv().prop_map(|conv| Remote::Read { conv }),
        1 => conv().prop_map(|conv| Remote::Delete { conv }),
        2 => (0..3usize, conv(), any::<bool>())
            .prop_map(|(name, conv, add)| Remote::Folder { name, conv, add }),
    ]
}

fn sync_steps() -> impl Strategy<Value = Vec<SyncStep>> {
    prop::collection::vec(
        prop_oneof![
            3 => remote().prop_map(SyncStep::Remote),
            1 => remote().prop_map(SyncStep::Local),
            1 => control().prop_map(SyncStep::Control),
        ],
        1..=25,
    )
}

const USER: &str = "me";

/// Makes the change on `device`; refusals (limits, missing conversations) are fine.
async fn make(
    server: &LoopbackServer,
    device: &ConversationManager,
    change: &Remote,
    n: usize,
) -> Result<(), String> {
    let conv = |i: usize| properties::conv_id(i);
    let result = match change {
        Remote::Deliver { conv: c, pos } => {
            let message: Message = incoming(&format!("d{n}"), *pos);
            server.deliver(USER, &conv(*c), message);
            Ok(())
        }
        Remote::Pin { conv: c, on } => crate::common::set_pinned(device, &conv(*c), *on).await,
        Remote::Mark { conv: c, star, on } => {
            let mark = if *star {
                MarkFlags::STAR
            } else {
                MarkFlags::FOLD
            };
            crate::common::set_marks(device, &[conv(*c)], mark, *on)
                .await
                .map(drop)
        }
        Remote::Read { conv: c } => {
            device
                .clean_unread(
                    CleanTarget::Conversation(conv(*c)),
                    timconv::ReadUpTo::Everything,
                )
                .await
        }
        Remote::Delete { conv: c } => {
            device
                .delete(&conv(*c), timconv::MessageHistory::Keep)
                .await
        }
        Remote::Folder { name, conv: c, add } => {
            let name = properties::GROUP_NAMES[*name];
            if !device.folders().iter().any(|g| g == name) {
                device.create_folder(name, &[conv(*c)]).await.map(drop)
            } else if *add {
                device.add_to_folder(name, &[conv(*c)]).await.map(drop)
            } else {
                device.remove_from_folder(name, &[conv(*c)]).await.map(drop)
            }
        }
    };
    match result {
        Ok(()) | Err(Error::ConversationNotFound(_)) => Ok(()),
        Err(e) if e.code().as_i32() != 6013 && e.code().as_i32() != 6019 => Ok(()),
        Err(e) => Err(format!("{change:?} failed: {e}")),
    }
}

/// As [`check_lists`], but sync may apply a change at any moment here: a check counts only
/// when no diff arrived while it read the fresh list.
async fn check_lists_settled(
    manager: &ConversationManager,
    viewers: &mut [Viewer],
    watches: &mut [Watched],
) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..50 {
        for v in viewers.iter_mut() {
            v.drain().await?;
        }
        let checked = check_lists(manager, viewers, watches).await;
        let mut moved = 0;
        for v in viewers.iter_mut() {
            moved += v.drain().await?;
        }
        match checked {
            Ok(()) => return Ok(()),
            Err(e) if moved > 0 => last = e,
            Err(e) => return Err(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    Err(format!("never settled: {last}"))
}

async fn run_sync(lists: Vec<(usize, u32)>, steps: Vec<SyncStep>) -> Result<(), TestCaseError> {
    let fail = |e: String| TestCaseError::fail(e);
    let server = LoopbackServer::with_limits(properties::limits());
    let open = |device: &str| {
        ConversationManager::builder()
            .in_memory()
            .self_user_id(USER)
            .limits(properties::limits())
            .transport(server.transport(USER, device))
            .sync_options(crate::sync::fast_sync())
            .open()
    };
    let here = open("a").await.map_err(|e| fail(e.to_string()))?;
    let there = open("b").await.map_err(|e| fail(e.to_string()))?;
    let (mut viewers, mut watches) = open_lists(&here, &lists);
    for (n, step) in steps.iter().enumerate() {
        let fail = |e: String| TestCaseError::fail(format!("step {n} {step:?}: {e}"));
        match step {
            SyncStep::Remote(change) => {
                make(&server, &there, change, n).await.map_err(fail)?;
                crate::sync::settle(&[&there, &here]).await.map_err(fail)?;
            }
            SyncStep::Local(change) => make(&server, &here, change, n).await.map_err(fail)?,
            SyncStep::Control(action) => control_list(&mut viewers, action),
        }
        check_lists_settled(&here, &mut viewers, &mut watches)
            .await
            .map_err(fail)?;
    }
    for m in [&here, &there] {
        m.shutdown().await.map_err(|e| fail(e.to_string()))?;
    }
    Ok(())
}

fn block_on<F: std::future::Future<Output = Result<(), TestCaseError>>>(
    f: F,
) -> Result<(), TestCaseError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TestCaseError::fail(format!("runtime: {e}")))?
        .block_on(f)
}

proptest! {
    #![proptest_config(crate::common::proptest_config(64))]

    /// After every local write of any kind and every controller action, each live list's copy
    /// equals a fresh list, and each watch the conversation's state.
    #[test]
    fn live_lists_follow_every_write(lists in lists(), steps in local_steps()) {
        block_on(run_local(lists, steps))?;
    }

    /// The same with changes made on another device or delivered by the server, applied here
    /// by sync.
    #[test]
    fn live_lists_follow_sync(lists in lists(), steps in sync_steps()) {
        block_on(run_sync(lists, steps))?;
    }
}
