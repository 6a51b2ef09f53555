//! Opening a manager: [`ConversationManager::open`] for the usual case, and
//! [`ManagerBuilder`] for the store, the limits, the user and a sync transport.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{Notify, broadcast, mpsc, watch};

use super::{ConversationManager, Inner, Shared, WeakManager, queue, writer};
use crate::error::{Error, Result};
use crate::index::Index;
use crate::limits::Limits;
use crate::store::{MemoryStore, SqliteStoreOptions, Store};
use crate::sync::{self, Outbox, SyncOptions, SyncStatus};
use crate::transport::Transport;

impl ConversationManager {
    /// Opens the conversations of user `self_user_id` kept in the SQLite file at `path`
    /// (created if missing), with default limits: the usual way to start. The user's ID is
    /// what recognises @me mentions in group messages.
    ///
    /// Use [`builder`](Self::builder) for store options, limits or a sync transport.
    ///
    /// Cancellation: dropped before it completes, nothing stays open (see
    /// [`cancellation`](crate::cancellation)).
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

    /// How many events a slow [`EventStream`](crate::EventStream) may fall behind before it
    /// is told it lagged (default 1024).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// How many writes may wait for the writer before callers wait to enqueue (default 1024),
    /// in each of its two lanes: user actions, and message ingest with sync.
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
    /// Cancellation: dropped before it completes, nothing stays open (see
    /// [`cancellation`](crate::cancellation)).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (6017) when no store was chosen; [`Error::NoRuntime`]
    /// (6013) outside a Tokio runtime; the store's error if opening or loading fails (6019,
    /// 6022 for a file that cannot be opened, [`Error::StoreInUse`] for one another manager
    /// holds).
    pub async fn open(self) -> Result<ConversationManager> {
        let opened = self.start().await;
        if let Err(err) = &opened {
            if err.is_caller_mistake() {
                tracing::debug!(error = %err.report(), "cannot open the conversation manager");
            } else {
                tracing::warn!(error = %err.report(), "cannot open the conversation manager");
            }
        }
        opened
    }

    /// What `open` does; `open` logs its failure.
    async fn start(self) -> Result<ConversationManager> {
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
        let (jobs, rx) = queue::queue(self.queue_capacity);
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
