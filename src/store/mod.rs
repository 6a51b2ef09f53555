//! Storage: the narrow contract the manager persists through, and its backends.
//!
//! The manager never touches storage except through [`Store`]: it [`load`](Store::load)s
//! everything once when it opens (to build its in-memory index), then [`commit`](Store::commit)s
//! one [`ChangeSet`] per write, atomically and durably, before the change becomes visible.
//! Reads never reach the store.

mod memory;
mod sqlite;

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::error::Result;
use crate::model::{Conversation, ConversationId};
use crate::transport::{Bookmark, PendingOperation};

pub use memory::MemoryStore;
pub use sqlite::{SqliteStore, SqliteStoreOptions, Synchronous};

/// A message counted in a conversation's unread count, remembered so that the same message
/// delivered twice counts once, and so that cleaning up to a position removes exactly the
/// messages at or before it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnreadMessage {
    /// The message's identity (its message ID, or a key built from sequence, random and time).
    pub key: String,
    /// Its read-position coordinate (server time for C2C, sequence for groups).
    pub position: u64,
}

/// A conversation as stored: the public record plus the bookkeeping behind its unread count.
///
/// Invariant kept by the manager: `conversation.unread_count == unread_messages.len()`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredConversation {
    /// The record the API shows.
    pub conversation: Conversation,
    /// The messages behind `unread_count`.
    pub unread_messages: Vec<UnreadMessage>,
}

impl StoredConversation {
    /// A stored record with no unread bookkeeping (for a conversation with no unread).
    #[must_use]
    pub fn new(conversation: Conversation) -> Self {
        Self {
            conversation,
            unread_messages: Vec::new(),
        }
    }
}

/// What remains of a deleted conversation, so that stale state cannot bring it back
/// (SPEC §8): only a message newer than `last_message` does.
///
/// A tombstone outlives the conversation coming back: messages from before the delete stay
/// gone (they are neither counted nor shown again), and a later delete raises its floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    /// The deleted conversation.
    pub id: ConversationId,
    /// Recency of the newest message deleted, as (read position, server time, sequence); all
    /// zero if there was none.
    pub last_message: [u64; 3],
    /// Whether the delete asked for its message history to be cleared too.
    pub clear_messages: bool,
}

/// A change to the set of conversation groups (the names; membership lives on the records).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupChange {
    /// A group was created (appended to the list of names).
    Created(String),
    /// A group was deleted.
    Deleted(String),
    /// A group was renamed, keeping its place in the list.
    Renamed {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
}

/// One atomic write: everything a single manager call changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    /// Conversations created or changed: their full new state. Applied after `deletes`; a
    /// tombstone stays when its conversation comes back.
    pub upserts: Vec<StoredConversation>,
    /// Conversations deleted: the record is removed and the tombstone stored (replacing an
    /// older one).
    pub deletes: Vec<Tombstone>,
    /// Changes to the list of group names, in order.
    pub groups: Vec<GroupChange>,
    /// The highest order key allocated so far (never lowered); order keys are never reused.
    pub order_clock: u64,
    /// Sync operations recorded by this change, to push (in the same transaction as the local
    /// change they describe, so neither is ever kept without the other).
    pub outbox_added: Vec<OutboxEntry>,
    /// Outbox entries (by `seq`) the server answered: applied or rejected.
    pub outbox_removed: Vec<u64>,
    /// The sync bookmark after this change, when it covers pulled changes: stored in the same
    /// transaction as the data it covers.
    pub bookmark: Option<Bookmark>,
}

impl ChangeSet {
    /// Whether it changes nothing but (possibly) the order clock.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty()
            && self.deletes.is_empty()
            && self.groups.is_empty()
            && self.outbox_added.is_empty()
            && self.outbox_removed.is_empty()
            && self.bookmark.is_none()
    }
}

/// A sync operation waiting in the outbox to be pushed (or for the server's answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Its place in the outbox: increasing, never reused while the entry is stored.
    pub seq: u64,
    /// The operation and its client operation ID.
    pub operation: PendingOperation,
}

/// Everything a store holds, as loaded when a manager opens.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Every live conversation.
    pub conversations: Vec<StoredConversation>,
    /// Every tombstone.
    pub tombstones: Vec<Tombstone>,
    /// Conversation-group names, in creation order.
    pub groups: Vec<String>,
    /// The highest order key ever allocated.
    pub order_clock: u64,
    /// Sync operations not yet answered by the server, by increasing `seq`.
    pub outbox: Vec<OutboxEntry>,
    /// The last sync bookmark stored (`None`: never synced).
    pub bookmark: Option<Bookmark>,
}

/// A storage backend.
///
/// The contract is small on purpose (one method, one promise):
///
/// - [`load`](Store::load) returns the state as of the last successful commit.
/// - [`commit`](Store::commit) applies a whole [`ChangeSet`] or nothing. When it returns `Ok`,
///   the change survives a crash of the process; when it returns `Err`, nothing of it was
///   applied. Commits are issued by one writer at a time, in order.
/// - [`close`](Store::close) flushes and releases resources; no call follows it.
///
/// Implementations: [`SqliteStore`] (a SQLite file: durable, the default) and [`MemoryStore`]
/// (nothing survives the process; for tests and ephemeral sessions). Both pass the same
/// conformance suite.
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Loads everything needed to build the in-memory index.
    fn load(&self) -> BoxFuture<'_, Result<Snapshot>>;

    /// Applies `change` atomically and durably.
    fn commit<'a>(&'a self, change: &'a ChangeSet) -> BoxFuture<'a, Result<()>>;

    /// Flushes and releases the store.
    fn close(&self) -> BoxFuture<'_, Result<()>>;

    /// Deferred work, done while no write is waiting: the manager's writer calls it whenever
    /// its queue is empty, and again while it returns `Ok(true)` (more to do) and nothing else
    /// arrives. It must not change what [`load`](Store::load) returns; a commit that returned
    /// `Ok` stays durable. [`SqliteStore`] folds its journal here. The default does nothing.
    fn idle(&self) -> BoxFuture<'_, Result<bool>> {
        futures::future::ready(Ok(false)).boxed()
    }
}
