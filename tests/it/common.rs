//! Helpers shared by the integration tests.
#![allow(dead_code)]

use timconv::{ConversationId, ConversationManager, Limits, Message};

/// A manager over a fresh in-memory store, logged in as `me`.
pub async fn manager() -> ConversationManager {
    manager_with(Limits::default()).await
}

/// A manager with the given limits, logged in as `me`.
pub async fn manager_with(limits: Limits) -> ConversationManager {
    ConversationManager::builder()
        .self_user_id("me")
        .limits(limits)
        .open()
        .await
        .expect("an in-memory manager opens")
}

/// A conversation ID from its full form.
pub fn id(full: &str) -> ConversationId {
    full.parse().expect("valid conversation id")
}

/// An incoming message at `position`: the server time of a C2C message, the sequence (and
/// server time) of a group message.
pub fn incoming(msg_id: &str, position: u64) -> Message {
    let mut m = Message::text(msg_id, format!("message {msg_id}"));
    m.server_time = Some(position);
    m.seq = Some(position);
    m.sender = Some("peer".into());
    m
}

/// A message sent by this user at `position`.
pub fn outgoing(msg_id: &str, position: u64) -> Message {
    let mut m = incoming(msg_id, position);
    m.is_from_self = Some(true);
    m.sender = Some("me".into());
    m
}
