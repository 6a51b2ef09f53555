//! Messages: how a conversation is created, activated and gains unread, and what a later copy
//! of a known message does (its status, a recall, an edit, its acknowledgement).

use super::{ConversationManager, Tx};
use crate::error::{Error, Result};
use crate::model::lifecycle::{is_newer, is_sending, position, recency};
use crate::model::message::AT_ALL_MARKER;
use crate::model::{
    Conversation, ConversationId, ConversationType, GroupAtInfo, GroupAtType, GroupType, Message,
};

/// What [`ConversationManager::ingest_message`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IngestOutcome {
    /// The conversation did not exist and was created with this message.
    Created,
    /// The conversation changed: a new last message, more unread, or new @ info.
    Updated,
    /// A later copy of the conversation's last message (the same identity: a new status, a
    /// recall, an edit, its acknowledgement) replaced the shown copy, in place: the
    /// conversation did not move and nothing was counted again.
    Replaced,
    /// The message was seen before: an identical copy of the last message, or an older
    /// message that still counts as unread. Nothing changed.
    Duplicate,
    /// The message changes nothing shown: it is older than the last message and does not
    /// count as unread (sent by this user, excluded from unread, at or before the read
    /// position, or in an audio-video chat room).
    Unchanged,
    /// The message is not newer than the conversation's last delete: it stays deleted, does
    /// not bring the conversation back and does not count.
    Stale,
}

crate::text::text_forms!(IngestOutcome, "ingest outcome" {
    Created => "created",
    Updated => "updated",
    Replaced => "replaced",
    Duplicate => "duplicate",
    Unchanged => "unchanged",
    Stale => "stale",
});

impl ConversationManager {
    /// Records a message sent or received in conversation `id`.
    ///
    /// - **New messages** create the conversation if needed (unless it was deleted after this
    ///   message), become its last message if they are the newest, activate it (it moves to
    ///   the top of its section), and count as unread when they should: never for this user's
    ///   own messages, never when flagged `message_excluded_from_unread_count`, never in an
    ///   audio-video chat room, and only after the read position. A group message mentioning
    ///   this user (see [`ManagerBuilder::self_user_id`](super::ManagerBuilder::self_user_id))
    ///   or everyone adds @ info.
    /// - **The same message again** (its identity is its `message_msg_id`, else its sequence,
    ///   random and server time): an identical copy is a [`Duplicate`](IngestOutcome::Duplicate);
    ///   a changed copy of the last message (a new `message_status`, a recall, an edit, the
    ///   server's acknowledgement with its time and sequence) replaces the shown copy in place
    ///   ([`Replaced`](IngestOutcome::Replaced)), with one `Updated` event, no move and nothing
    ///   counted again; a copy of an older message changes nothing.
    /// - **A message being sent** (`message_is_from_self`, `message_status` 1) activates its
    ///   conversation at once, before it has a server time or a sequence; its client time
    ///   stands in until the acknowledged copy replaces it.
    ///
    /// The read position of a message is its `message_server_time` (C2C; its
    /// `message_client_time` while it has no server time) or its `message_seq` (group).
    ///
    /// Cancellation: once submitted, the write is made even if this future is dropped (see
    /// [`cancellation`](crate::cancellation)).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (6017), changing nothing: the message's `message_conv_id` /
    /// `message_conv_type` name another conversation (missing ones are filled in), or it has no
    /// position (a group message without `message_seq`, a C2C message without any time) and
    /// is not this user's own message being sent.
    #[tracing::instrument(skip_all, fields(conversation = %id), err(level = "debug"))]
    pub async fn ingest_message(
        &self,
        id: &ConversationId,
        mut message: Message,
    ) -> Result<IngestOutcome> {
        place(id, &mut message)?;
        check_position(id, &message)?;
        let id = id.clone();
        self.write_bulk(1, move |tx| Ok(ingest(tx, &id, message)))
            .await
    }

    /// Records many messages at once, in order, in one commit (catching up after being
    /// offline, loading history): each as [`ingest_message`](Self::ingest_message) does it,
    /// with one result per message. A message that is refused is refused alone; the call's
    /// `Ok` means every accepted message is durable.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), timconv::Error> {
    /// use timconv::{ConversationId, ConversationManager, IngestOutcome, Message};
    ///
    /// let manager = ConversationManager::builder().in_memory().self_user_id("me").open().await?;
    /// let team = ConversationId::group("team")?;
    /// let batch = (1..=3).map(|seq| (team.clone(), Message::builder().msg_id(format!("m{seq}")).seq(seq).text("hi").build()));
    /// let results = manager.ingest_messages(batch).await?;
    /// assert_eq!(results[0].as_ref().ok(), Some(&IngestOutcome::Created));
    /// assert_eq!(manager.total_unread(), 3);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Cancellation: once submitted, the write is made even if this future is dropped (see
    /// [`cancellation`](crate::cancellation)).
    ///
    /// # Errors
    /// Only for the whole call: the store's (6019) or [`Error::Closed`]. Each message's own
    /// refusal (6017, as for `ingest_message`) is in its result.
    #[tracing::instrument(skip_all, fields(messages), err(level = "debug"))]
    pub async fn ingest_messages(
        &self,
        messages: impl IntoIterator<Item = (ConversationId, Message)>,
    ) -> Result<Vec<Result<IngestOutcome>>> {
        let checked: Vec<Result<(ConversationId, Message)>> = messages
            .into_iter()
            .map(|(id, mut message)| {
                place(&id, &mut message)?;
                check_position(&id, &message)?;
                Ok((id, message))
            })
            .collect();
        tracing::Span::current().record("messages", checked.len());
        // It counts as its messages toward a commit group's bound: writes queued behind a large
        // batch go to the next group, which the writer plans while this one commits.
        self.write_bulk(checked.len(), move |tx| {
            Ok(checked
                .into_iter()
                .map(|m| m.map(|(id, message)| ingest(tx, &id, message)))
                .collect())
        })
        .await
    }

    /// Gets a conversation, creating it (empty, activated) if it does not exist.
    ///
    /// This is the original SDK's deprecated `TIMConvCreate`: conversations are created by
    /// messages on their own, so new code rarely needs it.
    ///
    /// Cancellation: once submitted, the write is made even if this future is dropped (see
    /// [`cancellation`](crate::cancellation)).
    ///
    /// # Errors
    /// Only the store's (6019) or [`Error::Closed`].
    #[tracing::instrument(skip_all, fields(conversation = %id), err(level = "debug"))]
    pub async fn create_conversation(
        &self,
        id: &ConversationId,
    ) -> Result<std::sync::Arc<Conversation>> {
        let id = id.clone();
        self.write(move |tx| {
            if let Some(existing) = tx.get(&id) {
                return Ok(std::sync::Arc::clone(existing));
            }
            let mut conversation = tx.new_conversation(&id);
            conversation.order_key = tx.next_order_key();
            tx.put(conversation);
            tx.get(&id)
                .cloned()
                .ok_or_else(|| Error::Internal("a conversation just written is missing".into()))
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

/// A message must have a position, unless it is this user's own message being sent.
pub(crate) fn check_position(id: &ConversationId, message: &Message) -> Result<()> {
    if position(message, id.kind()) == 0 && !is_sending(message) {
        return Err(Error::InvalidParameter(match id.kind() {
            ConversationType::Group => {
                format!("a message of {id} without message_seq cannot be placed")
            }
            _ => format!("a message of {id} without a server or client time cannot be placed"),
        }));
    }
    Ok(())
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
        folders: c.folders.clone(),
        c2c_read_timestamp: c.c2c_read_timestamp,
        group_read_sequence: c.group_read_sequence,
    }
}

/// Ingests a message already placed and checked (see [`check_position`]).
pub(crate) fn ingest(tx: &mut Tx<'_>, id: &ConversationId, message: Message) -> IngestOutcome {
    let kind = id.kind();
    let sending = is_sending(&message);
    // Messages from before the last delete stay deleted, even once the conversation is back;
    // a message being sent now is after any delete.
    if !sending
        && tx
            .tombstone(id)
            .is_some_and(|t| recency(&message, kind) <= t.last_message)
    {
        return IngestOutcome::Stale;
    }
    let existing = tx.get(id).cloned();
    let key = message.dedup_key();
    let last = existing.as_ref().and_then(|c| c.last_message.as_ref());
    if let (Some(current), Some(last)) = (&existing, last)
        && last.has_dedup_key(&key)
    {
        // The last message again: an update of it where it is shown, or nothing.
        if *last == message {
            return IngestOutcome::Duplicate;
        }
        let mut c = copy_for_ingest(current, true);
        c.last_message = Some(message);
        tx.put(c);
        return IngestOutcome::Replaced;
    }
    if tx.is_unread(id, &key) {
        // An older message seen before (it still counts as unread): nothing counts again.
        return IngestOutcome::Duplicate;
    }
    let pos = position(&message, kind);
    let read = existing.as_ref().map_or(0, |c| c.read_position());
    let group_type = match &existing {
        Some(c) => c.group_type,
        None => tx.kept_settings(id).and_then(|k| k.group_type),
    };
    let counts = !message.from_self()
        && !message.excluded_from_unread.unwrap_or(false)
        && group_type.is_none_or(GroupType::counts_unread)
        && pos > read;
    let newer = last.is_none_or(|last| is_newer(&message, last, kind));
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
