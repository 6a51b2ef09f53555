//! Unread counters: reading them, and what one change costs with many watched filters.
//!
//! DESIGN budgets: the total and a watched filter's count are O(1) to read; one change with
//! 1,000 subscribed filters costs O(subscriptions).
//!
//! - `unread_read/*`: `total_unread()`, and `unread_by_filter()` for a filter that is watched
//!   (kept incrementally) or not watched (recounted by a walk of its candidate rows), at 1k,
//!   100k and 1M conversations.
//! - `one_change/*`: one write through the writer task, at 100k conversations, with 0, 10,
//!   100 and 1,000 distinct watched filters: an incoming message that adds one unread
//!   (`incoming_unread`), and this user's own message, which changes order and last message
//!   but no unread (`own_message`). Only the `ingest_message` call is timed; the
//!   `clean_unread` that resets the conversation after each incoming message is not.
//!
//! Run with `cargo bench --bench unread`.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use timconv::{
    ConversationFilter, ConversationId, ConversationManager, ConversationType, IngestOutcome,
    Message,
};

fn read_counters(c: &mut Criterion) {
    let by_type = ConversationFilter::new().conv_type(ConversationType::Group);
    let by_group = ConversationFilter::new().folder("work");
    for n in common::SIZES {
        let rt = common::runtime();
        let manager = rt.block_on(common::open_account(n));
        let mut group = c.benchmark_group("unread_read");
        group
            .sample_size(30)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        group.bench_function(BenchmarkId::new("total", n), |b| {
            b.iter(|| manager.total_unread());
        });
        group.bench_function(BenchmarkId::new("filter_type_group_unwatched", n), |b| {
            b.iter(|| manager.unread_by_filter(&by_type).expect("valid filter"));
        });
        group.bench_function(BenchmarkId::new("filter_group_work_unwatched", n), |b| {
            b.iter(|| manager.unread_by_filter(&by_group).expect("valid filter"));
        });
        let unwatched = manager.unread_by_filter(&by_type).expect("valid filter");
        let _watch = manager.watch_unread(&by_type).expect("valid filter");
        assert_eq!(manager.watched_filters(), 1);
        assert_eq!(
            manager.unread_by_filter(&by_type).expect("valid filter"),
            unwatched,
            "a watched count equals the recount"
        );
        group.bench_function(BenchmarkId::new("filter_type_group_watched", n), |b| {
            b.iter(|| manager.unread_by_filter(&by_type).expect("valid filter"));
        });
        group.finish();
    }
}

/// Conversations the writes go to: decorated ones (in conversation groups, some starred) whose
/// unread counts toward totals, so that the counters' per-filter loop runs for them.
fn targets(manager: &ConversationManager, n: usize) -> Vec<ConversationId> {
    common::decorated_positions(n)
        .map(common::conversation_id)
        .filter(|id| manager.get(id).is_some_and(|c| c.counts_toward_total()))
        .take(64)
        .collect()
}

fn message(position: u64, from_self: bool) -> Message {
    let mut m = Message::text(format!("bench{position}"), "see you tomorrow");
    m.server_time = Some(position);
    m.seq = Some(position);
    m.sender = Some(if from_self { "me" } else { "peer" }.to_owned());
    m.is_from_self = Some(from_self);
    m
}

fn one_change(c: &mut Criterion) {
    let n = 100_000;
    let rt = common::runtime();
    let manager = rt.block_on(common::open_account(n));
    let targets = targets(&manager, n);
    assert!(targets.len() >= 32, "enough target conversations");
    rt.block_on(async {
        for id in &targets {
            manager
                .clean_unread(id.clone(), timconv::ReadUpTo::Everything)
                .await
                .expect("clean a target");
        }
    });
    let next_position = AtomicU64::new(common::POSITION_CEILING);
    let filters = common::watched_filters(1_000);
    let mut watches = Vec::new();
    let mut group = c.benchmark_group("one_change");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for watched in [0, 10, 100, 1_000] {
        while watches.len() < watched {
            let filter = &filters[watches.len()];
            watches.push(manager.watch_unread(filter).expect("valid filter"));
        }
        assert_eq!(manager.watched_filters(), watched);

        // Sanity: the incoming message adds one unread to the total.
        let total = manager.total_unread();
        let position = next_position.fetch_add(1, Ordering::Relaxed);
        let outcome = rt
            .block_on(manager.ingest_message(&targets[0], message(position, false)))
            .expect("ingest");
        assert_eq!(outcome, IngestOutcome::Updated);
        assert_eq!(manager.total_unread(), total + 1);
        rt.block_on(manager.clean_unread(targets[0].clone(), timconv::ReadUpTo::Everything))
            .expect("clean");

        for (name, from_self) in [("incoming_unread", false), ("own_message", true)] {
            group.bench_function(BenchmarkId::new(name, watched), |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let (manager, targets, next_position) = (&manager, &targets, &next_position);
                    async move {
                        let mut elapsed = Duration::ZERO;
                        for _ in 0..iters {
                            let position = next_position.fetch_add(1, Ordering::Relaxed);
                            let id = &targets[position as usize % targets.len()];
                            let message = message(position, from_self);
                            let start = Instant::now();
                            let outcome = manager.ingest_message(id, message).await;
                            elapsed += start.elapsed();
                            assert_eq!(outcome.expect("ingest"), IngestOutcome::Updated);
                            if !from_self {
                                manager
                                    .clean_unread(id.clone(), timconv::ReadUpTo::Everything)
                                    .await
                                    .expect("clean");
                            }
                        }
                        elapsed
                    }
                });
            });
        }
    }
    group.finish();
    drop(watches);
}

criterion_group!(benches, read_counters, one_change);
criterion_main!(benches);
