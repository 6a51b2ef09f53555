//! An in-memory [`Store`]: the reference implementation of the contract.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{ChangeSet, KeptSettings, Snapshot, Store, SyncRecord, Tombstone, UnreadEntry};
use crate::error::{Error, Result};
use crate::model::{Conversation, ConversationId};

/// A [`Store`] that keeps everything in memory.
///
/// Clones share the same data, so a test can drop a manager and open another one on the same
/// store, as if restarting on the same file. Nothing survives the process. Records are shared
/// with the manager's index (an `Arc` each), not copied.
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
    conversations: HashMap<ConversationId, Arc<Conversation>>,
    unread: BTreeMap<u64, UnreadEntry>,
    tombstones: HashMap<ConversationId, Tombstone>,
    settings: HashMap<ConversationId, KeptSettings>,
    folders: Vec<String>,
    order_clock: u64,
    sync_records: BTreeMap<u64, Vec<u8>>,
    sync_state: Option<Vec<u8>>,
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
                .map(|c| (c.id.clone(), c))
                .collect(),
            unread: snapshot.unread.into_iter().map(|u| (u.id, u)).collect(),
            tombstones: snapshot
                .tombstones
                .into_iter()
                .map(|t| (t.id.clone(), t))
                .collect(),
            settings: snapshot
                .settings
                .into_iter()
                .map(|s| (s.id.clone(), s))
                .collect(),
            folders: snapshot.folders,
            order_clock: snapshot.order_clock,
            sync_records: snapshot
                .sync_records
                .into_iter()
                .map(|r| (r.key, r.value))
                .collect(),
            sync_state: snapshot.sync_state,
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

impl State {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            conversations: self.conversations.values().cloned().collect(),
            unread: self.unread.values().cloned().collect(),
            tombstones: self.tombstones.values().cloned().collect(),
            settings: self.settings.values().cloned().collect(),
            folders: self.folders.clone(),
            order_clock: self.order_clock,
            sync_records: self
                .sync_records
                .iter()
                .map(|(key, value)| SyncRecord::new(*key, value.clone()))
                .collect(),
            sync_state: self.sync_state.clone(),
        }
    }

    fn apply(&mut self, change: &ChangeSet) {
        for t in &change.deletes {
            self.conversations.remove(&t.id);
            self.tombstones.insert(t.id.clone(), t.clone());
        }
        for c in &change.upserts {
            self.conversations.insert(c.id.clone(), Arc::clone(c));
        }
        for u in &change.unread_removed {
            self.unread.remove(&u.id);
        }
        for u in &change.unread_added {
            self.unread.insert(u.id, u.clone());
        }
        for id in &change.settings_released {
            self.settings.remove(id);
        }
        for s in &change.settings_kept {
            self.settings.insert(s.id.clone(), s.clone());
        }
        if let Some(folders) = &change.folders {
            self.folders.clone_from(folders);
        }
        self.order_clock = self.order_clock.max(change.order_clock);
        for key in &change.sync.remove {
            self.sync_records.remove(key);
        }
        for r in &change.sync.put {
            self.sync_records.insert(r.key, r.value.clone());
        }
        if let Some(state) = &change.sync.state {
            self.sync_state = Some(state.clone());
        }
    }
}

impl Store for MemoryStore {
    fn load(&self) -> BoxFuture<'_, Result<Snapshot>> {
        let result = self.lock().map(|mut s| {
            s.closed = false;
            s.snapshot()
        });
        async move { result }.boxed()
    }

    fn commit<'a>(&'a self, change: &'a ChangeSet) -> BoxFuture<'a, Result<()>> {
        // The whole change is applied under one lock, so readers of the store never see half.
        let result = self.lock().and_then(|mut s| {
            if s.closed {
                return Err(Error::Closed);
            }
            s.apply(change);
            Ok(())
        });
        async move { result }.boxed()
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        let result = self.lock().map(|mut s| s.closed = true);
        async move { result }.boxed()
    }
}
