//! Sync over a network: the HTTP and WebSocket protocol of `timconv-server`, and (with the
//! `network` feature) `NetworkTransport`, a [`Transport`](super::Transport) that speaks it.
//!
//! The protocol carries the wire types of [`transport`](super) as JSON, unchanged:
//!
//! - `POST {base}/v1/push` with [`PushRequest`] answers a
//!   [`PushResponse`](super::PushResponse);
//! - `POST {base}/v1/pull` with [`PullRequest`] answers a
//!   [`PullResponse`](super::PullResponse);
//! - `GET {base}/v1/events` upgrades to a WebSocket on which the server sends each
//!   [`ServerEvent`](super::ServerEvent) as a JSON text frame, and pings.
//!
//! Every request carries `Authorization: Bearer <token>` (a token the server's secret signed
//! for one user) and [`DEVICE_HEADER`] naming the device. A refusal is a 4xx status with an
//! [`ErrorBody`]; 401 means the token is missing, expired or invalid. A 5xx status means the
//! server could not do it now and the call may be retried. docs/SYNC.md has the details.

use serde::{Deserialize, Serialize};

use super::{Bookmark, PendingOperation};

#[cfg(feature = "network")]
mod client;
#[cfg(feature = "network")]
mod decode;
#[cfg(feature = "network")]
pub use client::{NetworkOptions, NetworkTransport};

/// The path of a push.
pub const PUSH_PATH: &str = "/v1/push";
/// The path of a pull.
pub const PULL_PATH: &str = "/v1/pull";
/// The path of the event stream (a WebSocket).
pub const EVENTS_PATH: &str = "/v1/events";
/// The header that names the device making a request (1 to 128 bytes of text).
pub const DEVICE_HEADER: &str = "timconv-device";

/// The body of a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// The operations, in order.
    pub ops: Vec<PendingOperation>,
}

/// The body of a pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullRequest {
    /// Where to continue (`None`: everything).
    pub since: Option<Bookmark>,
    /// Most changes wanted (the server may send fewer per page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// The body of every refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The numeric code (an [`ErrorCode`](crate::ErrorCode) value, or 70001 / 70003 for an
    /// expired / invalid token).
    pub code: i32,
    /// What went wrong.
    pub message: String,
}
