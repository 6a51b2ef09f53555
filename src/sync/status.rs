//! Where this device's sync stands, as a value an app can read or watch (a "syncing…" or
//! "offline" indicator), unlike the sync events, which a subscriber that comes late misses.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use tokio::sync::watch;

use crate::error::ErrorCode;
use crate::streams::{Ending, watch_values};

/// The state of server sync, as [`ConversationManager::sync_status`](crate::ConversationManager::sync_status)
/// reads it and [`watch_sync_status`](crate::ConversationManager::watch_sync_status) follows it.
///
/// It follows the sync cycles ([`Event::SyncStarted`](crate::Event::SyncStarted) and its
/// closing event), and pushes made between cycles when they fail. Operations waiting for the
/// server are counted apart, by [`pending_operations`](crate::ConversationManager::pending_operations).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncStatus {
    /// No transport is configured: the manager works local-only.
    Disabled,
    /// A cycle (push, then pull) is under way, or about to start: the state from open until
    /// the first cycle ends.
    Syncing,
    /// The last cycle finished: everything this device had queued was answered, and it holds
    /// what the server had changed when the cycle pulled.
    UpToDate,
    /// The last attempt failed (the server unreachable, say); the sync task retries with
    /// backoff, and local changes keep applying and queueing meanwhile.
    Failed {
        /// The SPEC §10 code.
        code: ErrorCode,
        /// What went wrong.
        message: String,
    },
}

/// A watch on the sync status: yields the current status first, then each new one. Values
/// are "latest wins": a consumer that polls slowly sees the newest status, possibly skipping
/// some in between. The stream is `Send + Sync`, fused, and ends when the manager shuts down.
#[must_use = "streams do nothing unless polled"]
pub struct SyncStatusStream {
    inner: Ending<SyncStatus>,
}

impl SyncStatusStream {
    pub(crate) fn new(rx: watch::Receiver<SyncStatus>, closed: watch::Receiver<bool>) -> Self {
        Self {
            inner: watch_values(rx, closed),
        }
    }
}

impl std::fmt::Debug for SyncStatusStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncStatusStream")
    }
}

impl Stream for SyncStatusStream {
    type Item = SyncStatus;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SyncStatus>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

impl FusedStream for SyncStatusStream {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}
