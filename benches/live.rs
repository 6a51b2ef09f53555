//! Live lists: the cost of one change with 0, 1, 10 and 100 live lists on different filters,
//! at 1k, 100k and 1M conversations, and the cost of receiving and applying one batch of
//! diffs.
//!
//! - `one_change/<lists>_lists/<n>`: one `ingest_message` of this user's own message to one
//!   of 64 decorated conversations (starred, in the `"work"` group), which moves it to the top
//!   of every list it matches, through the writer task (current-thread runtime, memory store).
//!   The live lists are distinct (filter, size) pairs, most of them concerned by the change
//!   (`live_keys`); their streams are held, not polled, as a UI that redraws later would.
//! - `apply_one_batch/<n>`: with one live list of 100 rows on the unfiltered list, the same
//!   change is made untimed, then the time is that of `diffs.next()` and applying its batch
//!   (a remove and an insert, or an insert and a truncate) to the consumer's copy.
//!
//! Accounts come from `common::open_account` (built as a snapshot). Run with
//! `cargo bench --bench live`.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use futures::StreamExt;
use timconv::{
    ConversationFilter, ConversationId, ConversationManager, ConversationType, IngestOutcome,
    MarkFlags, Message,
};

/// Decorated conversations that are starred and in `"work"`: most live lists concern them.
fn targets(manager: &ConversationManager, n: usize) -> Vec<ConversationId> {
    common::decorated_positions(n)
        .map(common::conversation_id)
        .filter(|id| {
            manager.get(id).is_some_and(|c| {
                c.marks.contains(MarkFlags::STAR) && c.folders.iter().any(|g| g == "work")
            })
        })
        .take(64)
        .collect()
}

/// 100 distinct live lists: every combination of type (any / C2C / group), unread (any / with),
/// @ (any / without) and mark (any / star), at sizes 10, 25, 50 and 100, then `"work"` at four
/// sizes.
fn live_keys() -> Vec<(ConversationFilter, u32)> {
    let mut keys = Vec::new();
    for size in [10, 25, 50, 100] {
        for conv_type in [
            None,
            Some(ConversationType::C2c),
            Some(ConversationType::Group),
        ] {
            for has_unread in [None, Some(true)] {
                for has_at_info in [None, Some(false)] {
                    for mark in [None, Some(MarkFlags::STAR)] {
                        let mut f = ConversationFilter::new();
                        f.conv_type = conv_type;
                        f.has_unread = has_unread;
                        f.has_at_info = has_at_info;
                        f.mark = mark;
                        keys.push((f, size));
                    }
                }
            }
        }
        keys.push((ConversationFilter::new().folder("work"), size));
    }
    keys
}

fn own_message(position: u64) -> Message {
    let mut m = Message::text(format!("live{position}"), "see you tomorrow");
    m.server_time = Some(position);
    m.seq = Some(position);
    m.sender = Some("me".to_owned());
    m.is_from_self = Some(true);
    m
}

fn one_change(c: &mut Criterion) {
    let keys = live_keys();
    assert_eq!(keys.len(), 100);
    for n in common::SIZES {
        let rt = common::runtime();
        let manager = rt.block_on(common::open_account(n));
        let targets = targets(&manager, n);
        assert!(
            targets.len() >= 6,
            "enough target conversations: {}",
            targets.len()
        );
        let next_position = AtomicU64::new(common::POSITION_CEILING);
        let mut lists = Vec::new();
        let mut group = c.benchmark_group("one_change");
        group
            .sample_size(30)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for count in [0, 1, 10, 100] {
            while lists.len() < count {
                let (filter, size) = &keys[lists.len()];
                lists.push(
                    manager
                        .watch_list(filter, *size)
                        .expect("a valid live list"),
                );
            }
            assert_eq!(manager.live_windows(), count);
            group.bench_function(BenchmarkId::new(format!("{count}_lists"), n), |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let (manager, targets, next_position) = (&manager, &targets, &next_position);
                    async move {
                        let mut elapsed = Duration::ZERO;
                        for _ in 0..iters {
                            let position = next_position.fetch_add(1, Ordering::Relaxed);
                            let id = &targets[position as usize % targets.len()];
                            let message = own_message(position);
                            let start = Instant::now();
                            let outcome = manager.ingest_message(id, message).await;
                            elapsed += start.elapsed();
                            assert_eq!(outcome.expect("ingest"), IngestOutcome::Updated);
                        }
                        elapsed
                    }
                });
            });
        }
        group.finish();
        drop(lists);

        let live = manager
            .watch_list(&ConversationFilter::new(), 100)
            .expect("a valid live list");
        let consumer = tokio::sync::Mutex::new((live.window, live.diffs));
        let mut group = c.benchmark_group("apply_one_batch");
        group
            .sample_size(30)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (manager, targets, next_position) = (&manager, &targets, &next_position);
                let consumer = &consumer;
                async move {
                    let mut consumer = consumer.lock().await;
                    let (rows, diffs) = &mut *consumer;
                    let mut elapsed = Duration::ZERO;
                    for _ in 0..iters {
                        let position = next_position.fetch_add(1, Ordering::Relaxed);
                        let id = &targets[position as usize % targets.len()];
                        manager
                            .ingest_message(id, own_message(position))
                            .await
                            .expect("ingest");
                        let start = Instant::now();
                        let batch = diffs.next().await.expect("a batch");
                        for diff in batch {
                            diff.apply(rows);
                        }
                        elapsed += start.elapsed();
                    }
                    elapsed
                }
            });
        });
        group.finish();
        assert_eq!(consumer.into_inner().0.len(), 100);
        drop(manager);
        drop(rt);
    }
}

criterion_group!(benches, one_change);
criterion_main!(benches);
