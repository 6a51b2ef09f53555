//! Transports: how the sync engine talks to a server (DESIGN "Transport contract").
//!
//! A [`Transport`] is one device's session with the server for one user. It knows nothing of
//! the local store; the sync engine (`crate::sync`) drives it:
//!
//! - [`push`](Transport::push) sends operations the user made on this device, each with a
//!   client operation ID. The server applies each at most once (a retried push of the same ID
//!   is acknowledged again, not applied twice) and answers with every operation's outcome and
//!   the current server state of everything they touched.
//! - [`pull`](Transport::pull) fetches what changed since a [`Bookmark`], one page at a time,
//!   or everything when there is no bookmark. A server that no longer remembers that far back
//!   answers [`PullResponse::TooFarBehind`] and the engine starts a full resync.
//! - [`connect`](Transport::connect) opens the stream of server pushes: new messages, and
//!   hints that something changed (on another device, or server-side) and a pull is due. The
//!   stream ending means the connection dropped; the engine reconnects with backoff and pulls.
//!
//! Errors say whether a retry can help ([`TransportError::retryable`]).
//!
//! The wire types in this module are plain serde data: a network transport (WebSocket, HTTP)
//! can send them as JSON unchanged. docs/SYNC.md describes the contract a server keeps.
//! [`loopback`] is the reference server, in memory, used by tests and examples.

pub mod account;
pub mod loopback;
pub mod network;
mod wire;

use futures::future::BoxFuture;
use futures::stream::BoxStream;

use crate::error::ErrorCode;

pub use wire::{
    Bookmark, FolderRename, OpId, OpOutcome, OpResult, Operation, PendingOperation, PullPage,
    PullResponse, PushResponse, RemoteChange, RemoteConversation, ServerEvent,
};

/// A failed transport call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct TransportError {
    /// The SPEC §10 code: 9508 disconnected, 9520 timed out, or a server code.
    pub code: ErrorCode,
    /// What went wrong.
    pub message: String,
    /// Whether the same call may succeed if retried later.
    pub retryable: bool,
}

impl TransportError {
    /// The network is down or the connection dropped (9508, retryable).
    #[must_use]
    pub fn disconnected(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::NetworkDisconnected,
            message: message.into(),
            retryable: true,
        }
    }

    /// The server did not answer in time (9520, retryable): the call may or may not have been
    /// applied.
    #[must_use]
    pub fn timeout(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::NetworkAckTimeout,
            message: message.into(),
            retryable: true,
        }
    }

    /// The server refused the call; retrying the same call will not help.
    #[must_use]
    pub fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retryable: false,
        }
    }
}

/// One device's connection to the server, for one user.
///
/// Implementations must not block: each method returns a future. Calls are issued by one sync
/// engine, never concurrently with each other except [`connect`](Self::connect)'s stream,
/// which runs alongside.
pub trait Transport: Send + Sync + std::fmt::Debug + 'static {
    /// Sends `ops`, in order. Each is applied at most once by its [`OpId`]; the answer holds
    /// one [`OpResult`] per operation and the current state of what they touched.
    fn push(
        &self,
        ops: Vec<PendingOperation>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>>;

    /// Fetches up to `limit` changes after `since` (everything when `None`), oldest first.
    fn pull(
        &self,
        since: Option<Bookmark>,
        limit: usize,
    ) -> BoxFuture<'_, Result<PullResponse, TransportError>>;

    /// Opens the stream of server pushes. It ends when the connection drops.
    fn connect(&self) -> BoxFuture<'_, Result<BoxStream<'static, ServerEvent>, TransportError>>;
}
