//! Helpers shared by the integration tests.
#![allow(dead_code)]

use futures::{FutureExt, StreamExt};
use timconv::{ConversationFilter, ConversationManager, Limits, UnreadStream};

// Test messages and directories, the generator and the invariant checks live in the
// workspace's test support, shared with the server's tests.
pub use timconv_testkit::{
    Rng, TempDir, check_consistent, history, id, incoming, invariant_filters, outgoing, rand_of,
    recount, set_marks, set_pinned, walk,
};

/// Proptest settings: `default_cases` cases unless `PROPTEST_CASES` says otherwise (CI runs
/// the default; set it to thousands for a longer search), and room to shrink failures.
pub fn proptest_config(default_cases: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    proptest::test_runner::Config {
        cases,
        max_shrink_iters: 20_000,
        ..proptest::test_runner::Config::default()
    }
}

/// A manager over a fresh in-memory store, logged in as `me`.
pub async fn manager() -> ConversationManager {
    manager_with(Limits::default()).await
}

/// A manager with the given limits, logged in as `me`.
pub async fn manager_with(limits: Limits) -> ConversationManager {
    ConversationManager::builder()
        .in_memory()
        .self_user_id("me")
        .limits(limits)
        .open()
        .await
        .expect("an in-memory manager opens")
}

/// Every event published so far, without waiting.
pub fn published(events: &mut timconv::EventStream) -> Vec<timconv::Event> {
    use futures::{FutureExt, StreamExt};
    let mut out = Vec::new();
    while let Some(Some(item)) = events.next().now_or_never() {
        out.push(item.expect("the test consumer keeps up"));
    }
    out
}

/// The IDs of the conversations in the `Updated` events among `events`, in order.
pub fn updated_ids(events: &[timconv::Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            timconv::Event::Updated(convs) => Some(convs.iter().map(|c| c.id.to_string())),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Opens the SQLite store at `path` once a manager dropped without shutdown has released it:
/// its writer closes the store when it sees every handle gone, a moment after the drop.
pub async fn open_released(path: &std::path::Path) -> timconv::SqliteStore {
    for _ in 0..500 {
        match timconv::SqliteStore::open(path).await {
            Err(timconv::Error::StoreInUse { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            other => return other.expect("the store opens"),
        }
    }
    panic!("{} is still in use", path.display());
}

/// One live unread stream and the latest value it has yielded.
struct Watched {
    /// `None` watches the total.
    filter: Option<ConversationFilter>,
    stream: UnreadStream,
    latest: Option<u64>,
}

/// Live watchers of the total unread and of some filters, kept for a whole test.
pub struct UnreadWatchers {
    watched: Vec<Watched>,
}

impl UnreadWatchers {
    /// Watches the total and each of `filters`.
    pub fn new(manager: &ConversationManager, filters: &[ConversationFilter]) -> Self {
        let mut watched = vec![Watched {
            filter: None,
            stream: manager.watch_total_unread(),
            latest: None,
        }];
        for f in filters {
            watched.push(Watched {
                filter: Some(f.clone()),
                stream: manager
                    .watch_unread(f)
                    .expect("a valid filter can be watched"),
                latest: None,
            });
        }
        Self { watched }
    }

    /// Takes every value the streams have ready, keeping the latest of each.
    pub fn drain(&mut self) -> Result<(), String> {
        for w in &mut self.watched {
            // A watch yields at most one value per change; a bound keeps a bug from spinning.
            for _ in 0..10_000 {
                match w.stream.next().now_or_never() {
                    Some(Some(v)) => w.latest = Some(v),
                    Some(None) => return Err(format!("the watch of {:?} ended", w.filter)),
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Drains, then checks that each stream's latest value equals a recount.
    pub fn check(&mut self, manager: &ConversationManager) -> Result<(), String> {
        self.drain()?;
        let convs = manager.conversations();
        for w in &self.watched {
            let expected = match &w.filter {
                None => convs.iter().map(|c| c.counted_unread()).sum(),
                Some(f) => recount(&convs, f),
            };
            if w.latest != Some(expected) {
                return Err(format!(
                    "the watch of {:?} last yielded {:?}, recount {expected}",
                    w.filter, w.latest
                ));
            }
        }
        Ok(())
    }
}
