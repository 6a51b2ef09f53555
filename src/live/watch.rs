//! Watching one conversation: its record now, then each change.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use tokio::sync::watch;

use crate::model::Conversation;
use crate::streams::{Ending, watch_values};

/// A watch on one conversation, from
/// [`ConversationManager::watch`](crate::ConversationManager::watch).
///
/// Yields the conversation's state now, then its state after each committed change to it:
/// `Some(record)` while it is in the list, `None` while it is not (it does not exist yet, or
/// it was deleted). A conversation that comes back after a delete (a newer message) is
/// `Some` again. States are "latest wins": a consumer that keeps up sees every change; one
/// that polls slowly sees the newest state, never a stale one, possibly skipping some in
/// between. The stream is `Send + Sync`, fused, and ends when the manager shuts down; dropping
/// it ends the watch.
#[must_use = "streams do nothing unless polled"]
pub struct ConversationWatch {
    inner: Ending<Option<Arc<Conversation>>>,
}

impl ConversationWatch {
    pub(crate) fn new(
        rx: watch::Receiver<Option<Arc<Conversation>>>,
        closed: watch::Receiver<bool>,
    ) -> Self {
        Self {
            inner: watch_values(rx, closed),
        }
    }
}

impl std::fmt::Debug for ConversationWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConversationWatch")
    }
}

impl Stream for ConversationWatch {
    type Item = Option<Arc<Conversation>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

impl FusedStream for ConversationWatch {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}
