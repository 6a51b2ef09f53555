//! The SQLite store's own background work: compacting the record log and checkpointing the
//! write-ahead log, in bounded steps that never keep a commit waiting long.
//!
//! One task per open store does it, and stops when the store is closed or dropped.
//!
//! - **Compaction** deletes dead record rows (see `log.rs`), oldest first, [`COMPACT_STEP`]
//!   rows per transaction on the store's connection. Commits queue for that connection in
//!   order (a fair lock), so a commit waits at most for the step under way. It runs when the
//!   store has been idle for [`IDLE`] (after a burst, everything is compacted at once, while
//!   the dead rows are densest), and during a long burst as soon as there are as many dead
//!   rows as live ones (so the file and the work of a load stay within twice the live data).
//! - **Checkpoints** copy the write-ahead log back into the database file. They run on a
//!   second connection, which in WAL mode does not stop commits at all, after every
//!   [`CHECKPOINT_BYTES`] written and when idle. The store's own connection never
//!   checkpoints inside a commit (SQLite's automatic checkpoint is off), so no commit pays for
//!   one.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::Inner;

/// Dead rows deleted per compaction step: a few milliseconds of work when they are dense.
pub(super) const COMPACT_STEP: usize = 4_096;

/// How long without a commit before the store counts as idle.
pub(super) const IDLE: Duration = Duration::from_millis(100);

/// Bytes of records written between two checkpoints during a burst.
pub(super) const CHECKPOINT_BYTES: usize = 8 << 20;

/// What the store has done since its upkeep last looked.
#[derive(Debug, Default)]
pub(super) struct Activity {
    /// When the last commit ended.
    pub(super) last_commit: Option<Instant>,
    /// Bytes committed since the last checkpoint.
    pub(super) unchecked: usize,
}

/// The next piece of upkeep.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Work {
    /// Delete one step of dead rows.
    Compact,
    /// Checkpoint the write-ahead log.
    Checkpoint,
    /// Nothing yet: look again after this long (or at the next commit).
    Wait(Duration),
    /// Nothing to do until the next commit.
    Nothing,
}

/// Decides the next piece of upkeep from the state of the log and of the commits.
pub(super) fn next_work(live: usize, dead: usize, activity: &Activity, now: Instant) -> Work {
    if dead >= COMPACT_STEP && dead >= live {
        return Work::Compact;
    }
    if activity.unchecked >= CHECKPOINT_BYTES {
        return Work::Checkpoint;
    }
    if dead == 0 && activity.unchecked == 0 {
        return Work::Nothing;
    }
    let quiet = activity
        .last_commit
        .map_or(IDLE, |at| now.saturating_duration_since(at));
    if quiet < IDLE {
        return Work::Wait(IDLE - quiet);
    }
    if dead > 0 {
        Work::Compact
    } else {
        Work::Checkpoint
    }
}

/// The upkeep task of one store. It holds the store weakly, between steps only.
pub(super) async fn run(store: Weak<Inner>, signal: Arc<Notify>) {
    loop {
        let Some(inner) = store.upgrade() else {
            return;
        };
        if inner.is_closed() {
            return;
        }
        let done = match inner.next_work() {
            Work::Compact => inner.compact_step().await.map(drop),
            Work::Checkpoint => inner.checkpoint().await,
            Work::Wait(wait) => {
                drop(inner);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = signal.notified() => {}
                }
                continue;
            }
            Work::Nothing => {
                drop(inner);
                signal.notified().await;
                continue;
            }
        };
        drop(inner);
        if let Err(err) = done {
            tracing::warn!(error = %err.report(), "sqlite store upkeep failed; retrying later");
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = signal.notified() => {}
            }
        }
        // Let a commit that queued meanwhile take the connection before the next step.
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_stores_compact_then_checkpoint_and_bursts_compact_past_the_live_rows() {
        let now = Instant::now();
        let busy = Activity {
            last_commit: Some(now),
            unchecked: 1,
        };
        let quiet = Activity {
            last_commit: now.checked_sub(IDLE),
            unchecked: 1,
        };
        assert_eq!(next_work(100_000, 10, &busy, now), Work::Wait(IDLE));
        assert_eq!(next_work(100_000, 10, &quiet, now), Work::Compact);
        assert_eq!(next_work(100_000, 0, &quiet, now), Work::Checkpoint);
        assert_eq!(
            next_work(100_000, 0, &Activity::default(), now),
            Work::Nothing
        );
        assert_eq!(next_work(100_000, 100_000, &busy, now), Work::Compact);
        let written = Activity {
            last_commit: Some(now),
            unchecked: CHECKPOINT_BYTES,
        };
        assert_eq!(next_work(100_000, 10, &written, now), Work::Checkpoint);
    }
}
