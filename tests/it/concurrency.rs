//! One manager driven from many tasks at once (DESIGN properties 1, 4 and 6): concurrent
//! writers, readers and watchers; callers that stop waiting; event consumers that fall behind.
//! Everything is bounded by timeouts so that a deadlock fails instead of hanging.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use timconv::{
    CleanTarget, ConversationFilter, ConversationId, ConversationManager, ConversationType, Cursor,
    Draft, Event, GroupType, Lagged, MarkFlags, Message, ReceiveOption, UnreadStream,
};
use tokio::task::JoinSet;
use tokio::time::timeout;

use crate::common::{
    Rng, UnreadWatchers, check_consistent, id, incoming, invariant_filters, manager, outgoing,
    recount, set_marks, set_pinned,
};

/// Bound on any one phase of a test.
const LIMIT: Duration = Duration::from_secs(60);

fn c2c_pool() -> Vec<ConversationId> {
    (0..6).map(|n| id(&format!("c2c_u{n}"))).collect()
}

fn group_pool() -> Vec<ConversationId> {
    (0..4).map(|n| id(&format!("group_g{n}"))).collect()
}

/// Conversations only the delete/draft task touches. They are never pinned, so deleting and
/// bringing one back cannot move it down the list under a walk.
fn churn_pool() -> Vec<ConversationId> {
    (0..4).map(|n| id(&format!("c2c_d{n}"))).collect()
}

/// Reads `stream` until `stop`, then takes what is left; returns the latest value.
async fn follow(mut stream: UnreadStream, stop: Arc<AtomicBool>) -> Option<u64> {
    let mut latest = None;
    while !stop.load(Ordering::Acquire) {
        if let Ok(Some(v)) = timeout(Duration::from_millis(5), stream.next()).await {
            latest = Some(v);
        }
    }
    while let Some(Some(v)) = stream.next().now_or_never() {
        latest = Some(v);
    }
    latest
}

/// Walks `filter`'s list while others write: no conversation twice within a walk, pages in
/// list order, and the walk ends.
fn walk_during_writes(m: &ConversationManager, filter: &ConversationFilter, size: u32) {
    let mut seen = HashSet::new();
    let mut cursor = Cursor::START;
    for _ in 0..10_000 {
        let page = m.list(filter, cursor, size).expect("list");
        for w in page.conversations.windows(2) {
            assert!(w[0].sort_key() > w[1].sort_key(), "a page out of order");
        }
        for c in &page.conversations {
            assert!(filter.matches(c), "{} does not match {filter:?}", c.id);
            assert!(
                seen.insert(c.id.clone()),
                "{} returned twice in a walk",
                c.id
            );
        }
        if page.is_finished {
            return;
        }
        cursor = page.next_cursor;
    }
    panic!("a walk of {filter:?} does not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_one_manager() {
    let m = manager().await;
    for conv in c2c_pool().iter().chain(&group_pool()) {
        m.create_conversation(conv).await.expect("create");
    }
    let filters = invariant_filters();
    let mut watchers = UnreadWatchers::new(&m, &filters);
    let stop = Arc::new(AtomicBool::new(false));

    let mut writers = JoinSet::new();
    // 1. Incoming and outgoing C2C messages, some delivered twice.
    let w = m.clone();
    writers.spawn(async move {
        let mut rng = Rng(1);
        for n in 0..300u64 {
            let conv = rng.pick(&c2c_pool()).clone();
            let msg_n = if rng.below(5) == 0 { n / 2 } else { n };
            let (msg_id, pos) = (format!("c{msg_n}"), 10 + msg_n);
            let msg = if rng.below(4) == 0 {
                outgoing(&msg_id, pos)
            } else {
                incoming(&msg_id, pos)
            };
            w.ingest_message(&conv, msg).await.expect("ingest");
        }
    });
    // 2. Group messages, some @me / @all, some excluded from unread.
    let w = m.clone();
    writers.spawn(async move {
        let mut rng = Rng(2);
        for n in 0..300u64 {
            let conv = rng.pick(&group_pool()).clone();
            let mut msg = incoming(&format!("g{n}"), 10 + n);
            msg.group_at_users = match rng.below(6) {
                0 => Some(vec!["me".into()]),
                1 => Some(vec!["__kImSDK_MesssageAtALL__".into()]),
                _ => None,
            };
            if rng.below(8) == 0 {
                msg.excluded_from_unread = Some(true);
            }
            w.ingest_message(&conv, msg).await.expect("ingest");
        }
    });
    // 3. Pins and unpins.
    let w = m.clone();
    writers.spawn(async move {
        let mut rng = Rng(3);
        let pool: Vec<_> = c2c_pool().into_iter().chain(group_pool()).collect();
        for _ in 0..200 {
            let conv = rng.pick(&pool).clone();
            set_pinned(&w, &conv, rng.below(3) != 0).await.expect("pin");
        }
    });
    // 4. Marks and custom data.
    let w = m.clone();
    writers.spawn(async move {
        let mut rng = Rng(4);
        let pool: Vec<_> = c2c_pool().into_iter().chain(group_pool()).collect();
        let marks = [
            MarkFlags::STAR,
            MarkFlags::FOLD,
            MarkFlags::STAR | MarkFlags::HIDE,
            MarkFlags::extension(32).expect("extension"),
        ];
        for _ in 0..200 {
            let ids = [rng.pick(&pool).clone(), rng.pick(&pool).clone()];
            let outcomes = set_marks(&w, &ids, *rng.pick(&marks), rng.below(2) == 0)
                .await
                .expect("mark");
            assert!(outcomes.iter().all(|o| o.is_ok()));
            if rng.below(4) == 0 {
                let data = if rng.below(2) == 0 { "" } else { "data" };
                w.set_custom_data(&ids, data)
                    .await
                    .expect("custom data")
                    .into_result()
                    .expect("custom data");
            }
        }
    });
    // 5. Cleaning unread, receive options and group kinds.
    let w = m.clone();
    writers.spawn(async move {
        let mut rng = Rng(5);
        let pool: Vec<_> = c2c_pool().into_iter().chain(group_pool()).collect();
        for _ in 0..150 {
            let target = match rng.below(5) {
                0 => CleanTarget::AllC2c,
                1 => CleanTarget::AllGroups,
                2 => CleanTarget::All,
                _ => CleanTarget::Conversation(rng.pick(&pool).clone()),
            };
            let (ts, seq) = (rng.below(320), rng.below(320));
            w.clean_unread(
                target,
                timconv::ReadUpTo::Positions {
                    timestamp: Some(ts),
                    sequence: Some(seq),
                },
            )
            .await
            .expect("clean");
            let conv = rng.pick(&pool).clone();
            let option = ReceiveOption::from_u32(rng.below(5) as u32);
            w.set_receive_option(&conv, option).await.expect("option");
            if conv.kind() == ConversationType::Group && rng.below(4) == 0 {
                let kind = *rng.pick(&[GroupType::AvChatRoom, GroupType::Public]);
                w.set_group_type(&conv, kind).await.expect("group type");
            }
        }
    });
    // 6. Conversation folders: create, add, remove, rename, delete (refusals are expected).
    let w = m.clone();
    writers.spawn(async move {
        let mut rng = Rng(6);
        let pool: Vec<_> = c2c_pool().into_iter().chain(group_pool()).collect();
        let names = ["a", "b", "c"];
        for _ in 0..200 {
            let name = *rng.pick(&names);
            let ids = [rng.pick(&pool).clone()];
            let _refused = match rng.below(5) {
                0 => w.create_folder(name, &ids).await.map(drop),
                1 => w.add_to_folder(name, &ids).await.map(drop),
                2 => w.remove_from_folder(name, &ids).await.map(drop),
                3 => w.rename_folder(name, names[rng.below(3) as usize]).await,
                _ => w.delete_folder(name).await,
            };
        }
    });
    // 7. Deletes, drafts and explicit creates on conversations of their own.
    let w = m.clone();
    writers.spawn(async move {
        let mut rng = Rng(7);
        for n in 0..200u64 {
            let conv = rng.pick(&churn_pool()).clone();
            let _refused = match rng.below(4) {
                0 => {
                    w.delete(&conv, crate::common::history(rng.below(2) == 0))
                        .await
                }
                1 => {
                    let draft = Draft::new(Message::text("", "draft"), "", n);
                    w.set_draft(&conv, draft).await
                }
                2 => w.create_conversation(&conv).await.map(drop),
                _ => w
                    .ingest_message(&conv, incoming(&format!("d{n}"), 1_000 + n))
                    .await
                    .map(drop),
            };
        }
    });

    let mut readers = JoinSet::new();
    // 8. List walks over several filters while the writers run.
    let r = m.clone();
    let r_stop = Arc::clone(&stop);
    readers.spawn(async move {
        let filters = invariant_filters();
        let mut walks = 0u32;
        while !r_stop.load(Ordering::Acquire) {
            for (n, f) in filters.iter().enumerate() {
                walk_during_writes(&r, f, (n % 4) as u32 + 1);
            }
            walk_during_writes(&r, &ConversationFilter::new(), 3);
            walks += 1;
            tokio::task::yield_now().await;
        }
        assert!(walks > 0);
        None
    });
    // 9. Watchers read by tasks of their own.
    let total = m.watch_total_unread();
    readers.spawn(follow(total, Arc::clone(&stop)));

    timeout(LIMIT, async {
        while let Some(done) = writers.join_next().await {
            done.expect("a writer panicked");
        }
    })
    .await
    .expect("the writers finish");
    stop.store(true, Ordering::Release);
    let mut followed = Vec::new();
    timeout(LIMIT, async {
        while let Some(done) = readers.join_next().await {
            followed.push(done.expect("a reader panicked"));
        }
    })
    .await
    .expect("the readers finish");

    check_consistent(&m, &filters, 5).expect("consistent after concurrent writes");
    watchers.check(&m).expect("watchers equal a recount");
    let total = recount(&m.conversations(), &ConversationFilter::new());
    assert!(followed.contains(&Some(total)), "{followed:?} vs {total}");
    m.shutdown().await.expect("shutdown");
}

/// Whether each of `ids` carries `mark`.
fn marked(m: &ConversationManager, ids: &[ConversationId], mark: MarkFlags) -> Vec<bool> {
    ids.iter()
        .map(|id| m.get(id).is_some_and(|c| c.marks.contains(mark)))
        .collect()
}

/// A caller that stops waiting (its future dropped right after the write was sent) does not
/// lose the change or apply half of it: once a later write has completed, the whole batch is
/// there or none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_callers_never_half_apply() {
    let m = manager().await;
    let ids: Vec<ConversationId> = (0..5).map(|n| id(&format!("c2c_x{n}"))).collect();
    for conv in &ids {
        m.create_conversation(conv).await.expect("create");
    }
    let probe = id("c2c_probe");
    let mut events = m.events();
    let mut expected_updates = 0;
    for round in 0..120u64 {
        let on = round % 2 == 0;
        let before = marked(&m, &ids, MarkFlags::STAR);
        let finished = match round % 3 {
            // Polled once, then dropped. One poll of a call runs until it waits for the
            // writer's reply (`unconstrained`: no cooperative-budget yield before that), so
            // the write was handed over and must happen.
            0 => timeout(
                Duration::ZERO,
                tokio::task::unconstrained(set_marks(&m, &ids, MarkFlags::STAR, on)),
            )
            .await
            .ok()
            .map(|r| r.expect("valid mark")),
            // Never polled: nothing can have happened.
            1 => {
                tokio::select! {
                    biased;
                    () = std::future::ready(()) => None,
                    r = set_marks(&m, &ids, MarkFlags::STAR, on) => Some(r.expect("valid mark")),
                }
            }
            // A task aborted at an arbitrary point.
            _ => {
                let w = m.clone();
                let batch = ids.clone();
                let task =
                    tokio::spawn(async move { set_marks(&w, &batch, MarkFlags::STAR, on).await });
                if round % 2 == 0 {
                    tokio::task::yield_now().await;
                }
                task.abort();
                task.await.ok().map(|r| r.expect("valid mark"))
            }
        };
        // One writer, first come first served: once this write is done, so is the one above.
        timeout(LIMIT, m.create_conversation(&probe))
            .await
            .expect("not stuck")
            .expect("create");
        let after = marked(&m, &ids, MarkFlags::STAR);
        assert!(
            after.iter().all(|&s| s == after[0]),
            "round {round}: half applied {after:?}"
        );
        match round % 3 {
            1 => assert_eq!(
                after, before,
                "round {round}: a write never polled happened"
            ),
            0 => assert_eq!(after[0], on, "round {round}: a queued write was lost"),
            _ if finished.is_some() => assert_eq!(after[0], on, "round {round}"),
            _ => {}
        }
        if after != before {
            expected_updates += 1;
        }
    }
    // Events describe what was committed: one update of all five per applied change.
    let mut updates = 0;
    while let Some(item) = events.next().now_or_never() {
        match item.expect("open").expect("not lagged") {
            Event::Updated(convs) => {
                assert_eq!(convs.len(), ids.len(), "an update of part of a batch");
                updates += 1;
            }
            Event::Added(convs) => assert_eq!(convs[0].id, probe),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(updates, expected_updates);

    // Messages whose sender stopped waiting are counted exactly once each.
    let conv = id("c2c_sender");
    for n in 0..50u64 {
        let msg = incoming(&format!("late{n}"), 100 + n);
        let write = tokio::task::unconstrained(m.ingest_message(&conv, msg));
        let _dropped = timeout(Duration::ZERO, write).await;
    }
    m.create_conversation(&probe).await.expect("create");
    assert_eq!(m.get(&conv).map(|c| c.unread_count), Some(50));
    check_consistent(&m, &invariant_filters(), 4).expect("consistent");
}

/// An event consumer that does not read while more than the channel's capacity of events are
/// produced is told it lagged, then keeps receiving; writers never wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_event_consumer_lags_without_blocking_writers() {
    let m = ConversationManager::builder()
        .in_memory()
        .self_user_id("me")
        .event_capacity(8)
        .open()
        .await
        .expect("open");
    let mut slow = m.events();
    // Each write emits at least two events (the conversation, the total unread).
    timeout(LIMIT, async {
        for n in 0..100u64 {
            let conv = id(&format!("c2c_u{}", n % 10));
            m.ingest_message(&conv, incoming(&format!("m{n}"), 10 + n))
                .await
                .expect("ingest");
        }
    })
    .await
    .expect("writers are not blocked by a consumer that does not read");
    assert_eq!(m.total_unread(), 100);

    let first = timeout(LIMIT, slow.next())
        .await
        .expect("an item")
        .expect("open");
    let Err(Lagged { missed }) = first else {
        panic!("expected Lagged first, got {first:?}");
    };
    assert!(missed >= 100, "missed {missed}");
    // Then the most recent events, up to the capacity, ending with the latest total.
    let mut rest = Vec::new();
    while let Some(item) = slow.next().now_or_never() {
        rest.push(item.expect("open").expect("no second lag"));
    }
    assert!(
        !rest.is_empty() && rest.len() <= 8,
        "{} retained",
        rest.len()
    );
    assert_eq!(rest.last(), Some(&Event::TotalUnreadChanged(100)));

    // And it keeps receiving.
    let fresh = id("c2c_fresh");
    m.ingest_message(&fresh, incoming("fresh", 1))
        .await
        .expect("ingest");
    let next = timeout(LIMIT, slow.next())
        .await
        .expect("an event")
        .expect("open")
        .expect("not lagged");
    assert!(
        matches!(&next, Event::Added(convs) if convs[0].id == fresh),
        "{next:?}"
    );
    let next = timeout(LIMIT, slow.next())
        .await
        .expect("an event")
        .expect("open")
        .expect("not lagged");
    assert_eq!(next, Event::TotalUnreadChanged(101));
}
