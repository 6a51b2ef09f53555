//! [`ConversationManager`]: the public entry point.
//!
//! Reads are answered from the in-memory index at once. Writes go through one writer task
//! (see `writer.rs`): validate, compute the change, commit it to the store, apply it to the
//! index, publish events — in that order, one change at a time. Each domain has its own file:
//! `messages.rs`, `settings.rs`, `pin.rs`, `marks.rs`, `custom_data.rs`, `drafts.rs`,
//! `folders.rs`, `unread.rs`, `delete.rs`, `list.rs`, `live.rs`.

mod custom_data;
mod delete;
mod drafts;
pub(crate) mod folders;
mod list;
mod live;
mod marks;
pub(crate) mod messages;
mod pin;
mod settings;
mod tx;
pub(crate) mod unread;
mod writer;

use std::sync::{
    Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak,
};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{Notify, broadcast, mpsc, oneshot, watch};

use crate::error::{Error, Result};
use crate::events::{Event, EventStream};
use crate::index::Index;
use crate::limits::Limits;
use crate::store::{MemoryStore, SqliteStoreOptions, Store};
use crate::sync::{self, Control, Outbox, SyncOptions, SyncStatus, SyncStatusStream};
use crate::transport::Transport;

pub use delete::MessageHistory;
pub use messages::IngestOutcome;
pub use settings::Profile;
pub(crate) use tx::Tx;
pub use unread::{CleanTarget, ReadUpTo, UnreadStream};

/// State shared by every handle and the writer task.
pub(crate) struct Shared {
    index: RwLock<Index>,
    /// Sync operations waiting for the server, and the last pull's bookmark: the sync layer's
    /// state, beside the index (changed by the writer after each commit, read by the sync
    /// task).
    outbox: Mutex<Outbox>,
    events: broadcast::Sender<Event>,
    limits: Limits,
    self_user: Option<String>,
    /// Prefix of client operation IDs when a transport is configured (operations are
    /// recorded only then).
    pub(crate) sync_session: Option<u64>,
    /// Wakes the sync task when operations were recorded.
    pub(crate) sync_wake: Option<Arc<Notify>>,
    /// Where sync stands; set by the sync task.
    pub(crate) sync_status: watch::Sender<SyncStatus>,
    /// Set by the writer when it has stopped: every stream ends after what was published
    /// before.
    pub(crate) closed: watch::Sender<bool>,
    /// Live lists and conversation watches, updated by the writer with the index.
    pub(crate) live: crate::live::Registry,
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

    /// The outbox. As with the index, changes are applied whole after commit, so a poisoned
    /// lock still holds a consistent state.
    pub(crate) fn lock_outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Inner {
    shared: Arc<Shared>,
    jobs: mpsc::Sender<writer::Job>,
    sync: Option<mpsc::UnboundedSender<Control>>,
}

/// A handle that does not keep the manager open (held by the sync task).
pub(crate) struct WeakManager(Weak<Inner>);

impl WeakManager {
    pub(crate) fn upgrade(&self) -> Option<ConversationManager> {
        self.0.upgrade().map(|inner| ConversationManager { inner })
    }
}

/// The conversation list of one account: every conversation operation, its events and its
/// unread counters.
///
/// # Opening
///
/// [`ConversationManager::open`]`(path, self_user_id)` opens (or creates) the account's SQLite
/// file; [`builder`](Self::builder) chooses everything else: the store
/// ([`sqlite_file`](ManagerBuilder::sqlite_file), [`sqlite`](ManagerBuilder::sqlite) with
/// options, [`in_memory`](ManagerBuilder::in_memory), or your own
/// [`store`](ManagerBuilder::store)), limits, a sync transport. A store file is held by one
/// manager at a time; [`shutdown`](Self::shutdown) releases it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), timconv::Error> {
/// use timconv::{ConversationId, ConversationManager, Message};
///
/// # let dir = std::env::temp_dir().join(format!("timconv-manager-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).map_err(timconv::Error::store)?;
/// # let path = dir.join("conversations.db");
/// let manager = ConversationManager::open(&path, "me").await?;
/// let alice = ConversationId::c2c("alice")?;
/// let hello = Message::builder().msg_id("m1").server_time(1_700_000_000).text("hello").build();
/// manager.ingest_message(&alice, hello).await?;
/// assert_eq!(manager.total_unread(), 1);
/// manager.pin(&alice).await?;
/// assert!(manager.get(&alice).is_some_and(|c| c.is_pinned));
/// manager.shutdown().await?;
/// # std::fs::remove_dir_all(&dir).map_err(timconv::Error::store)?;
/// # Ok(())
/// # }
/// ```
///
/// # The model
///
/// Cheap to clone (clones share one state), `Send + Sync`, usable from many tasks at once.
/// Reads never wait for storage and hand out shared records (`Arc<Conversation>`), never
/// copies. Writes are applied one at a time, each atomically: a call that returns `Ok` is
/// durable in the store and already visible to reads and events, a call that returns `Err`
/// changed nothing and emitted nothing. A write is sent to the writer when its future is first
/// polled; dropping the future after that does not cancel it (it is committed and published
/// all the same, and only its answer is lost).
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
    store: StoreChoice,
    limits: Limits,
    self_user: Option<String>,
    event_capacity: usize,
    queue_capacity: usize,
    transport: Option<Arc<dyn Transport>>,
    sync_options: SyncOptions,
}

/// Which store a builder opens.
#[derive(Debug)]
enum StoreChoice {
    /// None chosen yet: opening is an error.
    Unset,
    Store(Arc<dyn Store>),
    Sqlite(SqliteStoreOptions),
    Memory,
}

impl Default for ManagerBuilder {
    fn default() -> Self {
        Self {
            store: StoreChoice::Unset,
            limits: Limits::default(),
            self_user: None,
            event_capacity: 1024,
            queue_capacity: 1024,
            transport: None,
            sync_options: SyncOptions::default(),
        }
    }
}

impl ManagerBuilder {
    /// Keeps the conversations in the SQLite file at `path` (created if missing), with default
    /// [`SqliteStoreOptions`]: the usual choice.
    pub fn sqlite_file(self, path: impl AsRef<std::path::Path>) -> Self {
        self.sqlite(SqliteStoreOptions::new().filename(path))
    }

    /// Keeps everything in memory ([`MemoryStore`]): nothing survives the manager. For tests
    /// and ephemeral sessions.
    pub fn in_memory(mut self) -> Self {
        self.store = StoreChoice::Memory;
        self
    }

    /// The storage backend, already open: a [`SqliteStore`](crate::SqliteStore), a
    /// [`MemoryStore`] shared with other managers, or your own [`Store`].
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = StoreChoice::Store(Arc::new(store));
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
        self.store = StoreChoice::Sqlite(options);
        self
    }

    /// The limits to enforce (default: [`Limits::default`], the original service's numbers).
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

    /// Syncs with a server through `transport` (default: none, local only).
    ///
    /// From then on, changes to roaming state are recorded in an outbox in the same
    /// transaction as the change, and a sync task pushes them, pulls the server's changes
    /// (on open, on reconnect, when the server says something changed, and on
    /// [`ConversationManager::sync`]) and ingests the messages the server pushes. See the
    /// [`sync`](crate::sync) module and docs/SYNC.md.
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// How the sync task pages, batches and backs off (default [`SyncOptions::default`]).
    pub fn sync_options(mut self, options: SyncOptions) -> Self {
        self.sync_options = options;
        self
    }

    /// Opens the store if needed, loads it, builds the index and starts the writer task
    /// (and the sync task, with a transport).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (6017) when no store was chosen; [`Error::NoRuntime`]
    /// (6013) outside a Tokio runtime; the store's error if opening or loading fails (6019,
    /// 6022 for a file that cannot be opened, [`Error::StoreInUse`] for one another manager
    /// holds).
    pub async fn open(self) -> Result<ConversationManager> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let store: Arc<dyn Store> = match self.store {
            StoreChoice::Unset => {
                return Err(Error::InvalidParameter(
                    "no store chosen: call sqlite_file, sqlite, in_memory or store".into(),
                ));
            }
            StoreChoice::Store(store) => store,
            StoreChoice::Sqlite(options) => Arc::new(options.open().await?),
            StoreChoice::Memory => Arc::new(MemoryStore::new()),
        };
        let mut snapshot = store.load().await?;
        let count = snapshot.conversations.len();
        let outbox = Outbox::from_store(
            std::mem::take(&mut snapshot.sync_records),
            snapshot.sync_state.take(),
        )?;
        // Start versions at the clock so cursors from before a restart stay ordered.
        let version = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        let index = Index::from_snapshot(snapshot, version);
        let (events, _) = broadcast::channel(self.event_capacity);
        let wake = self.transport.as_ref().map(|_| Arc::new(Notify::new()));
        let shared = Arc::new(Shared {
            index: RwLock::new(index),
            outbox: Mutex::new(outbox),
            events,
            limits: self.limits,
            self_user: self.self_user,
            sync_session: self.transport.as_ref().map(|_| sync::new_session()),
            sync_wake: wake.clone(),
            sync_status: watch::Sender::new(if wake.is_some() {
                SyncStatus::Syncing
            } else {
                SyncStatus::Disabled
            }),
            closed: watch::Sender::new(false),
            live: crate::live::Registry::default(),
        });
        let (jobs, rx) = mpsc::channel(self.queue_capacity);
        runtime.spawn(writer::run(Arc::clone(&shared), store, rx));
        let (control, control_rx) = match &self.transport {
            Some(_) => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let inner = Arc::new(Inner {
            shared,
            jobs,
            sync: control,
        });
        if let (Some(transport), Some(wake), Some(control_rx)) = (self.transport, wake, control_rx)
        {
            runtime.spawn(sync::run(
                WeakManager(Arc::downgrade(&inner)),
                transport,
                self.sync_options,
                wake,
                control_rx,
            ));
        }
        tracing::debug!(conversations = count, "conversation manager opened");
        Ok(ConversationManager { inner })
    }
}

impl ConversationManager {
    /// Opens the conversations of user `self_user_id` kept in the SQLite file at `path`
    /// (created if missing), with default limits: the usual way to start. The user's ID is
    /// what recognises @me mentions in group messages.
    ///
    /// Use [`builder`](Self::builder) for store options, limits or a sync transport.
    ///
    /// # Errors
    /// As [`SqliteStoreOptions::open`](crate::SqliteStoreOptions::open) and
    /// [`ManagerBuilder::open`].
    pub async fn open(
        path: impl AsRef<std::path::Path>,
        self_user_id: impl Into<String>,
    ) -> Result<Self> {
        Self::builder()
            .sqlite_file(path)
            .self_user_id(self_user_id)
            .open()
            .await
    }

    /// A builder: choose a store ([`sqlite_file`](ManagerBuilder::sqlite_file),
    /// [`sqlite`](ManagerBuilder::sqlite), [`in_memory`](ManagerBuilder::in_memory) or
    /// [`store`](ManagerBuilder::store)), then [`open`](ManagerBuilder::open).
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

    /// Subscribes to every event from now on; dropping the stream unsubscribes. The stream
    /// ends once the manager has shut down (after the events of its last writes).
    pub fn events(&self) -> EventStream {
        EventStream::new(
            self.inner.shared.events.subscribe(),
            self.inner.shared.closed.subscribe(),
        )
    }

    /// Stops the writer after the writes already queued, and closes the store. Calls made
    /// afterwards on any clone fail with [`Error::Closed`] (6013); reads keep answering from
    /// the last state. Every stream the manager handed out ends (event streams after the
    /// events already published, watches after their last value).
    ///
    /// # Errors
    /// [`Error::Closed`] if already shut down; the store's error if closing fails.
    pub async fn shutdown(&self) -> Result<()> {
        if let Some(sync) = &self.inner.sync {
            let _ = sync.send(Control::Stop);
        }
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

    /// Runs a sync cycle now, pushing every waiting operation and then pulling what changed
    /// on the server, and waits for it.
    ///
    /// The sync task does this on its own (on open, on reconnect, when the server says
    /// something changed); call it for "pull to refresh", or to know that this device is up
    /// to date with the server.
    ///
    /// # Errors
    /// [`Error::SyncUnavailable`] (7013) without a transport; [`Error::Sync`] with the
    /// transport's code if the cycle failed (it is retried with backoff on its own);
    /// [`Error::Closed`] after shutdown.
    pub async fn sync(&self) -> Result<()> {
        let control = self.inner.sync.as_ref().ok_or(Error::SyncUnavailable)?;
        let (reply, rx) = oneshot::channel();
        control
            .send(Control::Sync(reply))
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// How many operations made on this device wait for the server's answer (0 without a
    /// transport).
    #[must_use]
    pub fn pending_operations(&self) -> usize {
        self.shared().lock_outbox().len()
    }

    /// Where server sync stands now ([`SyncStatus::Disabled`] without a transport).
    #[must_use]
    pub fn sync_status(&self) -> SyncStatus {
        self.shared().sync_status.borrow().clone()
    }

    /// Watches where server sync stands: the current [`SyncStatus`] first, then each change.
    /// Unlike the sync events, a watch taken after open still starts from the current state.
    pub fn watch_sync_status(&self) -> SyncStatusStream {
        SyncStatusStream::new(
            self.shared().sync_status.subscribe(),
            self.shared().closed.subscribe(),
        )
    }

    /// Sets the sync status (the sync task does).
    pub(crate) fn set_sync_status(&self, status: SyncStatus) {
        self.shared().sync_status.send_if_modified(|current| {
            let changed = *current != status;
            *current = status;
            changed
        });
    }

    /// Whether the writer has stopped (shut down).
    pub(crate) fn is_closed(&self) -> bool {
        self.inner.jobs.is_closed()
    }

    /// Publishes an event that is not the result of a commit (sync progress).
    pub(crate) fn publish(&self, event: Event) {
        // No receiver is fine: nobody is listening.
        let _ = self.shared().events.send(event);
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
