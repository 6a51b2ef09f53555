//! [`ConversationManager`]: the public entry point.
//!
//! Reads are answered from the in-memory index at once. Writes go through one writer task
//! (see `writer.rs`): validate, compute the change, commit it to the store, apply it to the
//! index, publish events — in that order, one change at a time. Each domain has its own file:
//! `open.rs` (the builder), `messages.rs`, `settings.rs`, `pin.rs`, `marks.rs`, `custom_data.rs`, `drafts.rs`,
//! `folders.rs`, `unread.rs`, `delete.rs`, `list.rs`, `live.rs`.

use std::sync::{
    Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak,
};
use tokio::sync::{Notify, broadcast, mpsc, oneshot, watch};

use crate::error::{Error, Result};
use crate::events::{Event, EventStream};
use crate::index::Index;
use crate::limits::Limits;
use crate::sync::{Control, Outbox, SyncStatus, SyncStatusStream};
use queue::Lane;

pub use delete::MessageHistory;
pub use messages::IngestOutcome;
pub use open::ManagerBuilder;
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
    jobs: queue::QueueSender,
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
/// changed nothing and emitted nothing. A write is submitted to the writer when its future is
/// first polled; dropping the future after that does not cancel it (see
/// [`cancellation`](crate::cancellation)).
///
/// A user's action (every write but [`ingest_message`](Self::ingest_message),
/// [`ingest_messages`](Self::ingest_messages) and the sync task's) goes ahead of the message
/// ingests still queued, so a pin made during a burst of incoming messages is committed right
/// after the commits under way rather than after the burst. Writes of one kind keep their
/// order, and a write whose answer is awaited before the next is made is always applied
/// first; only an action and an ingest in flight at the same time may be applied in either
/// order.
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

impl ConversationManager {
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
    /// Cancellation: once submitted, the manager shuts down even if this future is dropped (see
    /// [`cancellation`](crate::cancellation)).
    ///
    /// # Errors
    /// [`Error::Closed`] if already shut down; the store's error if closing fails.
    pub async fn shutdown(&self) -> Result<()> {
        if let Some(sync) = &self.inner.sync {
            let _ = sync.send(Control::Stop);
        }
        let (tx, rx) = oneshot::channel();
        self.inner.jobs.shutdown(tx).await?;
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
    /// Cancellation: the cycle runs to its end even if this future is dropped (see
    /// [`cancellation`](crate::cancellation)).
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

    /// Runs `op` in the writer, in the action lane (a user's action: ahead of the message
    /// ingests queued), and waits for its committed result.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.write_in(Lane::Action, 1, op).await
    }

    /// [`Self::write`] in the bulk lane (message ingest and sync), counting as `weight` writes
    /// toward the bound of a commit group (a batch of messages counts as its messages).
    pub(crate) async fn write_bulk<T: Send + 'static>(
        &self,
        weight: usize,
        op: impl FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.write_in(Lane::Bulk, weight, op).await
    }

    async fn write_in<T: Send + 'static>(
        &self,
        lane: Lane,
        weight: usize,
        op: impl FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .jobs
            .write(lane, writer::write_fn(op, reply), weight)
            .await?;
        rx.await.map_err(|_| Error::Closed)?
    }
}

// The domains, each adding its methods to `ConversationManager`. Declared after the block
// above, and in this order (one per paragraph, so that rustfmt keeps it), because rustdoc
// lists the methods in source order: opening first, then messages and reads, then the rest.
mod open;

pub(crate) mod messages;

mod list;

mod live;

pub(crate) mod unread;

mod pin;

mod marks;

mod drafts;

mod custom_data;

mod settings;

pub(crate) mod folders;

mod delete;

// The machinery of writes.
mod inflight;
mod queue;
mod tx;
mod writer;
