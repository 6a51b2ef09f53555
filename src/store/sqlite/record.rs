//! How one conversation record is packed into a `records.record` value.
//!
//! Format 1: the byte `1`; the row's `seq` (8 bytes, little-endian); the conversation ID
//! (a varint length, then UTF-8); then a [postcard](https://docs.rs/postcard) encoding of
//! [`RecordV1`] (varint integers, length-prefixed strings and byte strings, fields in
//! declaration order), and nothing after it. The `seq` and ID repeat the row's columns, so that
//! a load reads one value per row and tells dead rows apart without decoding them. The last message and the draft are kept as their
//! JSON text (every key the message had, unknown ones included), since a message's elements
//! are free-form JSON. The unread entries behind the unread count are rows of their own.
//!
//! [`decode`] accepts exactly what [`encode`] writes and refuses anything else as a corrupt
//! database; it never panics, whatever the bytes (a property test feeds it arbitrary ones).

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::model::{
    Conversation, ConversationId, CustomData, Draft, GroupAtInfo, GroupAtType, GroupType,
    MarkFlags, Message, ReceiveOption,
};

/// The format byte of records this version writes.
const FORMAT: u8 = 1;

/// Bytes written as one length-prefixed string of bytes (not a sequence of integers).
#[derive(Debug, PartialEq)]
struct Bytes<'a>(Cow<'a, [u8]>);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Bytes<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_borrowed_bytes<E>(self, v: &'de [u8]) -> std::result::Result<Self::Value, E> {
                Ok(Bytes(Cow::Borrowed(v)))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> std::result::Result<Self::Value, E> {
                Ok(Bytes(Cow::Owned(v.to_vec())))
            }
        }
        d.deserialize_bytes(Visitor)
    }
}

/// The fields of a stored record, format 1.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct RecordV1<'a> {
    #[serde(borrow)]
    show_name: Cow<'a, str>,
    #[serde(borrow)]
    face_url: Cow<'a, str>,
    order_key: u64,
    unread_count: u64,
    is_pinned: bool,
    marks: u64,
    receive_option: u32,
    group_type: Option<u32>,
    /// `(seq, at type)` pairs.
    group_at_info: Vec<(u64, u32)>,
    #[serde(borrow)]
    custom_data: Bytes<'a>,
    #[serde(borrow)]
    folders: Vec<Cow<'a, str>>,
    c2c_read_timestamp: u64,
    group_read_sequence: u64,
    #[serde(borrow)]
    last_message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    draft: Option<Cow<'a, str>>,
}

fn corrupt(id: &str, what: impl std::fmt::Display) -> Error {
    Error::CorruptDatabase(format!("record of {id}: {what}"))
}

/// JSON text of a payload (the last message, the draft).
fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::Internal(format!("encoding a record payload: {e}")))
}

/// Packs a record for the row `seq`.
///
/// # Errors
/// [`Error::Internal`] if its message cannot be encoded as JSON (never expected).
pub(super) fn encode(seq: i64, c: &Conversation) -> Result<Vec<u8>> {
    let record = RecordV1 {
        show_name: Cow::Borrowed(&c.show_name),
        face_url: Cow::Borrowed(&c.face_url),
        order_key: c.order_key,
        unread_count: c.unread_count,
        is_pinned: c.is_pinned,
        marks: c.marks.bits(),
        receive_option: c.receive_option.as_u32(),
        group_type: c.group_type.map(GroupType::as_u32),
        group_at_info: c
            .group_at_info
            .iter()
            .map(|a| (a.seq, a.at_type.as_u32()))
            .collect(),
        custom_data: Bytes(Cow::Borrowed(c.custom_data.as_bytes())),
        folders: c
            .folders
            .iter()
            .map(|g| Cow::Borrowed(g.as_str()))
            .collect(),
        c2c_read_timestamp: c.c2c_read_timestamp,
        group_read_sequence: c.group_read_sequence,
        last_message: c
            .last_message
            .as_ref()
            .map(to_json)
            .transpose()?
            .map(Cow::Owned),
        draft: c.draft.as_deref().map(to_json).transpose()?.map(Cow::Owned),
    };
    let id = c.id.as_str();
    let mut bytes = Vec::with_capacity(16 + id.len() + 256);
    bytes.push(FORMAT);
    bytes.extend_from_slice(&seq.to_le_bytes());
    let bytes = postcard::to_extend(id, bytes)
        .and_then(|bytes| postcard::to_extend(&record, bytes))
        .map_err(|e| Error::Internal(format!("packing the record of {}: {e}", c.id)))?;
    Ok(bytes)
}

/// A packed record's row `seq`, its conversation ID and the rest, without decoding the rest.
///
/// # Errors
/// [`Error::CorruptDatabase`] for bytes [`encode`] did not write.
pub(super) fn header(bytes: &[u8]) -> Result<(i64, &str, &[u8])> {
    let body = match bytes.split_first() {
        Some((&FORMAT, body)) => body,
        Some((format, _)) => {
            return Err(Error::CorruptDatabase(format!(
                "a record of unknown format {format}"
            )));
        }
        None => return Err(Error::CorruptDatabase("an empty record".into())),
    };
    let (seq, body) = body
        .split_first_chunk::<8>()
        .ok_or_else(|| Error::CorruptDatabase("a truncated record".into()))?;
    let (id, body): (&str, &[u8]) = postcard::take_from_bytes(body)
        .map_err(|e| Error::CorruptDatabase(format!("a record's ID: {e}")))?;
    Ok((i64::from_le_bytes(*seq), id, body))
}

/// Unpacks the rest of a record (after its [`header`]) of conversation `id`.
///
/// # Errors
/// [`Error::CorruptDatabase`] for bytes [`encode`] did not write.
pub(super) fn decode(id: ConversationId, body: &[u8]) -> Result<Conversation> {
    let name = id.as_str();
    let (r, rest): (RecordV1<'_>, &[u8]) =
        postcard::take_from_bytes(body).map_err(|e| corrupt(name, e))?;
    if !rest.is_empty() {
        return Err(corrupt(name, "trailing bytes"));
    }
    let last_message: Option<Message> = r
        .last_message
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| corrupt(name, format!("last message: {e}")))?;
    let draft: Option<Draft> = r
        .draft
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| corrupt(name, format!("draft: {e}")))?;
    let group_at_info = r
        .group_at_info
        .iter()
        .map(|&(seq, at_type)| GroupAtInfo {
            seq,
            at_type: GroupAtType::from_u32(at_type),
        })
        .collect();
    let mut c = Conversation::new(id);
    c.show_name = r.show_name.into_owned();
    c.face_url = r.face_url.into_owned();
    c.order_key = r.order_key;
    c.unread_count = r.unread_count;
    c.is_pinned = r.is_pinned;
    c.marks = MarkFlags::from_bits_retain(r.marks);
    c.receive_option = ReceiveOption::from_u32(r.receive_option);
    c.group_type = r.group_type.map(GroupType::from_u32);
    c.group_at_info = group_at_info;
    c.custom_data = CustomData::new(r.custom_data.0.into_owned());
    c.folders = r.folders.into_iter().map(Cow::into_owned).collect();
    c.c2c_read_timestamp = r.c2c_read_timestamp;
    c.group_read_sequence = r.group_read_sequence;
    c.last_message = last_message;
    c.draft = draft.map(Box::new);
    Ok(c)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn rich() -> Conversation {
        let mut c = Conversation::new("group_g1".parse().expect("valid id"));
        c.show_name = "Team ✓".into();
        c.face_url = "https://example.com/a.png".into();
        c.order_key = u64::MAX - 3;
        c.is_pinned = true;
        c.marks = MarkFlags::from_bits_retain(1 << 63 | 1);
        c.custom_data = CustomData::new(vec![0xff, 0, 0x41]);
        c.group_type = Some(GroupType::Unknown(77));
        c.receive_option = ReceiveOption::NotNotify;
        let mut message = Message::text("m1", "hi");
        message.extra.insert(
            "message_unknown_key".into(),
            serde_json::json!({"a": [1, null]}),
        );
        c.last_message = Some(message);
        c.draft = Some(Box::new(Draft::new(Message::text("", "unsent"), "u", 5)));
        c.group_at_info = vec![GroupAtInfo {
            seq: 3,
            at_type: GroupAtType::AtAll,
        }];
        c.folders = vec!["work".into(), "friends".into()];
        c.c2c_read_timestamp = 9;
        c.group_read_sequence = 10;
        c.unread_count = 2;
        c
    }

    /// Header and body of `bytes`, the body decoded for the ID the header names.
    fn unpack(bytes: &[u8]) -> Result<(i64, Conversation)> {
        let (seq, id, body) = header(bytes)?;
        let id: ConversationId = id
            .parse()
            .map_err(|e| Error::CorruptDatabase(format!("{e}")))?;
        Ok((seq, decode(id, body)?))
    }

    #[test]
    fn records_round_trip() -> Result<()> {
        for (seq, c) in [(7, rich()), (i64::MAX, Conversation::new("c2c_b".parse()?))] {
            let bytes = encode(seq, &c)?;
            assert_eq!(bytes[0], FORMAT);
            assert_eq!(unpack(&bytes)?, (seq, c));
        }
        Ok(())
    }

    #[test]
    fn damaged_records_are_corrupt_not_panics() -> Result<()> {
        let bytes = encode(3, &rich())?;
        for cut in 0..bytes.len() {
            assert!(matches!(
                unpack(&bytes[..cut]),
                Err(Error::CorruptDatabase(_))
            ));
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(unpack(&longer).is_err(), "trailing bytes");
        let mut other = bytes;
        other[0] = 2;
        assert!(unpack(&other).is_err(), "unknown format");
        Ok(())
    }

    proptest! {
        /// Arbitrary bytes unpack to a record or to a corrupt-database error: never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            match unpack(&bytes) {
                Ok((seq, c)) => prop_assert_eq!(
                    unpack(&encode(seq, &c).expect("encodes")).expect("round trip"),
                    (seq, c)
                ),
                Err(e) => prop_assert!(matches!(e, Error::CorruptDatabase(_))),
            }
        }

        /// Arbitrary bytes after a valid header never panic either.
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut bytes = encode(1, &Conversation::new("c2c_x".parse().expect("valid id")))
                .expect("encodes");
            let (_, _, old) = header(&bytes).expect("a header");
            let keep = bytes.len() - old.len();
            bytes.truncate(keep);
            bytes.extend_from_slice(&body);
            if let Err(e) = unpack(&bytes) {
                prop_assert!(matches!(e, Error::CorruptDatabase(_)));
            }
        }

        /// Mutating one byte of a valid record never panics either.
        #[test]
        fn flipped_bytes_never_panic(at in 0usize..400, value in any::<u8>()) {
            let mut bytes = encode(5, &rich()).expect("encodes");
            let at = at % bytes.len();
            bytes[at] = value;
            let _ = unpack(&bytes);
        }
    }
}
