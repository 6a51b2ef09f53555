//! Events: what changed, published after each committed change (SPEC §9).
//!
//! [`ConversationManager::events`](crate::ConversationManager::events) returns an
//! [`EventStream`]. Events describe committed state and arrive in commit order. A consumer
//! that falls behind by more than the channel's capacity is not blocking anyone: it receives
//! `Err(Lagged)` saying how many events it missed, and should re-read what it shows.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use tokio::sync::{broadcast, watch};

use crate::error::ErrorCode;
use crate::filter::ConversationFilter;
use crate::model::{Conversation, ConversationId};
use crate::streams::{Ending, broadcast_items};

/// Why conversations left a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FolderRemovalReason {
    /// 0: the user removed them (or deleted the conversations).
    ByUser,
    /// 1: evicted because the folder passed 1000 conversations (reported by the server).
    Evicted,
}

impl FolderRemovalReason {
    /// The numeric value used by the C API.
    #[must_use]
    pub fn as_u32(self) -> u32 {
        match self {
            FolderRemovalReason::ByUser => 0,
            FolderRemovalReason::Evicted => 1,
        }
    }
}

/// Something that happened to the conversation list.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// New conversations (`kTIMConvEvent_Add`), with their state (shared records).
    Added(Vec<Arc<Conversation>>),
    /// Deleted conversations (`kTIMConvEvent_Del`).
    Deleted(Vec<ConversationId>),
    /// Changed conversations, with their new state (`kTIMConvEvent_Update`): new message,
    /// unread, pin, marks, draft, custom data, groups, receive option, ...
    Updated(Vec<Arc<Conversation>>),
    /// Server sync started (`kTIMConvEvent_Start`). Emitted only when a transport is configured.
    /// The first cycle starts at open, possibly before a subscriber: for where sync stands,
    /// read [`ConversationManager::sync_status`](crate::ConversationManager::sync_status).
    SyncStarted,
    /// Server sync finished (`kTIMConvEvent_Finish`).
    SyncFinished,
    /// Server sync failed (it is retried with backoff).
    SyncFailed {
        /// The SPEC §10 code.
        code: ErrorCode,
        /// What went wrong.
        message: String,
    },
    /// The server refused an operation made on this device (for example 51012, too many
    /// pinned conversations on the server): its local effect has been rolled back to the
    /// server's state.
    OperationRejected {
        /// The operation.
        operation: crate::transport::Operation,
        /// The server's code.
        code: ErrorCode,
        /// The server's reason.
        message: String,
    },
    /// The total unread count changed.
    TotalUnreadChanged(u64),
    /// The unread count of a watched filter changed.
    UnreadByFilterChanged {
        /// The filter, as it was subscribed.
        filter: ConversationFilter,
        /// Its new unread count.
        count: u64,
    },
    /// A folder was created.
    FolderCreated {
        /// Its name.
        name: String,
        /// The conversations it was created with (those accepted).
        conversations: Vec<ConversationId>,
    },
    /// A folder was deleted.
    FolderDeleted {
        /// Its name.
        name: String,
    },
    /// A folder was renamed.
    FolderRenamed {
        /// The old name.
        old_name: String,
        /// The new name.
        new_name: String,
    },
    /// Conversations were added to a folder.
    ConversationsAddedToFolder {
        /// The folder.
        name: String,
        /// The conversations added.
        conversations: Vec<ConversationId>,
    },
    /// Conversations were removed from a folder.
    ConversationsRemovedFromFolder {
        /// The folder.
        name: String,
        /// The conversations removed.
        conversations: Vec<ConversationId>,
        /// Why.
        reason: FolderRemovalReason,
    },
    /// Conversations moved from one folder to another, in one change
    /// ([`ConversationManager::move_to_folder`](crate::ConversationManager::move_to_folder)).
    ConversationsMovedBetweenFolders {
        /// The folder they left.
        from: String,
        /// The folder they joined.
        to: String,
        /// The conversations moved.
        conversations: Vec<ConversationId>,
    },
}

impl Event {
    /// The C API's `TIMConvEvent` value for the five list events, `None` for the others.
    #[must_use]
    pub fn conv_event_code(&self) -> Option<u32> {
        match self {
            Event::Added(_) => Some(0),
            Event::Deleted(_) => Some(1),
            Event::Updated(_) => Some(2),
            Event::SyncStarted => Some(3),
            Event::SyncFinished => Some(4),
            _ => None,
        }
    }
}

/// The consumer fell behind and `missed` events were dropped for it; re-read the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event consumer fell behind and missed {missed} events")]
pub struct Lagged {
    /// How many events were missed.
    pub missed: u64,
}

/// A stream of [`Event`]s; dropping it unsubscribes. It is `Send + Sync`, fused, and ends
/// when the manager shuts down, after the events of its last commits.
#[must_use = "streams do nothing unless polled"]
pub struct EventStream {
    inner: Ending<Result<Event, u64>>,
}

impl EventStream {
    pub(crate) fn new(rx: broadcast::Receiver<Event>, closed: watch::Receiver<bool>) -> Self {
        Self {
            inner: broadcast_items(rx, closed),
        }
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

impl Stream for EventStream {
    type Item = Result<Event, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner)
            .poll_next(cx)
            .map(|item| item.map(|item| item.map_err(|missed| Lagged { missed })))
    }
}

impl FusedStream for EventStream {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}
