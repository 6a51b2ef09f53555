//! The conversation record (`ConvInfo`, SPEC §2).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::custom_data::CustomData;
use super::draft::Draft;
use super::id::{ConversationId, ConversationType};
use super::marks::MarkFlags;
use super::message::Message;
use super::options::{GroupAtInfo, GroupType, ReceiveOption};

/// Bit 62 of `conv_active_time`: set on pinned conversations in the C output (SPEC §2).
pub(crate) const PINNED_BIT: u64 = 1 << 62;

/// One conversation as the list shows it.
///
/// Serialises as the original SDK's `ConvInfo` with its exact keys (SPEC §2). In that form
/// `conv_active_time` carries bit 62 when the conversation is pinned, as the C API does; the
/// typed [`order_key`](Self::order_key) never does.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Conversation {
    /// Which conversation this is (`conv_id` + `conv_type`).
    pub id: ConversationId,
    /// Display name (`conv_show_name`).
    pub show_name: String,
    /// Avatar URL (`conv_face_url`).
    pub face_url: String,
    /// Unread message count (`conv_unread_num`).
    pub unread_count: u64,
    /// The order key (`conv_active_time` without the pinned bit): unique, grows with each
    /// activation (message, draft set, pin). Lists sort pinned first, then by this, descending.
    pub order_key: u64,
    /// The last message (`conv_last_msg`; `conv_is_has_lastmsg` is whether it is set).
    pub last_message: Option<Message>,
    /// The draft (`conv_draft`; `conv_is_has_draft` is whether it is set). Local only. Boxed:
    /// few conversations have one, and the record stays small without.
    pub draft: Option<Box<Draft>>,
    /// Receive option (`conv_recv_opt`).
    pub receive_option: ReceiveOption,
    /// Group kind, for group conversations whose kind is known (`conv_group_type`).
    pub group_type: Option<GroupType>,
    /// Pending @ mentions (`conv_group_at_info_array`).
    pub group_at_info: Vec<GroupAtInfo>,
    /// Whether it is pinned (`conv_is_pinned`).
    pub is_pinned: bool,
    /// Marks (`conv_mark_array`).
    pub marks: MarkFlags,
    /// Custom data (`conv_custom_data`).
    pub custom_data: CustomData,
    /// Names of the folders it is in (the original SDK's "conversation groups",
    /// `conv_conversation_group_array`), in the order it joined them. Not to be confused with
    /// group chats: a folder holds conversations of either type.
    pub folders: Vec<String>,
    /// C2C read position as a server timestamp (`conv_c2c_read_timestamp`).
    pub c2c_read_timestamp: u64,
    /// Group read position as a message sequence (`conv_group_read_sequence`).
    pub group_read_sequence: u64,
}

impl Conversation {
    /// An empty conversation: no message, no unread, not pinned, no marks, order key 0.
    #[must_use]
    pub fn new(id: ConversationId) -> Self {
        Self {
            id,
            show_name: String::new(),
            face_url: String::new(),
            unread_count: 0,
            order_key: 0,
            last_message: None,
            draft: None,
            receive_option: ReceiveOption::Receive,
            group_type: None,
            group_at_info: Vec::new(),
            is_pinned: false,
            marks: MarkFlags::empty(),
            custom_data: CustomData::default(),
            folders: Vec::new(),
            c2c_read_timestamp: 0,
            group_read_sequence: 0,
        }
    }

    /// The position in the list: the order key with bit 62 set when pinned. Larger comes first.
    #[must_use]
    pub fn sort_key(&self) -> u64 {
        self.order_key | if self.is_pinned { PINNED_BIT } else { 0 }
    }

    /// Whether its unread counts toward totals: the receive option allows it (SPEC §6) and it is
    /// not an audio-video chat room.
    #[must_use]
    pub fn counts_toward_total(&self) -> bool {
        self.receive_option.counts_toward_total() && self.group_type != Some(GroupType::AvChatRoom)
    }

    /// Its contribution to the total unread: `unread_count` when it counts, else 0.
    #[must_use]
    pub fn counted_unread(&self) -> u64 {
        if self.counts_toward_total() {
            self.unread_count
        } else {
            0
        }
    }

    /// The read position in this conversation's coordinate (timestamp for C2C, sequence for
    /// groups).
    #[must_use]
    pub fn read_position(&self) -> u64 {
        match self.id.kind() {
            ConversationType::Group => self.group_read_sequence,
            _ => self.c2c_read_timestamp,
        }
    }

    /// Whether it carries roaming decoration counted by the 1000-conversation limit: marks,
    /// custom data or folder membership.
    #[must_use]
    pub fn is_decorated(&self) -> bool {
        !self.marks.is_empty() || !self.custom_data.is_empty() || !self.folders.is_empty()
    }
}

/// `ConvInfo` exactly as it is on the wire.
#[derive(Serialize, Deserialize)]
struct ConvInfoWire {
    conv_id: String,
    conv_type: ConversationType,
    #[serde(default)]
    conv_show_name: String,
    #[serde(default)]
    conv_face_url: String,
    #[serde(default)]
    conv_unread_num: u64,
    #[serde(default)]
    conv_active_time: u64,
    #[serde(default)]
    conv_is_has_lastmsg: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conv_last_msg: Option<Message>,
    #[serde(default)]
    conv_is_has_draft: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conv_draft: Option<Draft>,
    #[serde(default)]
    conv_recv_opt: ReceiveOption,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conv_group_type: Option<GroupType>,
    #[serde(default)]
    conv_group_at_info_array: Vec<GroupAtInfo>,
    #[serde(default)]
    conv_is_pinned: bool,
    #[serde(default)]
    conv_mark_array: Vec<u64>,
    #[serde(default)]
    conv_custom_data: CustomData,
    #[serde(default)]
    conv_conversation_group_array: Vec<String>,
    #[serde(default)]
    conv_c2c_read_timestamp: u64,
    #[serde(default)]
    conv_group_read_sequence: u64,
}

impl Serialize for Conversation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ConvInfoWire {
            conv_id: self.id.peer().to_owned(),
            conv_type: self.id.kind(),
            conv_show_name: self.show_name.clone(),
            conv_face_url: self.face_url.clone(),
            conv_unread_num: self.unread_count,
            conv_active_time: self.sort_key(),
            conv_is_has_lastmsg: self.last_message.is_some(),
            conv_last_msg: self.last_message.clone(),
            conv_is_has_draft: self.draft.is_some(),
            conv_draft: self.draft.as_deref().cloned(),
            conv_recv_opt: self.receive_option,
            conv_group_type: self.group_type,
            conv_group_at_info_array: self.group_at_info.clone(),
            conv_is_pinned: self.is_pinned,
            conv_mark_array: self.marks.each_bit().collect(),
            conv_custom_data: self.custom_data.clone(),
            conv_conversation_group_array: self.folders.clone(),
            conv_c2c_read_timestamp: self.c2c_read_timestamp,
            conv_group_read_sequence: self.group_read_sequence,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Conversation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = ConvInfoWire::deserialize(d)?;
        let id = ConversationId::new(w.conv_type, &w.conv_id).map_err(serde::de::Error::custom)?;
        let marks = w.conv_mark_array.iter().fold(0u64, |acc, bit| acc | bit);
        Ok(Conversation {
            id,
            show_name: w.conv_show_name,
            face_url: w.conv_face_url,
            unread_count: w.conv_unread_num,
            order_key: w.conv_active_time & !PINNED_BIT,
            // `conv_is_has_*` are derived; a record claiming a message it does not carry has none.
            last_message: w.conv_last_msg.filter(|_| w.conv_is_has_lastmsg),
            draft: w.conv_draft.filter(|_| w.conv_is_has_draft).map(Box::new),
            receive_option: w.conv_recv_opt,
            group_type: w.conv_group_type,
            group_at_info: w.conv_group_at_info_array,
            is_pinned: w.conv_is_pinned,
            marks: MarkFlags::from_bits_retain(marks),
            custom_data: w.conv_custom_data,
            folders: w.conv_conversation_group_array,
            c2c_read_timestamp: w.conv_c2c_read_timestamp,
            group_read_sequence: w.conv_group_read_sequence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_bit_only_in_wire_form() -> Result<(), Box<dyn std::error::Error>> {
        let mut c = Conversation::new("c2c_a".parse()?);
        c.order_key = 5;
        c.is_pinned = true;
        let json = serde_json::to_value(&c)?;
        assert_eq!(json["conv_active_time"], PINNED_BIT | 5);
        let back: Conversation = serde_json::from_value(json)?;
        assert_eq!(back.order_key, 5);
        assert_eq!(back, c);
        Ok(())
    }

    #[test]
    fn system_type_is_refused_as_a_record() {
        let json = r#"{"conv_id":"x","conv_type":3}"#;
        assert!(serde_json::from_str::<Conversation>(json).is_err());
    }
}
