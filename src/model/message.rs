//! Messages, as far as the conversation list needs them (keys `message_*`, SPEC §2).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The key of the @-all marker in `message_group_at_user_array`, as the original SDK writes it.
pub(crate) const AT_ALL_MARKER: &str = "__kImSDK_MesssageAtALL__";

/// A message: the last message of a conversation, the body of a draft, or one being ingested.
///
/// The fields the conversation list reads are typed; every other key is kept in
/// [`Message::extra`], so decoding a message and encoding it again keeps every key it had,
/// unknown ones included. Absent keys stay absent.
///
/// ```
/// use timconv::Message;
///
/// let json = r#"{"message_msg_id":"m1","message_seq":7,"message_custom_int":3}"#;
/// let msg: Message = serde_json::from_str(json)?;
/// assert_eq!(msg.seq, Some(7));
/// assert_eq!(serde_json::to_value(&msg)?, serde_json::from_str::<serde_json::Value>(json)?);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Message {
    /// Unique message ID (`message_msg_id`); used to count a message delivered twice once.
    #[serde(
        rename = "message_msg_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_id: Option<String>,
    /// Sequence number (`message_seq`); the read position of group conversations.
    #[serde(
        rename = "message_seq",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub seq: Option<u64>,
    /// Random number (`message_rand`).
    #[serde(
        rename = "message_rand",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rand: Option<u64>,
    /// Sender's user ID (`message_sender`).
    #[serde(
        rename = "message_sender",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sender: Option<String>,
    /// Client time, UTC seconds (`message_client_time`).
    #[serde(
        rename = "message_client_time",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_time: Option<u64>,
    /// Server time, UTC seconds (`message_server_time`); the read position of C2C conversations.
    #[serde(
        rename = "message_server_time",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub server_time: Option<u64>,
    /// Raw peer ID of the conversation (`message_conv_id`).
    #[serde(
        rename = "message_conv_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub conv_id: Option<String>,
    /// Conversation type, 1 C2C or 2 group (`message_conv_type`).
    #[serde(
        rename = "message_conv_type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub conv_type: Option<u32>,
    /// Whether this user sent it (`message_is_from_self`); own messages never add unread.
    #[serde(
        rename = "message_is_from_self",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub is_from_self: Option<bool>,
    /// Whether it has been read (`message_is_read`).
    #[serde(
        rename = "message_is_read",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub is_read: Option<bool>,
    /// Delivery status (`message_status`).
    #[serde(
        rename = "message_status",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<u32>,
    /// Content elements (`message_elem_array`), each kept as JSON.
    #[serde(
        rename = "message_elem_array",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub elements: Option<Vec<Value>>,
    /// `message_excluded_from_unread_count`: when true the message never adds unread.
    #[serde(
        rename = "message_excluded_from_unread_count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub excluded_from_unread: Option<bool>,
    /// Users @-mentioned in a group message (`message_group_at_user_array`); the marker
    /// `__kImSDK_MesssageAtALL__` means @all.
    #[serde(
        rename = "message_group_at_user_array",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub group_at_users: Option<Vec<String>>,
    /// Every other key, kept as it came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Message {
    /// A text message (one element of type 0) with the given message ID; an empty ID leaves
    /// `message_msg_id` absent (as in a draft).
    #[must_use]
    pub fn text(msg_id: impl Into<String>, content: impl Into<String>) -> Self {
        let msg_id: String = msg_id.into();
        let mut elem = Map::new();
        elem.insert("elem_type".into(), Value::from(0));
        elem.insert("text_elem_content".into(), Value::from(content.into()));
        Message {
            msg_id: (!msg_id.is_empty()).then_some(msg_id),
            elements: Some(vec![Value::Object(elem)]),
            ..Message::default()
        }
    }

    /// The text of the first text element, if any.
    #[must_use]
    pub fn text_content(&self) -> Option<&str> {
        self.elements
            .as_ref()?
            .iter()
            .find_map(|e| e.get("text_elem_content")?.as_str())
    }

    /// Whether this message was sent by this user.
    #[must_use]
    pub fn from_self(&self) -> bool {
        self.is_from_self.unwrap_or(false)
    }

    /// The identity used to count a message delivered twice once: its message ID, else its
    /// (sequence, random, server time) triple.
    pub(crate) fn dedup_key(&self) -> String {
        match &self.msg_id {
            Some(id) if !id.is_empty() => id.clone(),
            _ => format!(
                "#{}:{}:{}",
                self.seq.unwrap_or(0),
                self.rand.unwrap_or(0),
                self.server_time.unwrap_or(0)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_survive_and_absent_stay_absent() -> Result<(), serde_json::Error> {
        let json = r#"{"message_seq":1,"message_unique_id":6961616747713488299,
                       "message_sender_profile":{"user_profile_nick_name":"n"}}"#;
        let m: Message = serde_json::from_str(json)?;
        let back = serde_json::to_value(&m)?;
        assert_eq!(back, serde_json::from_str::<Value>(json)?);
        assert!(back.get("message_msg_id").is_none());
        Ok(())
    }

    #[test]
    fn text_builder() {
        let m = Message::text("id", "hi");
        assert_eq!(m.text_content(), Some("hi"));
        assert_eq!(m.dedup_key(), "id");
        assert_eq!(Message::default().dedup_key(), "#0:0:0");
    }
}
