//! Storage: the narrow contract the manager persists through, and its backends.
//!
//! The manager never touches storage except through [`Store`]: it [`load`](Store::load)s
//! everything once when it opens (to build its in-memory index), then [`commit`](Store::commit)s
//! one [`ChangeSet`] per write, atomically and durably, before the change becomes visible.
//! Reads never reach the store.
//!
//! A store keeps five kinds of data, all plain values it does not interpret:
//!
//! - **conversations**: the full record of each live conversation ([`Conversation`], shared
//!   with the manager's index as an `Arc`, so a store that keeps records in memory does not copy
//!   them);
//! - **unread entries** ([`UnreadEntry`]): the messages behind each conversation's unread count,
//!   added and removed one by one, so that counting a message costs the same however many are
//!   unread already;
//! - **tombstones** ([`Tombstone`]) of deleted conversations, and **kept settings**
//!   ([`KeptSettings`]) of conversations that are not in the list;
//! - the **folder list** (names, in order) and the **order clock**;
//! - **sync data** ([`SyncChange`]): records and a state value that belong to server sync,
//!   opaque to the store, to be written in the same transaction as the change they go with.
//!
//! [`ChangeSet`] and [`Snapshot`] are `#[non_exhaustive]`: new kinds of data may be added in a
//! minor version. A third-party store builds a `Snapshot` from `Snapshot::default()` by
//! assigning fields, and handles every field of a `ChangeSet` it is given; the conformance suite
//! of the crate's tests shows what each must do.

mod memory;
mod sqlite;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::error::Result;
use crate::model::{Conversation, ConversationId, GroupType, ReceiveOption};

pub use memory::MemoryStore;
pub use sqlite::{SqliteStore, SqliteStoreOptions, Synchronous};

/// A message counted in a conversation's unread count, remembered so that the same message
/// delivered twice counts once, and so that cleaning up to a position removes exactly the
/// messages at or before it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct UnreadEntry {
    /// Unique among the stored entries (allocated by the manager).
    pub id: u64,
    /// The conversation it counts in.
    pub conversation: ConversationId,
    /// The message's identity (its message ID, or a key built from sequence, random and time).
    pub key: String,
    /// Its read-position coordinate (server time for C2C, sequence for groups).
    pub position: u64,
}

impl UnreadEntry {
    /// An entry.
    #[must_use]
    pub fn new(id: u64, conversation: ConversationId, key: String, position: u64) -> Self {
        Self {
            id,
            conversation,
            key,
            position,
        }
    }
}

/// What remains of a deleted conversation, so that stale state cannot bring it back: only a
/// message newer than `last_message` does.
///
/// A tombstone outlives the conversation coming back: messages from before the delete stay
/// gone (they are neither counted nor shown again), and a later delete raises its floor.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tombstone {
    /// The deleted conversation.
    pub id: ConversationId,
    /// Recency of the newest message deleted, as (read position, server time, sequence); all
    /// zero if there was none.
    pub last_message: [u64; 3],
    /// Whether the delete asked for its message history to be cleared too.
    pub clear_messages: bool,
}

impl Tombstone {
    /// A tombstone.
    #[must_use]
    pub fn new(id: ConversationId, last_message: [u64; 3], clear_messages: bool) -> Self {
        Self {
            id,
            last_message,
            clear_messages,
        }
    }
}

/// The settings of a conversation that is not in the list (it was deleted, or it has not
/// appeared yet): they apply again when it appears. A live conversation carries its settings
/// in its record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeptSettings {
    /// The conversation.
    pub id: ConversationId,
    /// Its receive option.
    pub receive_option: ReceiveOption,
    /// Its group kind, if known.
    pub group_type: Option<GroupType>,
}

impl KeptSettings {
    /// Kept settings.
    #[must_use]
    pub fn new(
        id: ConversationId,
        receive_option: ReceiveOption,
        group_type: Option<GroupType>,
    ) -> Self {
        Self {
            id,
            receive_option,
            group_type,
        }
    }
}

/// One opaque record of sync data, by key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncRecord {
    /// Its key: unique, chosen by the sync layer.
    pub key: u64,
    /// Its bytes (versioned by the sync layer; a store only keeps them).
    pub value: Vec<u8>,
}

impl SyncRecord {
    /// A record.
    #[must_use]
    pub fn new(key: u64, value: Vec<u8>) -> Self {
        Self { key, value }
    }
}

/// The sync part of a change: opaque data the store keeps atomically with the rest of it, so
/// that a change and its record for the server are never stored one without the other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncChange {
    /// Records to store (replacing a record with the same key).
    pub put: Vec<SyncRecord>,
    /// Keys of records to remove.
    pub remove: Vec<u64>,
    /// The new sync state value, when it changed.
    pub state: Option<Vec<u8>>,
}

impl SyncChange {
    /// Whether it changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.put.is_empty() && self.remove.is_empty() && self.state.is_none()
    }
}

/// One atomic write: everything a group of manager calls changes.
///
/// Apply it in field order: `deletes`, then `upserts` (a conversation deleted and created
/// again in one change is in both), then the rest.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ChangeSet {
    /// Conversations deleted: the record is removed, and the tombstone stored (replacing an
    /// older one). Their unread entries are listed in `unread_removed`.
    pub deletes: Vec<Tombstone>,
    /// Conversations created or changed: their full new state.
    pub upserts: Vec<Arc<Conversation>>,
    /// Unread entries added.
    pub unread_added: Vec<UnreadEntry>,
    /// Unread entries removed (read, or their conversation deleted); a store finds them by
    /// [`id`](UnreadEntry::id).
    pub unread_removed: Vec<UnreadEntry>,
    /// Kept settings stored (replacing those of the same conversation).
    pub settings_kept: Vec<KeptSettings>,
    /// Conversations whose kept settings are dropped (they are in the list again).
    pub settings_released: Vec<ConversationId>,
    /// The whole folder list after this change, when it changed.
    pub folders: Option<Vec<String>>,
    /// The highest order key allocated so far (never lowered); order keys are never reused.
    pub order_clock: u64,
    /// Sync data to keep with this change.
    pub sync: SyncChange,
}

impl ChangeSet {
    /// Whether it changes nothing but (possibly) the order clock.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.deletes.is_empty()
            && self.upserts.is_empty()
            && self.unread_added.is_empty()
            && self.unread_removed.is_empty()
            && self.settings_kept.is_empty()
            && self.settings_released.is_empty()
            && self.folders.is_none()
            && self.sync.is_empty()
    }
}

/// Everything a store holds, as loaded when a manager opens.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Snapshot {
    /// Every live conversation, in any order.
    pub conversations: Vec<Arc<Conversation>>,
    /// Every unread entry still stored, in any order.
    pub unread: Vec<UnreadEntry>,
    /// Every tombstone.
    pub tombstones: Vec<Tombstone>,
    /// Every kept setting.
    pub settings: Vec<KeptSettings>,
    /// The folder list, in its order.
    pub folders: Vec<String>,
    /// The highest order key ever allocated.
    pub order_clock: u64,
    /// The sync records, by increasing key.
    pub sync_records: Vec<SyncRecord>,
    /// The last sync state value stored.
    pub sync_state: Option<Vec<u8>>,
}

/// A storage backend.
///
/// The contract is small on purpose:
///
/// - [`load`](Store::load) returns the state as of the last successful commit.
/// - [`commit`](Store::commit) applies a whole [`ChangeSet`] or nothing. When it returns `Ok`,
///   the change survives a crash of the process; when it returns `Err`, nothing of it was
///   applied. Commits are issued by one writer at a time, in order.
/// - [`close`](Store::close) finishes whatever the store deferred, flushes and releases it; no
///   call follows it.
///
/// A store may do work of its own in the background (the SQLite store compacts its file and
/// checkpoints its log there), but never so that a commit waits long behind it.
///
/// Implementations: [`SqliteStore`] (a SQLite file: durable, the default) and [`MemoryStore`]
/// (nothing survives the process; for tests and ephemeral sessions). Both pass the same
/// conformance suite.
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Loads everything needed to build the in-memory index.
    fn load(&self) -> BoxFuture<'_, Result<Snapshot>>;

    /// Applies `change` atomically and durably.
    fn commit<'a>(&'a self, change: &'a ChangeSet) -> BoxFuture<'a, Result<()>>;

    /// Finishes deferred work, flushes and releases the store.
    fn close(&self) -> BoxFuture<'_, Result<()>>;
}
