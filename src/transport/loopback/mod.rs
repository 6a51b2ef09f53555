//! The loopback reference server: an authoritative, in-memory, per-user sync server that
//! implements the [`Transport`](super::Transport) contract, for tests and examples.
//!
//! A [`LoopbackServer`] holds every user's state. [`LoopbackServer::transport`] opens one
//! device's session ([`LoopbackTransport`]); a user may have several devices, and the server
//! several users. Tests act as the rest of the world through the server: they
//! [`deliver`](LoopbackServer::deliver) messages, inspect [`state`](LoopbackServer::state) and
//! the [`applied`](LoopbackServer::applied) operations, and make the server
//! [`forget_history`](LoopbackServer::forget_history). Each session can be taken offline
//! ([`LoopbackTransport::set_online`]) and given seeded [`Faults`]
//! ([`LoopbackTransport::set_faults`]): dropped requests and responses, duplicated requests,
//! delays, disconnects, and dropped, duplicated or reordered events. The same seed and the same
//! sequence of calls give the same faults. [`FaultyTransport`] injects the same faults around
//! any other transport (a network one, say), so that a test can run them against a real server.
//!
//! ```
//! use futures::StreamExt;
//! use timconv::transport::loopback::LoopbackServer;
//! use timconv::transport::{OpId, Operation, PendingOperation, PullResponse, ServerEvent, Transport};
//! use timconv::{ConversationId, Message};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = LoopbackServer::new();
//! let phone = server.transport("alice", "phone");
//! let laptop = server.transport("alice", "laptop");
//! let mut laptop_events = laptop.connect().await?;
//!
//! let bob = ConversationId::c2c("bob")?;
//! server.deliver("alice", &bob, Message::text("m1", "hi"));
//! let pin = Operation::Pin { conversation: bob.clone(), pinned: true };
//! let response = phone.push(vec![PendingOperation { id: OpId("op-1".into()), op: pin }]).await?;
//! assert!(response.results[0].outcome.rejection_code().is_none());
//!
//! // The laptop hears of the message, then that something changed elsewhere.
//! assert!(matches!(laptop_events.next().await, Some(ServerEvent::Message { .. })));
//! assert_eq!(laptop_events.next().await, Some(ServerEvent::Changed));
//! let PullResponse::Page(page) = laptop.pull(None, 100).await? else { unreachable!() };
//! assert_eq!(page.changes.len(), 2); // the conversation and the (empty) group list
//! assert!(server.state("alice").conversations[&bob].pinned);
//! # Ok(())
//! # }
//! ```
//!
//! # Semantics
//!
//! Everything below is per user. Limits are the server's [`Limits`].
//!
//! **Versions.** The user has a version counter. Every change to what a pull shows of a
//! conversation gives that conversation the next version; every change to the list of group
//! names gives the group list the next version. Pulls page through items ordered by version.
//!
//! **Conversations.** Each has: whether it is alive; a floor (the recency
//! `[position, server time, sequence]` of the newest message deleted, set by its first
//! delete); pinned; marks; custom data; its groups (ordered; integer IDs inside, names
//! outside); a read position; its messages, ordered by recency; a display name and avatar
//! (empty). A conversation that is not alive and whose delete is still in the history is
//! *deleted* (a tombstone); one the server has never heard of is *unknown*.
//!
//! **Delivering a message** ([`LoopbackServer::deliver`]) ignores it if a message with the
//! same identity (message ID, else sequence, random and server time) is stored, or if the
//! conversation has a floor and the message's recency is at or below it (a stale message never
//! revives a conversation). Otherwise the message is stored; a conversation that was not alive
//! (or unknown) becomes alive with its roaming state as the delete left it (reset). Every
//! connected device of the user receives [`ServerEvent::Message`].
//!
//! **A live conversation as pulled** ([`RemoteConversation`]) carries its roaming state, its
//! read position, and the messages newer than its floor that are after the read position or
//! are the newest, oldest first.
//!
//! **Operations** ([`Transport::push`](super::Transport::push)) are applied in order, each at
//! most once per [`OpId`]: the server remembers every outcome, and a re-pushed ID gets the
//! remembered outcome without being applied again. An operation is all or nothing: a rejected
//! one changes nothing. Checks are made in the order listed; codes are those of [`ErrorCode`](crate::ErrorCode).
//!
//! - `Pin`: a deleted conversation is refused (6004); an unknown one is created (alive, empty).
//!   Pinning one more when [`max_pinned`](Limits::max_pinned) are pinned: 51012.
//! - `Mark`: 1..=[`max_batch`](Limits::max_batch) conversations (51006); reserved bits
//!   ([`MarkFlags::RESERVED`](crate::MarkFlags::RESERVED)): 6017; any conversation deleted:
//!   6004; unknown ones are created; setting bits on conversations that carried no marks,
//!   custom data or groups must not take the number of such (*decorated*) conversations past
//!   [`max_decorated`](Limits::max_decorated) (51008).
//! - `SetCustomData`: as `Mark`, with data longer than
//!   [`max_custom_data_bytes`](Limits::max_custom_data_bytes) refused (6017) instead of
//!   reserved bits.
//! - `Delete`: always applied. The floor becomes the larger of the stored and the given one;
//!   the roaming state is reset (unpinned, no marks, no custom data, in no group); the read
//!   position moves up to the floor's position; with `clear_messages`, stored messages at or
//!   below the floor are dropped. The conversation stays alive only if it holds a message
//!   newer than the floor; otherwise it is deleted. An unknown conversation gets a tombstone.
//!   A tombstone reports `clear_messages` if any delete since it was last alive cleared.
//! - `MarkRead`: moves a live conversation's read position up (never down); for a deleted or
//!   unknown one it is applied and does nothing.
//! - `CreateFolder`: name empty or longer than
//!   [`max_folder_name_bytes`](Limits::max_folder_name_bytes): 51011; name taken: 6017;
//!   [`max_folders`](Limits::max_folders) groups exist: 51010; more than `max_batch`
//!   conversations: 51006 (none is fine); deleted conversations are skipped, unknown ones
//!   are created as members (as `Pin` and `Mark` create them); decoration limit: 51008.
//! - `DeleteFolder`: unknown group: 51009; its members leave it.
//! - `RenameFolder`: bad new name: 51011; unknown group: 51009; renaming to itself is applied
//!   and does nothing; new name taken: 6017. Its members' group names change.
//! - `AddToFolder`, `RemoveFromFolder`: unknown group: 51009; 1..=`max_batch` conversations
//!   (51006); deleted conversations are skipped, unknown ones are created by an add; adding
//!   past the decoration limit: 51008.
//!
//! **A push's answer** holds one result per operation, in order, and, after applying them all,
//! the current state of every conversation an operation named (rejected and re-pushed ones
//! included), whose groups an applied `DeleteFolder`/`RenameFolder` changed, or that belong to
//! a group a `DeleteFolder`/`RenameFolder` named (applied or not: a device that applied it
//! locally needs their state to roll back): a live one as
//! [`RemoteChange::Conversation`](super::RemoteChange::Conversation), a deleted one as
//! [`RemoteChange::Deleted`](super::RemoteChange::Deleted); unknown ones are left out. If any
//! operation was a group operation, [`RemoteChange::Folders`](super::RemoteChange::Folders)
//! follows. A push that changed anything sends [`ServerEvent::Changed`] to the user's *other*
//! connected devices.
//!
//! **Pull** (`since`, `limit`; a limit of 0 counts as 1). Without a bookmark: every live
//! conversation and, always, one `Groups` item, ordered by version. With a bookmark: every
//! conversation whose version is newer (live ones as their state, deleted ones as
//! `Deleted`), and the group list if it is newer, with the renames made since the bookmark,
//! ordered by version (a step's group list before the conversations it changed). At most
//! `limit` items
//! per page; the bookmark is the version of the last item returned when more follow, else the
//! user's current version, written in decimal. (The later pages of a full pull continue from
//! a bookmark like any pull, so they also report conversations deleted since that bookmark.)
//! A bookmark that is not a decimal number is refused (50002); one older than the history
//! floor, or newer than anything the server gave out, gets [`PullResponse::TooFarBehind`].
//!
//! **Forgetting history** ([`LoopbackServer::forget_history`]) sets the history floor to the
//! current version and drops every tombstone from the history: a deleted conversation becomes
//! unknown to pulls and operations, but keeps its floor, so a stale message still cannot
//! revive it. Every live conversation and the group list then get new versions, after the
//! floor, so that a full pull's page bookmarks are never behind it; a client that was up to
//! date receives the whole live state once more.
//!
//! **Events.** [`Transport::connect`](super::Transport::connect) opens the device's event
//! stream, ending the one it had. The stream ends when the device goes offline or an injected
//! disconnect drops the connection.

mod device;
pub(crate) mod faults;
mod faulty;
mod server;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::limits::Limits;
use crate::model::{ConversationId, Message};
use crate::transport::{
    Bookmark, OpId, OpOutcome, PendingOperation, PullResponse, PushResponse, RemoteConversation,
    ServerEvent, TransportError,
};

use device::Device;
pub use device::LoopbackTransport;
pub use faults::Faults;
pub use faulty::FaultyTransport;
use server::UserAccount;

/// An in-memory, authoritative sync server for any number of users, each with any number of
/// devices. Cheap to clone: clones share the server.
///
/// See the [module docs](self) for what it does with each operation.
#[derive(Clone)]
pub struct LoopbackServer {
    inner: Arc<Inner>,
}

struct Inner {
    limits: Limits,
    users: Mutex<HashMap<String, User>>,
}

/// One user's account and devices.
struct User {
    account: UserAccount,
    devices: BTreeMap<String, Arc<Device>>,
}

/// What the server holds for one user, for tests: see [`LoopbackServer::state`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerState {
    /// Every live conversation, exactly as a full pull returns it.
    pub conversations: BTreeMap<ConversationId, RemoteConversation>,
    /// The floor of every deleted conversation (still in the history).
    pub deleted: BTreeMap<ConversationId, [u64; 3]>,
    /// The folder names, in creation order.
    pub folders: Vec<String>,
}

impl std::fmt::Debug for LoopbackServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackServer")
            .field("limits", &self.inner.limits)
            .field("users", &self.users().len())
            .finish()
    }
}

impl Default for LoopbackServer {
    fn default() -> Self {
        Self::new()
    }
}

impl LoopbackServer {
    /// A server with no users and the default [`Limits`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A server with no users, enforcing `limits`.
    #[must_use]
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            inner: Arc::new(Inner {
                limits,
                users: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The limits the server enforces.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    fn users(&self) -> MutexGuard<'_, HashMap<String, User>> {
        self.inner
            .users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on `user`'s account and devices, creating the user if needed.
    fn with_user<T>(&self, user: &str, f: impl FnOnce(&mut User) -> T) -> T {
        let mut users = self.users();
        let entry = users.entry(user.to_owned()).or_insert_with(|| User {
            account: UserAccount::new(self.inner.limits),
            devices: BTreeMap::new(),
        });
        f(entry)
    }

    /// The session of `device` for `user`: online, with no faults, not connected. Asking again
    /// for the same user and device gives a handle on the same session.
    #[must_use]
    pub fn transport(&self, user: &str, device: &str) -> LoopbackTransport {
        let session = self.with_user(user, |u| {
            Arc::clone(
                u.devices
                    .entry(device.to_owned())
                    .or_insert_with(|| Arc::new(Device::new(device))),
            )
        });
        LoopbackTransport::new(self.clone(), user, session)
    }

    /// The server receives `message` for `user` in `conversation`, as that user sees it (set
    /// its `is_from_self` for the user's own). A duplicate or a stale message (from before the
    /// conversation's last delete) is ignored; otherwise it is stored and pushed to every
    /// connected device of the user as [`ServerEvent::Message`].
    pub fn deliver(&self, user: &str, conversation: &ConversationId, message: Message) {
        self.with_user(user, |u| {
            if u.account.deliver(conversation, message.clone()) {
                for device in u.devices.values() {
                    device.send(ServerEvent::Message {
                        conversation: conversation.clone(),
                        message: message.clone(),
                    });
                }
            }
        });
    }

    /// What the server holds for `user` (empty for a user it does not know).
    #[must_use]
    pub fn state(&self, user: &str) -> ServerState {
        self.users()
            .get(user)
            .map(|u| u.account.state())
            .unwrap_or_default()
    }

    /// Every operation the server applied or rejected for `user`, each once, in order.
    #[must_use]
    pub fn applied(&self, user: &str) -> Vec<OpId> {
        self.users()
            .get(user)
            .map(|u| u.account.applied())
            .unwrap_or_default()
    }

    /// What the server answered to operation `id` of `user` (`None`: never received).
    #[must_use]
    pub fn outcome(&self, user: &str, id: &OpId) -> Option<OpOutcome> {
        self.users().get(user).and_then(|u| u.account.outcome(id))
    }

    /// Forgets `user`'s change history up to now: a later pull from an older bookmark gets
    /// [`PullResponse::TooFarBehind`], and tombstones are dropped (see the module docs).
    pub fn forget_history(&self, user: &str) {
        self.with_user(user, |u| u.account.forget_history());
    }

    /// A push from `from`: applies it and tells the user's other devices if anything changed.
    fn receive_push(&self, user: &str, from: &Device, ops: &[PendingOperation]) -> PushResponse {
        self.with_user(user, |u| {
            let (response, changed) = u.account.push(ops);
            if changed {
                for device in u.devices.values().filter(|d| d.name() != from.name()) {
                    device.send(ServerEvent::Changed);
                }
            }
            response
        })
    }

    fn receive_pull(
        &self,
        user: &str,
        since: Option<&Bookmark>,
        limit: usize,
    ) -> Result<PullResponse, TransportError> {
        self.with_user(user, |u| u.account.pull(since, limit))
    }
}
