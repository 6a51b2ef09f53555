//! Messages, as far as the conversation list needs them (keys `message_*`, SPEC §2).

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// The key of the @-all marker in `message_group_at_user_array`, as the original SDK writes it.
pub(crate) const AT_ALL_MARKER: &str = "__kImSDK_MesssageAtALL__";

/// Declares [`Message`] with its typed keys and the serde code that keeps every other key.
macro_rules! message_struct {
    ($(#[$meta:meta])* { $( $(#[$doc:meta])* $field:ident: $ty:ty => $key:literal, )+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct Message {
            $( $(#[$doc])* pub $field: Option<$ty>, )+
            /// Every other key, kept as it came (and a typed key whose value was `null` or of
            /// an unexpected type, so that nothing is lost).
            pub extra: Map<String, Value>,
        }

        impl Serialize for Message {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(None)?;
                $( if let Some(v) = &self.$field { map.serialize_entry($key, v)?; } )+
                for (key, value) in &self.extra {
                    // A typed field that is set wins over a leftover raw value of the same key.
                    let shadowed = match key.as_str() {
                        $( $key => self.$field.is_some(), )+
                        _ => false,
                    };
                    if !shadowed {
                        map.serialize_entry(key, value)?;
                    }
                }
                map.end()
            }
        }

        /// The keys of a message object: a typed one, or any other (kept in `extra`).
        #[allow(non_camel_case_types)]
        enum Field {
            $( $field, )+
            Other(String),
        }

        impl<'de> Deserialize<'de> for Field {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct FieldVisitor;
                impl serde::de::Visitor<'_> for FieldVisitor {
                    type Value = Field;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a message key")
                    }
                    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Field, E> {
                        Ok(match key {
                            $( $key => Field::$field, )+
                            other => Field::Other(other.to_owned()),
                        })
                    }
                    fn visit_string<E: serde::de::Error>(self, key: String) -> Result<Field, E> {
                        Ok(match key.as_str() {
                            $( $key => Field::$field, )+
                            _ => Field::Other(key),
                        })
                    }
                }
                d.deserialize_identifier(FieldVisitor)
            }
        }

        impl<'de> Deserialize<'de> for Message {
            /// One pass over the object: each typed key is converted from its value in place
            /// (moved, not copied); a typed key whose value is `null` or of another type is
            /// kept in `extra` as it came, like every unknown key.
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct MessageVisitor;
                impl<'de> serde::de::Visitor<'de> for MessageVisitor {
                    type Value = Message;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a message object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Message, A::Error> {
                        let mut message = Message::default();
                        while let Some(field) = map.next_key::<Field>()? {
                            match field {
                                $( Field::$field => {
                                    let value: Value = map.next_value()?;
                                    match FromValue::from_value(value) {
                                        Ok(typed) => {
                                            message.$field = Some(typed);
                                            message.extra.remove($key);
                                        }
                                        Err(raw) => {
                                            message.$field = None;
                                            message.extra.insert($key.to_owned(), raw);
                                        }
                                    }
                                } )+
                                Field::Other(key) => {
                                    let value: Value = map.next_value()?;
                                    message.extra.insert(key, value);
                                }
                            }
                        }
                        Ok(message)
                    }
                }
                d.deserialize_map(MessageVisitor)
            }
        }
    };
}

/// A typed key's value taken from its JSON value if it is of that type (not `null`); the value
/// back otherwise. Strings and arrays are moved, not copied.
trait FromValue: Sized {
    fn from_value(value: Value) -> Result<Self, Value>;
}

impl FromValue for String {
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::String(s) => Ok(s),
            other => Err(other),
        }
    }
}

impl FromValue for u64 {
    fn from_value(value: Value) -> Result<Self, Value> {
        match &value {
            Value::Number(n) => n.as_u64().ok_or(value),
            _ => Err(value),
        }
    }
}

impl FromValue for u32 {
    fn from_value(value: Value) -> Result<Self, Value> {
        match &value {
            Value::Number(n) => n.as_u64().and_then(|v| u32::try_from(v).ok()).ok_or(value),
            _ => Err(value),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::Bool(b) => Ok(b),
            other => Err(other),
        }
    }
}

impl FromValue for Vec<Value> {
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::Array(items) => Ok(items),
            other => Err(other),
        }
    }
}

impl FromValue for Vec<String> {
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(items
                .into_iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect()),
            other => Err(other),
        }
    }
}

message_struct! {
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
    {
        /// Unique message ID (`message_msg_id`); used to count a message delivered twice once.
        msg_id: String => "message_msg_id",
        /// Sequence number (`message_seq`); the read position of group conversations.
        seq: u64 => "message_seq",
        /// Random number (`message_rand`).
        rand: u64 => "message_rand",
        /// Sender's user ID (`message_sender`).
        sender: String => "message_sender",
        /// Client time, UTC seconds (`message_client_time`).
        client_time: u64 => "message_client_time",
        /// Server time, UTC seconds (`message_server_time`); the read position of C2C conversations.
        server_time: u64 => "message_server_time",
        /// Raw peer ID of the conversation (`message_conv_id`).
        conv_id: String => "message_conv_id",
        /// Conversation type, 1 C2C or 2 group (`message_conv_type`).
        conv_type: u32 => "message_conv_type",
        /// Whether this user sent it (`message_is_from_self`); own messages never add unread.
        is_from_self: bool => "message_is_from_self",
        /// Whether it has been read (`message_is_read`).
        is_read: bool => "message_is_read",
        /// Delivery status (`message_status`).
        status: u32 => "message_status",
        /// Content elements (`message_elem_array`), each kept as JSON.
        elements: Vec<Value> => "message_elem_array",
        /// `message_excluded_from_unread_count`: when true the message never adds unread.
        excluded_from_unread: bool => "message_excluded_from_unread_count",
        /// Users @-mentioned in a group message (`message_group_at_user_array`); the marker
        /// `__kImSDK_MesssageAtALL__` means @all.
        group_at_users: Vec<String> => "message_group_at_user_array",
    }
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

    /// A builder, key by key:
    ///
    /// ```
    /// use timconv::Message;
    ///
    /// let m = Message::builder()
    ///     .msg_id("m7")
    ///     .seq(7)
    ///     .server_time(1_700_000_000)
    ///     .sender("alice")
    ///     .text("see you")
    ///     .build();
    /// assert_eq!(m.text_content(), Some("see you"));
    /// assert_eq!(m.seq, Some(7));
    /// ```
    pub fn builder() -> MessageBuilder {
        MessageBuilder::default()
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

    /// Whether [`dedup_key`](Self::dedup_key) is `key`, without building it (usually).
    pub(crate) fn has_dedup_key(&self, key: &str) -> bool {
        match &self.msg_id {
            Some(id) if !id.is_empty() => id == key,
            _ => key.starts_with('#') && self.dedup_key() == key,
        }
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
    fn null_and_mistyped_known_keys_are_kept() -> Result<(), serde_json::Error> {
        let json = r#"{"message_seq":null,"message_rand":"text","message_sender":"s"}"#;
        let m: Message = serde_json::from_str(json)?;
        assert_eq!(
            (m.seq, m.rand, m.sender.as_deref()),
            (None, None, Some("s"))
        );
        assert_eq!(
            serde_json::to_value(&m)?,
            serde_json::from_str::<Value>(json)?
        );
        let mut set = m.clone();
        set.seq = Some(4);
        assert_eq!(serde_json::to_value(&set)?["message_seq"], 4);
        Ok(())
    }

    #[test]
    fn text_builder() {
        let m = Message::text("id", "hi");
        assert_eq!(m.text_content(), Some("hi"));
        assert_eq!(m.dedup_key(), "id");
        assert_eq!(Message::default().dedup_key(), "#0:0:0");
        assert!(m.has_dedup_key("id") && !m.has_dedup_key("#0:0:0"));
        assert!(Message::default().has_dedup_key("#0:0:0"));
        assert!(!Message::default().has_dedup_key("id"));
    }
}

/// Builds a [`Message`] key by key ([`Message::builder`]). Keys not set stay absent.
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until built"]
pub struct MessageBuilder(Message);

impl MessageBuilder {
    /// `message_msg_id`: the message's identity.
    pub fn msg_id(mut self, id: impl Into<String>) -> Self {
        self.0.msg_id = Some(id.into());
        self
    }

    /// `message_seq`: its sequence (the read position of group conversations).
    pub fn seq(mut self, seq: u64) -> Self {
        self.0.seq = Some(seq);
        self
    }

    /// `message_rand`.
    pub fn rand(mut self, rand: u64) -> Self {
        self.0.rand = Some(rand);
        self
    }

    /// `message_sender`: the sender's user ID.
    pub fn sender(mut self, user: impl Into<String>) -> Self {
        self.0.sender = Some(user.into());
        self
    }

    /// `message_client_time`, UTC seconds.
    pub fn client_time(mut self, time: u64) -> Self {
        self.0.client_time = Some(time);
        self
    }

    /// `message_server_time`, UTC seconds (the read position of C2C conversations).
    pub fn server_time(mut self, time: u64) -> Self {
        self.0.server_time = Some(time);
        self
    }

    /// `message_is_from_self`: this user sent it (it never counts as unread).
    pub fn from_self(mut self) -> Self {
        self.0.is_from_self = Some(true);
        self
    }

    /// `message_status` (1 sending, 2 sent, 3 failed, 4 deleted, 5 imported, 6 revoked; see
    /// [`lifecycle`](crate::model::lifecycle)).
    pub fn status(mut self, status: u32) -> Self {
        self.0.status = Some(status);
        self
    }

    /// `message_excluded_from_unread_count`: it never counts as unread.
    pub fn excluded_from_unread(mut self) -> Self {
        self.0.excluded_from_unread = Some(true);
        self
    }

    /// `message_group_at_user_array`: users @-mentioned (see [`at_all`](Self::at_all)).
    pub fn at_users<S: Into<String>>(mut self, users: impl IntoIterator<Item = S>) -> Self {
        self.0
            .group_at_users
            .get_or_insert_with(Vec::new)
            .extend(users.into_iter().map(Into::into));
        self
    }

    /// Mentions everyone (@all).
    pub fn at_all(self) -> Self {
        self.at_users([AT_ALL_MARKER])
    }

    /// Appends a text element (`elem_type` 0).
    pub fn text(self, content: impl Into<String>) -> Self {
        let mut elem = Map::new();
        elem.insert("elem_type".into(), Value::from(0));
        elem.insert("text_elem_content".into(), Value::from(content.into()));
        self.element(Value::Object(elem))
    }

    /// Appends an element to `message_elem_array`, as JSON.
    pub fn element(mut self, element: Value) -> Self {
        self.0.elements.get_or_insert_with(Vec::new).push(element);
        self
    }

    /// Sets any other key.
    pub fn key(mut self, key: impl Into<String>, value: Value) -> Self {
        self.0.extra.insert(key.into(), value);
        self
    }

    /// The message.
    #[must_use]
    pub fn build(self) -> Message {
        self.0
    }
}
