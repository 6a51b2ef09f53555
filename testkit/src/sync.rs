//! What roams, compared as one value on a device and on a server; opening devices; letting
//! devices settle; recording what a device pushes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use timconv::transport::loopback::ServerState;
use timconv::transport::{
    Bookmark, OpId, PendingOperation, PullResponse, PushResponse, RemoteChange, ServerEvent,
    Transport, TransportError,
};
use timconv::{ConversationManager, Limits, Message, SqliteStoreOptions, SyncOptions};

/// Quick retries, small pages and batches: many sync round trips in a short test.
pub fn fast_sync() -> SyncOptions {
    SyncOptions::default()
        .backoff(Duration::from_millis(2), Duration::from_millis(40))
        .pull_page_size(7)
        .push_batch_size(5)
}

/// Opens a device of `user`: a manager on the SQLite file at `path`, syncing through
/// `transport` with [`fast_sync`].
pub async fn open_device(
    path: &Path,
    user: &str,
    transport: impl Transport,
    limits: Limits,
) -> ConversationManager {
    ConversationManager::builder()
        .sqlite(SqliteStoreOptions::new().filename(path))
        .self_user_id(user)
        .limits(limits)
        .transport(transport)
        .sync_options(fast_sync())
        .open()
        .await
        .expect("open a device")
}

/// Syncs every device until one round (each device in turn, then the first again) succeeds
/// with nothing left to push: then each has pulled everything the others pushed.
pub async fn settle(devices: &[&ConversationManager]) -> Result<(), String> {
    let mut last = Vec::new();
    for _ in 0..200 {
        last.clear();
        for d in devices.iter().chain(devices.first()) {
            let result = d.sync().await;
            last.push(format!("{result:?}, {} pending", d.pending_operations()));
        }
        if last.iter().all(|l| l == "Ok(()), 0 pending") {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Err(format!("devices did not settle: {last:?}"))
}

/// Everything about one conversation that roams, as one comparable value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Roamed {
    pinned: bool,
    marks: u64,
    custom_data: Vec<u8>,
    folders: Vec<String>,
    read_position: u64,
    unread: u64,
    last_message: Option<String>,
}

/// What roams: per conversation (by full ID), and the group names.
pub type RoamingView = (BTreeMap<String, Roamed>, Vec<String>);

/// What roams on a device: per conversation, and the group names.
pub fn device_view(m: &ConversationManager) -> RoamingView {
    let conversations = m
        .conversations()
        .into_iter()
        .map(|c| {
            (
                c.id.to_string(),
                Roamed {
                    pinned: c.is_pinned,
                    marks: c.marks.bits(),
                    custom_data: c.custom_data.as_bytes().to_vec(),
                    folders: c.folders.clone(),
                    read_position: c.read_position(),
                    unread: c.unread_count,
                    last_message: c.last_message.as_ref().and_then(|m| m.msg_id.clone()),
                },
            )
        })
        .collect();
    (conversations, m.folders())
}

/// What roams on a server, in the same form (unread counted as a device counts it: messages
/// from others after the read position, not excluded).
pub fn state_view(state: &ServerState) -> RoamingView {
    let conversations = state
        .conversations
        .values()
        .map(|r| {
            let position = |m: &Message| match r.id.kind() {
                timconv::ConversationType::Group => m.seq.unwrap_or(0),
                _ => m.server_time.or(m.client_time).unwrap_or(0),
            };
            let unread = r
                .messages
                .iter()
                .filter(|m| {
                    !m.from_self()
                        && !m.excluded_from_unread.unwrap_or(false)
                        && position(m) > r.read_position
                })
                .count() as u64;
            (
                r.id.to_string(),
                Roamed {
                    pinned: r.pinned,
                    marks: r.marks,
                    custom_data: r.custom_data.as_bytes().to_vec(),
                    folders: r.folders.clone(),
                    read_position: r.read_position,
                    unread,
                    last_message: r.messages.last().and_then(|m| m.msg_id.clone()),
                },
            )
        })
        .collect();
    (conversations, state.folders.clone())
}

/// A server's state as a full pull through `transport` shows it: every live conversation and
/// the group list (no tombstones: a full pull has none). Pages of `page` until the end.
pub async fn pulled_state(transport: &impl Transport, page: usize) -> Result<ServerState, String> {
    let mut state = ServerState::default();
    let mut since = None;
    // Bounded: a pull that never ends is a failure, not a hang.
    for _ in 0..100_000 {
        let answer = transport
            .pull(since.clone(), page)
            .await
            .map_err(|e| format!("a full pull failed: {e}"))?;
        let PullResponse::Page(page) = answer else {
            return Err("a full pull got too_far_behind".into());
        };
        for change in page.changes {
            match change {
                RemoteChange::Conversation(c) => {
                    state.conversations.insert(c.id.clone(), c);
                }
                RemoteChange::Deleted { id, .. } => {
                    state.conversations.remove(&id);
                }
                RemoteChange::Folders { names, .. } => state.folders = names,
            }
        }
        if !page.has_more {
            return Ok(state);
        }
        since = Some(page.bookmark);
    }
    Err("a full pull did not end".into())
}

/// A transport that records the ID of every operation pushed through it (whether or not the
/// push reached the server) and forwards everything to `inner`.
#[derive(Debug, Clone)]
pub struct Recording<T> {
    /// The transport it forwards to.
    pub inner: T,
    pushed: Arc<Mutex<BTreeSet<OpId>>>,
}

impl<T> Recording<T> {
    /// Records what is pushed through `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pushed: Arc::default(),
        }
    }

    /// Every operation ID pushed so far.
    pub fn pushed(&self) -> BTreeSet<OpId> {
        self.pushed.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

impl<T: Transport> Transport for Recording<T> {
    fn push(
        &self,
        ops: Vec<PendingOperation>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        if let Ok(mut ids) = self.pushed.lock() {
            ids.extend(ops.iter().map(|p| p.id.clone()));
        }
        self.inner.push(ops)
    }

    fn pull(
        &self,
        since: Option<Bookmark>,
        limit: usize,
    ) -> BoxFuture<'_, Result<PullResponse, TransportError>> {
        self.inner.pull(since, limit)
    }

    fn connect(&self) -> BoxFuture<'_, Result<BoxStream<'static, ServerEvent>, TransportError>> {
        self.inner.connect()
    }
}
