//! [`ConversationManager`]: the public entry point.
//!
//! Reads are answered from the in-memory index at once. Writes go through one writer task
//! (see `writer.rs`): validate, compute the change, commit it to the store, apply it to the
//! index, publish events — in that order, one change at a time. Each domain has its own file:
//! `messages.rs`, `pin.rs`, `marks.rs`, `custom_data.rs`, `drafts.rs`, `groups.rs`,
//! `unread.rs`, `delete.rs`, `list.rs`.

mod custom_data;
mod delete;
mod drafts;
mod groups;
mod list;
mod marks;
pub(crate) mod messages;
mod pin;
mod tx;
mod unread;
mod writer;

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, mpsc, oneshot};

use crate::error::{Error, Result};
use crate::events::{Event, EventStream};
use crate::index::Index;
use crate::limits::Limits;
use crate::store::{MemoryStore, SqliteStoreOptions, Store};

pub use messages::{IngestOutcome, Profile};
pub(crate) use tx::Tx;
pub use unread::{CleanTarget, UnreadStream};

/// State shared by every handle and the writer task.
pub(crate) struct Shared {
    index: RwLock<Index>,
    events: broadcast::Sender<Event>,
    limits: Limits,
    self_user: Option<String>,
}

impl Shared {
    /// The index for reading. A panic elsewhere cannot leave it half-written (changes are
    /// applied by the writer only after commit), so a poisoned lock is still usable.
    pub(crate) fn read_index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write_index(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Inner {
    shared: Arc<Shared>,
    jobs: mpsc::Sender<writer::Job>,
}

/// The conversation list of one account: every conversation operation, its events and its
/// unread counters.
///
/// Cheap to clone (clones share one state), `Send + Sync`, usable from many tasks at once.
/// Reads never wait for storage; writes are applied one at a time, each atomically: a call
/// that returns `Ok` is durable in the store and already visible to reads and events, a call
/// that returns `Err` changed nothing and emitted nothing.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), timconv::Error> {
/// use timconv::{ConversationId, ConversationManager, Message};
///
/// let manager = ConversationManager::builder().self_user_id("me").open().await?;
/// let alice = ConversationId::c2c("alice")?;
/// let mut hello = Message::text("m1", "hello");
/// hello.server_time = Some(1_700_000_000);
/// manager.ingest_message(&alice, hello).await?;
/// assert_eq!(manager.total_unread(), 1);
/// manager.pin(&alice, true).await?;
/// assert!(manager.get(&alice).map(|c| c.is_pinned).unwrap_or(false));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ConversationManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ConversationManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationManager")
            .field("conversations", &self.len())
            .finish_non_exhaustive()
    }
}

/// Configures and opens a [`ConversationManager`].
#[derive(Debug)]
#[must_use = "a builder does nothing until opened"]
pub struct ManagerBuilder {
    store: Option<Arc<dyn Store>>,
    sqlite: Option<SqliteStoreOptions>,
    limits: Limits,
    self_user: Option<String>,
    event_capacity: usize,
    queue_capacity: usize,
}

impl Default for ManagerBuilder {
    fn default() -> Self {
        Self {
            store: None,
            sqlite: None,
            limits: Limits::default(),
            self_user: None,
            event_capacity: 1024,
            queue_capacity: 1024,
        }
    }
}

impl ManagerBuilder {
    /// The storage backend, already open (default: a fresh [`MemoryStore`]).
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Arc::new(store));
        self.sqlite = None;
        self
    }

    /// Keeps the conversations in SQLite, opened with `options` when the manager opens.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), timconv::Error> {
    /// use timconv::{ConversationManager, SqliteStoreOptions};
    ///
    /// let manager = ConversationManager::builder()
    ///     .sqlite(SqliteStoreOptions::new().in_memory())
    ///     .self_user_id("me")
    ///     .open()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn sqlite(mut self, options: SqliteStoreOptions) -> Self {
        self.sqlite = Some(options);
        self.store = None;
        self
    }

    /// The limits to enforce (default: [`Limits::default`], the SPEC numbers).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The logged-in user's ID, used to recognise @me mentions in group messages.
    pub fn self_user_id(mut self, user_id: impl Into<String>) -> Self {
        self.self_user = Some(user_id.into());
        self
    }

    /// How many events a slow [`EventStream`] may fall behind before it is told it lagged
    /// (default 1024).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// How many writes may wait for the writer before callers wait to enqueue (default 1024).
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// Opens the store if needed, loads it, builds the index and starts the writer task.
    ///
    /// # Errors
    /// [`Error::NoRuntime`] (6013) outside a Tokio runtime; the store's error if opening or
    /// loading fails (6019).
    pub async fn open(self) -> Result<ConversationManager> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let store: Arc<dyn Store> = match (self.store, self.sqlite) {
            (Some(store), _) => store,
            (None, Some(options)) => Arc::new(options.open().await?),
            (None, None) => Arc::new(MemoryStore::new()),
        };
        let snapshot = store.load().await?;
        let count = snapshot.conversations.len();
        // Start versions at the clock so cursors from before a restart stay ordered.
        let version = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        let index = Index::from_snapshot(snapshot, version);
        let (events, _) = broadcast::channel(self.event_capacity);
        let shared = Arc::new(Shared {
            index: RwLock::new(index),
            events,
            limits: self.limits,
            self_user: self.self_user,
        });
        let (jobs, rx) = mpsc::channel(self.queue_capacity);
        runtime.spawn(writer::run(Arc::clone(&shared), store, rx));
        tracing::debug!(conversations = count, "conversation manager opened");
        Ok(ConversationManager {
            inner: Arc::new(Inner { shared, jobs }),
        })
    }
}

impl ConversationManager {
    /// Opens the conversations kept in the SQLite file at `path` (created if missing), with
    /// default limits: the usual way to start.
    ///
    /// Use [`builder`](Self::builder) to set the logged-in user, limits or store options.
    ///
    /// # Errors
    /// As [`SqliteStoreOptions::open`](crate::SqliteStoreOptions::open) and
    /// [`ManagerBuilder::open`].
    pub async fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        Self::builder()
            .sqlite(SqliteStoreOptions::new().filename(path))
            .open()
            .await
    }

    /// A builder; without a [`store`](ManagerBuilder::store) it keeps everything in memory.
    pub fn builder() -> ManagerBuilder {
        ManagerBuilder::default()
    }

    /// The limits this manager enforces.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.inner.shared.limits
    }

    /// Number of live conversations.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shared().read_index().len()
    }

    /// Whether there is no conversation.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Subscribes to every event from now on; dropping the stream unsubscribes.
    pub fn events(&self) -> EventStream {
        EventStream::new(self.inner.shared.events.subscribe())
    }

    /// Stops the writer after the writes already queued, and closes the store. Calls made
    /// afterwards on any clone fail with [`Error::Closed`] (6013); reads keep answering from
    /// the last state.
    ///
    /// # Errors
    /// [`Error::Closed`] if already shut down; the store's error if closing fails.
    pub async fn shutdown(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .jobs
            .send(writer::Job::Shutdown(tx))
            .await
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// Runs `op` in the writer and waits for its committed result.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .jobs
            .send(writer::job(op, reply))
            .await
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }
}
