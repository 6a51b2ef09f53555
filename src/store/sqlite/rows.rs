//! Mapping between stored records and SQLite rows.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{
    Conversation, ConversationId, CustomData, Draft, GroupAtInfo, GroupType, MarkFlags, Message,
    ReceiveOption,
};
use crate::store::{StoredConversation, Tombstone, UnreadMessage};

/// The columns of `conversations`, in the order [`EncodedConversation`] binds them.
pub(super) const CONVERSATION_COLUMNS: &str = "id, conv_type, sort_key, order_key, is_pinned, \
    marks, unread_count, has_at_info, receive_option, group_type, show_name, face_url, \
    custom_data, c2c_read_timestamp, group_read_sequence, last_message, draft, group_at_info, \
    unread_messages";

/// `SET` clause updating every column but the key from the proposed row.
pub(super) const CONVERSATION_UPDATE: &str = "conv_type = excluded.conv_type, \
    sort_key = excluded.sort_key, order_key = excluded.order_key, \
    is_pinned = excluded.is_pinned, marks = excluded.marks, \
    unread_count = excluded.unread_count, has_at_info = excluded.has_at_info, \
    receive_option = excluded.receive_option, group_type = excluded.group_type, \
    show_name = excluded.show_name, face_url = excluded.face_url, \
    custom_data = excluded.custom_data, c2c_read_timestamp = excluded.c2c_read_timestamp, \
    group_read_sequence = excluded.group_read_sequence, last_message = excluded.last_message, \
    draft = excluded.draft, group_at_info = excluded.group_at_info, \
    unread_messages = excluded.unread_messages";

/// Number of columns of `conversations` (bound parameters per row).
pub(super) const CONVERSATION_COLUMN_COUNT: usize = 19;

/// SQLite stores signed 64-bit integers; u64 values keep their bits.
pub(super) fn to_sql(v: u64) -> i64 {
    v as i64
}

pub(super) fn from_sql(v: i64) -> u64 {
    v as u64
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::CorruptDatabase(what.to_string())
}

/// One unread message as stored: `[key, position]`.
#[derive(Serialize, Deserialize)]
struct UnreadEntry(String, u64);

/// A conversation ready to bind.
pub(super) struct EncodedConversation {
    pub(super) id: String,
    pub(super) conv_type: i64,
    pub(super) sort_key: i64,
    pub(super) order_key: i64,
    pub(super) is_pinned: bool,
    pub(super) marks: i64,
    pub(super) unread_count: i64,
    pub(super) has_at_info: bool,
    pub(super) receive_option: i64,
    pub(super) group_type: Option<i64>,
    pub(super) show_name: String,
    pub(super) face_url: String,
    pub(super) custom_data: Vec<u8>,
    pub(super) c2c_read_timestamp: i64,
    pub(super) group_read_sequence: i64,
    pub(super) last_message: Option<String>,
    pub(super) draft: Option<String>,
    pub(super) group_at_info: String,
    pub(super) unread_messages: String,
    /// Membership, written to `conversation_group_members`.
    pub(super) groups: Vec<String>,
}

impl EncodedConversation {
    pub(super) fn new(stored: &StoredConversation) -> Result<Self> {
        let c = &stored.conversation;
        let unread: Vec<_> = stored
            .unread_messages
            .iter()
            .map(|u| UnreadEntry(u.key.clone(), u.position))
            .collect();
        Ok(Self {
            id: c.id.to_string(),
            conv_type: i64::from(c.id.kind().as_u32()),
            sort_key: to_sql(c.sort_key()),
            order_key: to_sql(c.order_key),
            is_pinned: c.is_pinned,
            marks: to_sql(c.marks.bits()),
            unread_count: to_sql(c.unread_count),
            has_at_info: !c.group_at_info.is_empty(),
            receive_option: i64::from(c.receive_option.as_u32()),
            group_type: c.group_type.map(|g| i64::from(g.as_u32())),
            show_name: c.show_name.clone(),
            face_url: c.face_url.clone(),
            custom_data: c.custom_data.as_bytes().to_vec(),
            c2c_read_timestamp: to_sql(c.c2c_read_timestamp),
            group_read_sequence: to_sql(c.group_read_sequence),
            last_message: c
                .last_message
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
            draft: c.draft.as_deref().map(serde_json::to_string).transpose()?,
            group_at_info: serde_json::to_string(&c.group_at_info)?,
            unread_messages: serde_json::to_string(&unread)?,
            groups: c.groups.clone(),
        })
    }
}

/// A row of `conversations` as read.
#[derive(sqlx::FromRow)]
pub(super) struct ConversationRow {
    id: String,
    order_key: i64,
    is_pinned: bool,
    marks: i64,
    unread_count: i64,
    receive_option: i64,
    group_type: Option<i64>,
    show_name: String,
    face_url: String,
    custom_data: Vec<u8>,
    c2c_read_timestamp: i64,
    group_read_sequence: i64,
    last_message: Option<String>,
    draft: Option<String>,
    group_at_info: String,
    unread_messages: String,
}

impl ConversationRow {
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    /// The record, with its group membership; a row this crate could not have written is
    /// reported as a corrupt database.
    pub(super) fn into_stored(self, groups: Vec<String>) -> Result<StoredConversation> {
        let id: ConversationId = self
            .id
            .parse()
            .map_err(|e| corrupt(format!("conversation id {:?}: {e}", self.id)))?;
        let json = |what: &str, e: serde_json::Error| corrupt(format!("{what} of {id}: {e}"));
        let small = |what: &str, v: i64| {
            u32::try_from(v).map_err(|_| corrupt(format!("{what} of {id} out of range: {v}")))
        };
        let last_message: Option<Message> = self
            .last_message
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| json("last message", e))?;
        let draft: Option<Draft> = self
            .draft
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| json("draft", e))?;
        let group_at_info: Vec<GroupAtInfo> =
            serde_json::from_str(&self.group_at_info).map_err(|e| json("@ info", e))?;
        let unread: Vec<UnreadEntry> =
            serde_json::from_str(&self.unread_messages).map_err(|e| json("unread messages", e))?;
        let mut conversation = Conversation::new(id.clone());
        conversation.show_name = self.show_name;
        conversation.face_url = self.face_url;
        conversation.unread_count = from_sql(self.unread_count);
        conversation.order_key = from_sql(self.order_key);
        conversation.last_message = last_message;
        conversation.draft = draft.map(Box::new);
        conversation.receive_option =
            ReceiveOption::from_u32(small("receive option", self.receive_option)?);
        conversation.group_type = self
            .group_type
            .map(|g| small("group type", g).map(GroupType::from_u32))
            .transpose()?;
        conversation.group_at_info = group_at_info;
        conversation.is_pinned = self.is_pinned;
        conversation.marks = MarkFlags::from_bits_retain(from_sql(self.marks));
        conversation.custom_data = CustomData::new(self.custom_data);
        conversation.groups = groups;
        conversation.c2c_read_timestamp = from_sql(self.c2c_read_timestamp);
        conversation.group_read_sequence = from_sql(self.group_read_sequence);
        Ok(StoredConversation {
            conversation,
            unread_messages: unread
                .into_iter()
                .map(|UnreadEntry(key, position)| UnreadMessage { key, position })
                .collect(),
        })
    }
}

/// A row of `tombstones` as read.
#[derive(sqlx::FromRow)]
pub(super) struct TombstoneRow {
    id: String,
    last_position: i64,
    last_server_time: i64,
    last_seq: i64,
    clear_messages: bool,
}

impl TombstoneRow {
    pub(super) fn into_tombstone(self) -> Result<Tombstone> {
        Ok(Tombstone {
            id: self
                .id
                .parse()
                .map_err(|e| corrupt(format!("tombstone id {:?}: {e}", self.id)))?,
            last_message: [
                from_sql(self.last_position),
                from_sql(self.last_server_time),
                from_sql(self.last_seq),
            ],
            clear_messages: self.clear_messages,
        })
    }
}
