//! Messages: how a conversation is created, activated and gains unread (SPEC §1, §4, §6).

use super::{ConversationManager, Tx};
use crate::error::{Error, Result};
use crate::model::message::AT_ALL_MARKER;
use crate::model::{
    Conversation, ConversationId, ConversationType, GroupAtInfo, GroupAtType, GroupType, Message,
};

/// What [`ConversationManager::ingest_message`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IngestOutcome {
    /// The conversation did not exist and was created with this message.
    Created,
    /// The conversation changed: new last message, more unread, or new @ info.
    Updated,
    /// The message was seen before (same message ID); nothing changed.
    Duplicate,
    /// The message changes nothing: it is older than the last message and does not count as
    /// unread (sent by this user, excluded from unread, or at or before the read position).
    Unchanged,
    /// The message is not newer than the conversation's last delete: it stays deleted, does
    /// not bring the conversation back and does not count (SPEC §8).
    Stale,
}

/// Display fields of a conversation, usually from the user's or group's profile. `None`
/// leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Profile {
    /// New display name (`conv_show_name`).
    pub show_name: Option<String>,
    /// New avatar URL (`conv_face_url`).
    pub face_url: Option<String>,
    /// The group's kind (`conv_group_type`); audio-video chat rooms never count unread.
    pub group_type: Option<GroupType>,
}

impl Profile {
    /// An empty update.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the display name.
    #[must_use]
    pub fn show_name(mut self, name: impl Into<String>) -> Self {
        self.show_name = Some(name.into());
        self
    }

    /// Sets the avatar URL.
    #[must_use]
    pub fn face_url(mut self, url: impl Into<String>) -> Self {
        self.face_url = Some(url.into());
        self
    }

    /// Sets the group kind.
    #[must_use]
    pub fn group_type(mut self, group_type: GroupType) -> Self {
        self.group_type = Some(group_type);
        self
    }
}

impl ConversationManager {
    /// Records a message sent or received in conversation `id`.
    ///
    /// Creates the conversation if needed (unless it was deleted after this message), makes
    /// the message the last one if it is the newest, activates the conversation when it does
    /// (it moves to the top of its section), and counts it as unread when it should: never
    /// for this user's own messages, once for a message delivered twice (same
    /// `message_msg_id`), never when flagged `message_excluded_from_unread_count`, and only
    /// after the read position. A group message mentioning this user (see
    /// [`ManagerBuilder::self_user_id`](super::ManagerBuilder::self_user_id)) or everyone adds
    /// @ info.
    ///
    /// The read position of a message is its `message_server_time` (C2C; falling back to
    /// `message_client_time`) or its `message_seq` (group). A message without one (0) cannot
    /// be placed against the read position and never counts as unread.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (6017) if the message's `message_conv_id` /
    /// `message_conv_type` name another conversation. Missing ones are filled in.
    #[tracing::instrument(skip_all, fields(conversation = %id), err)]
    pub async fn ingest_message(
        &self,
        id: &ConversationId,
        mut message: Message,
    ) -> Result<IngestOutcome> {
        place(id, &mut message)?;
        let id = id.clone();
        self.write(move |tx| Ok(ingest(tx, &id, message))).await
    }

    /// Gets a conversation, creating it (empty, activated) if it does not exist.
    ///
    /// This is the original SDK's deprecated `TIMConvCreate`: conversations are created by
    /// messages on their own, so new code rarely needs it.
    ///
    /// # Errors
    /// Only the store's (6019) or [`Error::Closed`].
    #[tracing::instrument(skip_all, fields(conversation = %id), err)]
    pub async fn create_conversation(&self, id: &ConversationId) -> Result<Conversation> {
        let id = id.clone();
        self.write(move |tx| {
            if let Some(existing) = tx.get(&id) {
                return Ok(Conversation::clone(existing));
            }
            let mut conversation = tx.new_conversation(&id);
            conversation.order_key = tx.next_order_key();
            tx.put(conversation.clone());
            Ok(conversation)
        })
        .await
    }

    /// Updates display fields of an existing conversation. No change, no event.
    ///
    /// # Errors
    /// [`Error::ConversationNotFound`] (6004).
    #[tracing::instrument(skip_all, fields(conversation = %id), err)]
    pub async fn set_profile(&self, id: &ConversationId, profile: Profile) -> Result<()> {
        let id = id.clone();
        self.write(move |tx| {
            tx.update(&id, |c, _| {
                if let Some(name) = profile.show_name {
                    c.show_name = name;
                }
                if let Some(url) = profile.face_url {
                    c.face_url = url;
                }
                if profile.group_type.is_some() {
                    c.group_type = profile.group_type;
                }
                Ok(())
            })
            .map(drop)
        })
        .await
    }
}

/// Checks that `message` belongs to conversation `id` and fills in its conversation keys.
pub(crate) fn place(id: &ConversationId, message: &mut Message) -> Result<()> {
    let kind = id.kind();
    if message.conv_id.as_deref().is_some_and(|c| c != id.peer())
        || message.conv_type.is_some_and(|t| t != kind.as_u32())
    {
        return Err(Error::InvalidParameter(format!(
            "the message belongs to another conversation than {id}"
        )));
    }
    message.conv_id = Some(id.peer().to_owned());
    message.conv_type = Some(kind.as_u32());
    Ok(())
}

/// Where a message stands in its conversation: server time (or client time) for C2C,
/// sequence for groups.
pub(crate) fn position(message: &Message, kind: ConversationType) -> u64 {
    match kind {
        ConversationType::Group => message.seq.unwrap_or(0),
        _ => message.server_time.or(message.client_time).unwrap_or(0),
    }
}

pub(crate) fn recency(message: &Message, kind: ConversationType) -> [u64; 3] {
    [
        position(message, kind),
        message.server_time.unwrap_or(0),
        message.seq.unwrap_or(0),
    ]
}

/// Which of two messages is newer: recency, then client time and random number, so that two
/// different messages of the same second and sequence still differ and a redelivered one
/// (identical) is never newer than itself.
pub(crate) fn order_of(message: &Message, kind: ConversationType) -> ([u64; 3], u64, u64) {
    (
        recency(message, kind),
        message.client_time.unwrap_or(0),
        message.rand.unwrap_or(0),
    )
}

/// The recency of a conversation's last message, as tombstones record it.
pub(crate) fn last_recency(conversation: &Conversation) -> [u64; 3] {
    conversation
        .last_message
        .as_ref()
        .map_or([0; 3], |m| recency(m, conversation.id.kind()))
}

/// The read-position coordinate of the conversation's last message (0 without one).
pub(crate) fn last_position(conversation: &Conversation) -> u64 {
    conversation
        .last_message
        .as_ref()
        .map_or(0, |m| position(m, conversation.id.kind()))
}

fn at_type(message: &Message, self_user: Option<&str>) -> Option<GroupAtType> {
    let users = message.group_at_users.as_ref()?;
    let all = users.iter().any(|u| u == AT_ALL_MARKER);
    let me = self_user.is_some_and(|me| users.iter().any(|u| u == me));
    match (all, me) {
        (true, true) => Some(GroupAtType::AtAllAtMe),
        (true, false) => Some(GroupAtType::AtAll),
        (false, true) => Some(GroupAtType::AtMe),
        (false, false) => None,
    }
}

/// A copy of `current` to ingest a message into, without its last message when the message
/// replaces it (the largest part of a record, and about to be dropped).
fn copy_for_ingest(c: &Conversation, newer: bool) -> Conversation {
    Conversation {
        id: c.id.clone(),
        show_name: c.show_name.clone(),
        face_url: c.face_url.clone(),
        unread_count: c.unread_count,
        order_key: c.order_key,
        last_message: if newer { None } else { c.last_message.clone() },
        draft: c.draft.clone(),
        receive_option: c.receive_option,
        group_type: c.group_type,
        group_at_info: c.group_at_info.clone(),
        is_pinned: c.is_pinned,
        marks: c.marks,
        custom_data: c.custom_data.clone(),
        groups: c.groups.clone(),
        c2c_read_timestamp: c.c2c_read_timestamp,
        group_read_sequence: c.group_read_sequence,
    }
}

pub(crate) fn ingest(tx: &mut Tx<'_>, id: &ConversationId, message: Message) -> IngestOutcome {
    let kind = id.kind();
    // Messages from before the last delete stay deleted, even once the conversation is back.
    if tx
        .tombstone(id)
        .is_some_and(|t| recency(&message, kind) <= t.last_message)
    {
        return IngestOutcome::Stale;
    }
    let existing = tx.get(id).cloned();
    let key = message.dedup_key();
    let last = existing.as_ref().and_then(|c| c.last_message.as_ref());
    if last.is_some_and(|m| m.has_dedup_key(&key)) || tx.is_unread(id, &key) {
        return IngestOutcome::Duplicate;
    }
    let pos = position(&message, kind);
    let read = existing.as_ref().map_or(0, |c| c.read_position());
    // A message without a position cannot be placed against the read position, so it cannot
    // be counted exactly: it never counts.
    let counts =
        !message.from_self() && !message.excluded_from_unread.unwrap_or(false) && pos > read;
    let newer = last.is_none_or(|last| order_of(&message, kind) > order_of(last, kind));
    if !counts && !newer {
        return IngestOutcome::Unchanged;
    }
    let (mut c, created) = match &existing {
        Some(existing) => (copy_for_ingest(existing, newer), false),
        None => (tx.new_conversation(id), true),
    };
    if counts {
        if kind == ConversationType::Group
            && let Some(at_type) = at_type(&message, tx.self_user)
        {
            c.group_at_info.push(GroupAtInfo { seq: pos, at_type });
        }
        tx.add_unread(id, key, pos);
    }
    if newer {
        c.last_message = Some(message);
        c.order_key = tx.next_order_key();
    }
    tx.put(c);
    if created {
        IngestOutcome::Created
    } else {
        IngestOutcome::Updated
    }
}
