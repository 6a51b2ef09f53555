//! First page of 100 under the filters of `common::page_filters`, at 1k, 100k and 1M
//! conversations, against the same page from a plain SQLite table; and a full walk of each
//! account in pages of 100.
//!
//! Each account is built as an app builds it, through `ingest_message` and the other calls
//! (`common::api_account::build_memory`), on a memory store, with the system allocator (this
//! bench installs none), once per size and outside the timed loops. Then:
//!
//! - `first_page_100/<filter>/<n>`: `manager.list(&filter, Cursor::START, 100)`; the page
//!   holds shared records (`Arc<Conversation>`), not copies;
//! - `sqlite_first_page_100/<filter>/<n>`: the same rows (checked before timing) from one
//!   in-memory SQLite table holding every conversation, with an index on
//!   `(pinned, active_time)`, selected through sqlx (`common::plain_sqlite`);
//! - `full_walk_100/<n>`: every page of the unfiltered list, from the top to the end.
//!
//! Run with `cargo bench --bench list`.

mod common;

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use timconv::{ConversationFilter, ConversationManager, Cursor};

use common::plain_sqlite::{PlainSqlite, first_page_sql};

/// Walks the whole unfiltered list in pages of 100; the number of conversations seen.
fn full_walk(manager: &ConversationManager) -> usize {
    let filter = ConversationFilter::new();
    let (mut cursor, mut seen) = (Cursor::START, 0);
    loop {
        let page = manager.list(&filter, cursor, 100).expect("a valid filter");
        seen += page.conversations.len();
        if page.is_finished {
            return seen;
        }
        cursor = page.next_cursor;
    }
}

fn first_page(c: &mut Criterion) {
    for n in common::SIZES {
        // One runtime per size: dropping it ends the writer task, which frees the account.
        let rt = common::runtime();
        let manager = rt.block_on(common::api_account::build_memory(n));
        assert_eq!(manager.len(), n);
        let plain = rt.block_on(PlainSqlite::load(&manager.conversations()));
        for (name, filter) in common::page_filters() {
            let page = manager
                .list(&filter, Cursor::START, 100)
                .expect("a valid filter");
            let sql = first_page_sql(&filter, 100);
            let rows = rt.block_on(plain.first_page(&sql));
            let ids: Vec<String> = page
                .conversations
                .iter()
                .map(|c| c.id.to_string())
                .collect();
            let plain_ids: Vec<&String> = rows.iter().map(|r| &r.0).collect();
            assert!(
                ids.iter().eq(plain_ids.iter().copied()),
                "{name}: SQLite returns other rows"
            );
            eprintln!(
                "first_page_100 {name} n={n}: {} rows, finished={}",
                page.conversations.len(),
                page.is_finished
            );
            let mut group = c.benchmark_group("first_page_100");
            group
                .sample_size(40)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2));
            group.bench_with_input(BenchmarkId::new(name, n), &filter, |b, filter| {
                b.iter(|| {
                    manager
                        .list(filter, Cursor::START, 100)
                        .expect("a valid filter")
                });
            });
            group.finish();
            let mut group = c.benchmark_group("sqlite_first_page_100");
            group
                .sample_size(20)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2));
            group.bench_with_input(BenchmarkId::new(name, n), &sql, |b, sql| {
                b.to_async(&rt).iter(|| plain.first_page(sql));
            });
            group.finish();
        }
        assert_eq!(full_walk(&manager), n);
        let mut group = c.benchmark_group("full_walk_100");
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| full_walk(&manager));
        });
        group.finish();
        drop(plain);
        drop(manager);
        drop(rt);
    }
}

criterion_group!(benches, first_page);
criterion_main!(benches);
