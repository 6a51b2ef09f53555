//! Where a message stands in its conversation, and how two messages compare: the one
//! definition the conversation list, tombstones, sync reconciliation and the server rules use.
//!
//! - **Position**: the read-position coordinate of a message, server time for C2C (its client
//!   time when it has no server time yet) and sequence for groups. 0 means it has none: it
//!   cannot be placed against a read position.
//! - **Recency**: `(position, server time, sequence)`, what a delete's floor records.
//! - **Order**: recency, then client time and random number, so that two different messages of
//!   the same second and sequence still differ, and a redelivered copy is never newer than
//!   itself.
//! - **Sending**: this user's own message still being sent (`message_status` 1). It activates
//!   its conversation at once, before it has a server time or a sequence; until its
//!   acknowledged copy arrives, a message from someone else is newer only if it was sent later
//!   (by time).

use super::id::ConversationType;
use super::message::Message;

/// `message_status` of a message being sent.
pub const STATUS_SENDING: u32 = 1;
/// `message_status` of a message sent and acknowledged by the server.
pub const STATUS_SENT: u32 = 2;
/// `message_status` of a message that failed to send.
pub const STATUS_FAILED: u32 = 3;
/// `message_status` of a message deleted.
pub const STATUS_DELETED: u32 = 4;
/// `message_status` of a message imported locally.
pub const STATUS_IMPORTED: u32 = 5;
/// `message_status` of a message revoked (recalled).
pub const STATUS_REVOKED: u32 = 6;

/// Where a message stands in its conversation (0: nowhere).
pub(crate) fn position(message: &Message, kind: ConversationType) -> u64 {
    match kind {
        ConversationType::Group => message.seq.unwrap_or(0),
        _ => message
            .server_time
            .filter(|&t| t > 0)
            .or(message.client_time)
            .unwrap_or(0),
    }
}

/// `(position, server time, sequence)`.
pub(crate) fn recency(message: &Message, kind: ConversationType) -> [u64; 3] {
    [
        position(message, kind),
        message.server_time.unwrap_or(0),
        message.seq.unwrap_or(0),
    ]
}

/// Which of two messages is newer (larger is newer).
pub(crate) fn order_of(message: &Message, kind: ConversationType) -> ([u64; 3], u64, u64) {
    (
        recency(message, kind),
        message.client_time.unwrap_or(0),
        message.rand.unwrap_or(0),
    )
}

/// Whether this is the user's own message being sent.
pub(crate) fn is_sending(message: &Message) -> bool {
    message.from_self() && message.status == Some(STATUS_SENDING)
}

/// When a message was sent, as far as it says: its server time, else its client time.
fn sent_at(message: &Message) -> u64 {
    message
        .server_time
        .filter(|&t| t > 0)
        .or(message.client_time)
        .unwrap_or(0)
}

/// Whether `message` is newer than `last`, the conversation's last message.
pub(crate) fn is_newer(message: &Message, last: &Message, kind: ConversationType) -> bool {
    if is_sending(message) {
        return true;
    }
    if is_sending(last) && position(last, kind) == 0 {
        // The last one has no position yet: only time can tell.
        return sent_at(message) >= sent_at(last);
    }
    order_of(message, kind) > order_of(last, kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_message(seq: Option<u64>, time: u64) -> Message {
        let mut m = Message::text("m", "x");
        m.seq = seq;
        m.server_time = Some(time);
        m
    }

    #[test]
    fn positions_ignore_a_zero_server_time() {
        let mut m = Message::text("m", "x");
        m.server_time = Some(0);
        m.client_time = Some(7);
        assert_eq!(position(&m, ConversationType::C2c), 7);
        assert_eq!(position(&m, ConversationType::Group), 0);
    }

    #[test]
    fn a_message_being_sent_is_newest_until_a_later_one_arrives() {
        let mut sending = Message::text("mine", "hi");
        sending.is_from_self = Some(true);
        sending.status = Some(STATUS_SENDING);
        sending.client_time = Some(100);
        let older = group_message(Some(5), 90);
        let later = group_message(Some(6), 110);
        let g = ConversationType::Group;
        assert!(is_newer(&sending, &older, g));
        assert!(!is_newer(&older, &sending, g));
        assert!(is_newer(&later, &sending, g));
    }
}
