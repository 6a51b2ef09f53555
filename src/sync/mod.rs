//! Server sync: the outbox, the push/pull loop, and
//! reconciliation of the server's state with this device's pending changes.
//!
//! With a [`Transport`](crate::transport::Transport) configured
//! ([`ManagerBuilder::transport`](crate::ManagerBuilder::transport)), every local change to
//! roaming state (pin, marks, custom data, groups, deletes, read positions) is applied at once
//! and recorded as an operation with a client operation ID in the same transaction. A sync
//! task then:
//!
//! - pushes waiting operations in order, retrying with backoff; the server's answer removes
//!   them from the outbox and brings its state of what they touched (a rejected operation is
//!   rolled back and reported as [`Event::OperationRejected`](crate::Event::OperationRejected));
//! - pulls what changed since its bookmark when it starts, when it reconnects, when the server
//!   says something changed, and when asked ([`ConversationManager::sync`](crate::ConversationManager::sync)),
//!   storing each page with its bookmark in one transaction; [`Event::SyncStarted`](crate::Event::SyncStarted)
//!   is followed by exactly one of `SyncFinished` / `SyncFailed`;
//! - ingests the messages the server pushes.
//!
//! [`ConversationManager::sync_status`](crate::ConversationManager::sync_status) reads where
//! this stands and [`watch_sync_status`](crate::ConversationManager::watch_sync_status)
//! follows it ([`SyncStatus`]), for a subscriber that may come after the first events.
//!
//! A pull never runs while a push is unanswered: a push is answered (or has failed, and the
//! cycle with it) before the pull starts. So the server state a pull brings covers every
//! operation no longer in the outbox, and reconciliation (`reconcile.rs`) can rebuild the
//! roaming state as "server state + the operations still waiting". docs/SYNC.md has the
//! whole contract.

mod backoff;
mod engine;
pub(crate) mod outbox;
pub(crate) mod reconcile;
mod status;

use std::time::Duration;

pub(crate) use engine::{Control, run};
pub(crate) use outbox::Outbox;
pub use status::{SyncStatus, SyncStatusStream};

/// How the sync task paces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncOptions {
    /// Most changes asked for per pull page (default 500).
    pub pull_page_size: usize,
    /// Most operations per push (default 100).
    pub push_batch_size: usize,
    /// First wait before retrying after a failure (default 200 ms); doubled per failure in a
    /// row.
    pub initial_backoff: Duration,
    /// Longest wait between retries (default 30 s).
    pub max_backoff: Duration,
    /// Draw each wait from its upper half at random (default `true`), so that devices that
    /// failed together do not retry in step; `false` for exact, replayable waits.
    pub backoff_jitter: bool,
    /// How long the task waits, without any server hint, before pulling anyway (default five
    /// minutes; `None`: only on hints, reconnects and requests). Hints can be lost with a
    /// dropped connection; this bounds how stale a quiet device gets.
    pub poll_interval: Option<Duration>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            pull_page_size: 500,
            push_batch_size: 100,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            backoff_jitter: true,
            poll_interval: Some(Duration::from_secs(300)),
        }
    }
}

impl SyncOptions {
    /// Sets [`pull_page_size`](Self::pull_page_size) (at least 1).
    #[must_use]
    pub fn pull_page_size(mut self, n: usize) -> Self {
        self.pull_page_size = n.max(1);
        self
    }

    /// Sets [`push_batch_size`](Self::push_batch_size) (at least 1).
    #[must_use]
    pub fn push_batch_size(mut self, n: usize) -> Self {
        self.push_batch_size = n.max(1);
        self
    }

    /// Sets [`poll_interval`](Self::poll_interval).
    #[must_use]
    pub fn poll_interval(mut self, every: Option<Duration>) -> Self {
        self.poll_interval = every;
        self
    }

    /// Sets [`backoff_jitter`](Self::backoff_jitter).
    #[must_use]
    pub fn backoff_jitter(mut self, jitter: bool) -> Self {
        self.backoff_jitter = jitter;
        self
    }

    /// Sets the backoff bounds.
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }
}

/// A random prefix for this session's client operation IDs, so that IDs never collide across
/// devices or restarts (the sequence after it is per device).
pub(crate) fn new_session() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(now);
    hasher.write_u32(std::process::id());
    hasher.finish()
}
