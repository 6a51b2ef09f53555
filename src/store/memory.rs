//! An in-memory [`Store`]: the reference implementation of the contract.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{ChangeSet, GroupChange, OutboxEntry, Snapshot, Store, StoredConversation, Tombstone};
use crate::error::{Error, Result};
use crate::model::ConversationId;
use crate::transport::Bookmark;

/// A [`Store`] that keeps everything in memory.
///
/// Clones share the same data, so a test can drop a manager and open another one on the same
/// store, as if restarting on the same file. Nothing survives the process.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), timconv::Error> {
/// use timconv::{ConversationId, ConversationManager, MemoryStore};
///
/// let store = MemoryStore::new();
/// let first = ConversationManager::builder().store(store.clone()).open().await?;
/// first.create_conversation(&ConversationId::c2c("alice")?).await?;
/// first.shutdown().await?;
///
/// let again = ConversationManager::builder().store(store).open().await?;
/// assert_eq!(again.len(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    conversations: HashMap<ConversationId, StoredConversation>,
    tombstones: HashMap<ConversationId, Tombstone>,
    groups: Vec<String>,
    order_clock: u64,
    outbox: Vec<OutboxEntry>,
    bookmark: Option<Bookmark>,
    closed: bool,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `snapshot` (for tests and benches that start from a known state).
    #[must_use]
    pub fn from_snapshot(snapshot: Snapshot) -> Self {
        let state = State {
            conversations: snapshot
                .conversations
                .into_iter()
                .map(|c| (c.conversation.id.clone(), c))
                .collect(),
            tombstones: snapshot
                .tombstones
                .into_iter()
                .map(|t| (t.id.clone(), t))
                .collect(),
            groups: snapshot.groups,
            order_clock: snapshot.order_clock,
            outbox: snapshot.outbox,
            bookmark: snapshot.bookmark,
            closed: false,
        };
        Self {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| Error::Internal("memory store lock poisoned".into()))
    }
}

impl Store for MemoryStore {
    fn load(&self) -> BoxFuture<'_, Result<Snapshot>> {
        let result = self.lock().map(|mut s| {
            s.closed = false;
            let mut conversations: Vec<_> = s.conversations.values().cloned().collect();
            conversations.sort_by_key(|c| std::cmp::Reverse(c.conversation.sort_key()));
            Snapshot {
                conversations,
                tombstones: s.tombstones.values().cloned().collect(),
                groups: s.groups.clone(),
                order_clock: s.order_clock,
                outbox: s.outbox.clone(),
                bookmark: s.bookmark.clone(),
            }
        });
        async move { result }.boxed()
    }

    fn commit<'a>(&'a self, change: &'a ChangeSet) -> BoxFuture<'a, Result<()>> {
        let result = self.lock().and_then(|mut s| {
            if s.closed {
                return Err(Error::Closed);
            }
            // The whole change is applied under one lock, so readers of the store never see half.
            for t in &change.deletes {
                s.conversations.remove(&t.id);
                s.tombstones.insert(t.id.clone(), t.clone());
            }
            for c in &change.upserts {
                s.conversations.insert(c.conversation.id.clone(), c.clone());
            }
            for g in &change.groups {
                match g {
                    GroupChange::Created(name) => s.groups.push(name.clone()),
                    GroupChange::Deleted(name) => s.groups.retain(|n| n != name),
                    GroupChange::Renamed { from, to } => {
                        for n in s.groups.iter_mut().filter(|n| *n == from) {
                            n.clone_from(to);
                        }
                    }
                }
            }
            s.order_clock = s.order_clock.max(change.order_clock);
            s.outbox.retain(|e| !change.outbox_removed.contains(&e.seq));
            s.outbox.extend(change.outbox_added.iter().cloned());
            s.outbox.sort_by_key(|e| e.seq);
            if let Some(bookmark) = &change.bookmark {
                s.bookmark = Some(bookmark.clone());
            }
            Ok(())
        });
        async move { result }.boxed()
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        let result = self.lock().map(|mut s| s.closed = true);
        async move { result }.boxed()
    }
}
