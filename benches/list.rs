//! First page of 100 under several filters, at 1k, 100k and 1M conversations.
//!
//! DESIGN budget: a first page costs O(log n + page) for any filter, independent of n (1M
//! within 2x of 1k). Each account is built once per size, outside the timed loop; the timed
//! call is `manager.list(&filter, Cursor::START, 100)`, which includes cloning the returned
//! records into the page.
//!
//! Run with `cargo bench --bench list`.

mod common;

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use timconv::Cursor;

fn first_page(c: &mut Criterion) {
    for n in common::SIZES {
        // One runtime per size: dropping it ends the writer task, which frees the account.
        let rt = common::runtime();
        let manager = rt.block_on(common::open_account(n));
        let mut group = c.benchmark_group("first_page_100");
        group
            .sample_size(40)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for (name, filter) in common::page_filters() {
            let page = manager
                .list(&filter, Cursor::START, 100)
                .expect("a valid filter");
            eprintln!(
                "first_page_100 {name} n={n}: {} rows, finished={}",
                page.conversations.len(),
                page.is_finished
            );
            group.bench_with_input(BenchmarkId::new(name, n), &filter, |b, filter| {
                b.iter(|| {
                    manager
                        .list(filter, Cursor::START, 100)
                        .expect("a valid filter")
                });
            });
        }
        group.finish();
        drop(manager);
        drop(rt);
    }
}

criterion_group!(benches, first_page);
criterion_main!(benches);
