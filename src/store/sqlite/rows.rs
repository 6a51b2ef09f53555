//! Mapping between stored records, SQLite rows and journal entries.
//!
//! A conversation has one flat form, [`RowRef`]: the values of its `conversations` row,
//! borrowed from wherever they are (a row sqlx read, or a journal entry). It is decoded into a
//! [`StoredConversation`] at load, and bound into an upsert when the journal is folded.
//!
//! A journal entry (one commit, `conversation_log.entry`) is packed by [`encode_entry`]:
//!
//! ```text
//! entry   = version:u8 (1)  deleted:u32 id:str*  upserted:u32 record*
//! record  = id:str flags:u8 order_key:i64 marks:i64 unread_count:i64 receive_option:i64
//!           [group_type:i64] c2c_read_timestamp:i64 group_read_sequence:i64 show_name:str
//!           face_url:str custom_data:bytes [last_message:str] [draft:str] group_at_info:str
//!           unread_messages:str groups:u32 name:str*
//! str     = bytes holding UTF-8;  bytes = len:u32 byte*;  integers little-endian
//! flags   = 1 pinned | 2 group type | 4 last message | 8 draft
//! ```
//!
//! The JSON columns hold the same text as in `conversations`, so folding an entry copies it.

use serde::Serialize;
use serde::ser::SerializeSeq;

use crate::error::{Error, Result};
use crate::model::{
    Conversation, ConversationId, CustomData, Draft, GroupAtInfo, GroupType, MarkFlags, Message,
    ReceiveOption,
};
use crate::store::{StoredConversation, Tombstone, UnreadMessage};

/// The columns of `conversations`, in the order [`RowRef::bind`] binds them.
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

/// The `SELECT` of a load: the columns [`RowRef::from_sql_row`] reads, in its order.
pub(super) const LOAD_SELECT: &str = "SELECT id, order_key, is_pinned, marks, unread_count, \
    receive_option, group_type, show_name, face_url, custom_data, c2c_read_timestamp, \
    group_read_sequence, last_message, draft, group_at_info, unread_messages FROM conversations";

/// Bit 62 of `sort_key`: set on pinned conversations (as `Conversation::sort_key`).
const PINNED_BIT: u64 = 1 << 62;

/// SQLite stores signed 64-bit integers; u64 values keep their bits.
pub(super) fn to_sql(v: u64) -> i64 {
    v as i64
}

pub(super) fn from_sql(v: i64) -> u64 {
    v as u64
}

pub(super) fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::CorruptDatabase(what.to_string())
}

/// The unread bookkeeping as stored: a JSON array of `[key, position]`.
struct UnreadJson<'a>(&'a [UnreadMessage]);

impl Serialize for UnreadJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for u in self.0 {
            seq.serialize_element(&(u.key.as_str(), u.position))?;
        }
        seq.end()
    }
}

/// The values of one `conversations` row (and the record's group membership), borrowed.
pub(super) struct RowRef<'a> {
    pub(super) id: &'a str,
    pub(super) order_key: i64,
    pub(super) is_pinned: bool,
    pub(super) marks: i64,
    pub(super) unread_count: i64,
    pub(super) receive_option: i64,
    pub(super) group_type: Option<i64>,
    pub(super) show_name: &'a str,
    pub(super) face_url: &'a str,
    pub(super) custom_data: &'a [u8],
    pub(super) c2c_read_timestamp: i64,
    pub(super) group_read_sequence: i64,
    pub(super) last_message: Option<&'a str>,
    pub(super) draft: Option<&'a str>,
    pub(super) group_at_info: &'a str,
    pub(super) unread_messages: &'a str,
    /// Membership, from the journal entry (rows of `conversations` keep it in
    /// `conversation_group_members`).
    pub(super) groups: Vec<&'a str>,
}

impl<'a> RowRef<'a> {
    /// The values of a row of [`LOAD_SELECT`], borrowed from sqlx's copy (no second copy).
    pub(super) fn from_sql_row(row: &'a sqlx::sqlite::SqliteRow) -> Result<Self> {
        use sqlx::Row;
        let get_err = |e: sqlx::Error| corrupt(format!("conversation row: {e}"));
        Ok(Self {
            id: row.try_get(0).map_err(get_err)?,
            order_key: row.try_get(1).map_err(get_err)?,
            is_pinned: row.try_get(2).map_err(get_err)?,
            marks: row.try_get(3).map_err(get_err)?,
            unread_count: row.try_get(4).map_err(get_err)?,
            receive_option: row.try_get(5).map_err(get_err)?,
            group_type: row.try_get(6).map_err(get_err)?,
            show_name: row.try_get(7).map_err(get_err)?,
            face_url: row.try_get(8).map_err(get_err)?,
            custom_data: row.try_get(9).map_err(get_err)?,
            c2c_read_timestamp: row.try_get(10).map_err(get_err)?,
            group_read_sequence: row.try_get(11).map_err(get_err)?,
            last_message: row.try_get(12).map_err(get_err)?,
            draft: row.try_get(13).map_err(get_err)?,
            group_at_info: row.try_get(14).map_err(get_err)?,
            unread_messages: row.try_get(15).map_err(get_err)?,
            groups: Vec::new(),
        })
    }

    /// Binds the row's 19 columns, in [`CONVERSATION_COLUMNS`] order.
    pub(super) fn bind(
        &self,
        b: &mut sqlx::query_builder::Separated<'_, sqlx::Sqlite, &'static str>,
    ) -> Result<()> {
        let id: ConversationId = self
            .id
            .parse()
            .map_err(|e| corrupt(format!("journal: conversation id {:?}: {e}", self.id)))?;
        let sort_key =
            to_sql(from_sql(self.order_key) | if self.is_pinned { PINNED_BIT } else { 0 });
        b.push_bind(self.id.to_owned())
            .push_bind(i64::from(id.kind().as_u32()))
            .push_bind(sort_key)
            .push_bind(self.order_key)
            .push_bind(self.is_pinned)
            .push_bind(self.marks)
            .push_bind(self.unread_count)
            .push_bind(self.group_at_info != "[]")
            .push_bind(self.receive_option)
            .push_bind(self.group_type)
            .push_bind(self.show_name.to_owned())
            .push_bind(self.face_url.to_owned())
            .push_bind(self.custom_data.to_vec())
            .push_bind(self.c2c_read_timestamp)
            .push_bind(self.group_read_sequence)
            .push_bind(self.last_message.map(str::to_owned))
            .push_bind(self.draft.map(str::to_owned))
            .push_bind(self.group_at_info.to_owned())
            .push_bind(self.unread_messages.to_owned());
        Ok(())
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
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| json("last message", e))?;
        let draft: Option<Draft> = self
            .draft
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| json("draft", e))?;
        let group_at_info: Vec<GroupAtInfo> = if self.group_at_info == "[]" {
            Vec::new()
        } else {
            serde_json::from_str(self.group_at_info).map_err(|e| json("@ info", e))?
        };
        let unread_messages: Vec<UnreadMessage> = if self.unread_messages == "[]" {
            Vec::new()
        } else {
            let unread: Vec<(String, u64)> = serde_json::from_str(self.unread_messages)
                .map_err(|e| json("unread messages", e))?;
            unread
                .into_iter()
                .map(|(key, position)| UnreadMessage { key, position })
                .collect()
        };
        let mut conversation = Conversation::new(id.clone());
        conversation.show_name = self.show_name.to_owned();
        conversation.face_url = self.face_url.to_owned();
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
            unread_messages,
        })
    }

    /// The record, with the membership the entry carries.
    pub(super) fn into_stored_with_groups(self) -> Result<StoredConversation> {
        let groups = self.groups.iter().map(|g| (*g).to_owned()).collect();
        self.into_stored(groups)
    }
}

const ENTRY_VERSION: u8 = 1;
const FLAG_PINNED: u8 = 1;
const FLAG_GROUP_TYPE: u8 = 2;
const FLAG_LAST_MESSAGE: u8 = 4;
const FLAG_DRAFT: u8 = 8;

fn put_u32(buf: &mut Vec<u8>, v: usize) -> Result<()> {
    let v = u32::try_from(v).map_err(|_| Error::store(std::io::Error::other("value too large")))?;
    buf.extend_from_slice(&v.to_le_bytes());
    Ok(())
}

fn put_i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    put_u32(buf, bytes.len())?;
    buf.extend_from_slice(bytes);
    Ok(())
}

/// Writes `value` as JSON, length first.
fn put_json(buf: &mut Vec<u8>, value: &impl Serialize) -> Result<()> {
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    serde_json::to_writer(&mut *buf, value)?;
    let len = u32::try_from(buf.len() - at - 4)
        .map_err(|_| Error::store(std::io::Error::other("value too large")))?;
    buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Packs a commit's conversations: the IDs deleted, then the records upserted (applied in that
/// order, as [`ChangeSet`](crate::store::ChangeSet) says).
pub(super) fn encode_entry(
    deletes: &[Tombstone],
    upserts: &[StoredConversation],
) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(16 + upserts.len() * 320);
    buf.push(ENTRY_VERSION);
    put_u32(&mut buf, deletes.len())?;
    for t in deletes {
        put_bytes(&mut buf, t.id.as_str().as_bytes())?;
    }
    put_u32(&mut buf, upserts.len())?;
    for stored in upserts {
        encode_record(&mut buf, stored)?;
    }
    Ok(buf)
}

fn encode_record(buf: &mut Vec<u8>, stored: &StoredConversation) -> Result<()> {
    let c = &stored.conversation;
    put_bytes(buf, c.id.as_str().as_bytes())?;
    let mut flags = 0;
    if c.is_pinned {
        flags |= FLAG_PINNED;
    }
    if c.group_type.is_some() {
        flags |= FLAG_GROUP_TYPE;
    }
    if c.last_message.is_some() {
        flags |= FLAG_LAST_MESSAGE;
    }
    if c.draft.is_some() {
        flags |= FLAG_DRAFT;
    }
    buf.push(flags);
    put_i64(buf, to_sql(c.order_key));
    put_i64(buf, to_sql(c.marks.bits()));
    put_i64(buf, to_sql(c.unread_count));
    put_i64(buf, i64::from(c.receive_option.as_u32()));
    if let Some(g) = c.group_type {
        put_i64(buf, i64::from(g.as_u32()));
    }
    put_i64(buf, to_sql(c.c2c_read_timestamp));
    put_i64(buf, to_sql(c.group_read_sequence));
    put_bytes(buf, c.show_name.as_bytes())?;
    put_bytes(buf, c.face_url.as_bytes())?;
    put_bytes(buf, c.custom_data.as_bytes())?;
    if let Some(m) = &c.last_message {
        put_json(buf, m)?;
    }
    if let Some(d) = &c.draft {
        put_json(buf, d)?;
    }
    put_json(buf, &c.group_at_info)?;
    put_json(buf, &UnreadJson(&stored.unread_messages))?;
    put_u32(buf, c.groups.len())?;
    for g in &c.groups {
        put_bytes(buf, g.as_bytes())?;
    }
    Ok(())
}

/// A journal entry, decoded (borrowing from its bytes).
pub(super) struct Entry<'a> {
    pub(super) deletes: Vec<&'a str>,
    pub(super) upserts: Vec<RowRef<'a>>,
}

/// Reads an entry packed by [`encode_entry`]; anything else is a corrupt database.
pub(super) fn decode_entry(bytes: &[u8]) -> Result<Entry<'_>> {
    let mut r = Reader { bytes, at: 0 };
    let version = r.u8()?;
    if version != ENTRY_VERSION {
        return Err(corrupt(format!(
            "journal entry of unknown version {version}"
        )));
    }
    let deleted = r.u32()?;
    let mut deletes = Vec::with_capacity(deleted.min(bytes.len()));
    for _ in 0..deleted {
        deletes.push(r.str()?);
    }
    let upserted = r.u32()?;
    let mut upserts = Vec::with_capacity(upserted.min(bytes.len() / 64));
    for _ in 0..upserted {
        upserts.push(r.record()?);
    }
    if r.at != bytes.len() {
        return Err(corrupt("journal entry with trailing bytes"));
    }
    Ok(Entry { deletes, upserts })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| corrupt("truncated journal entry"))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<usize> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b) as usize)
    }

    fn i64(&mut self) -> Result<i64> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(b))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.u32()?;
        self.take(len)
    }

    fn str(&mut self) -> Result<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|e| corrupt(format!("journal entry: {e}")))
    }

    fn record(&mut self) -> Result<RowRef<'a>> {
        let id = self.str()?;
        let flags = self.u8()?;
        let order_key = self.i64()?;
        let marks = self.i64()?;
        let unread_count = self.i64()?;
        let receive_option = self.i64()?;
        let group_type = if flags & FLAG_GROUP_TYPE != 0 {
            Some(self.i64()?)
        } else {
            None
        };
        let c2c_read_timestamp = self.i64()?;
        let group_read_sequence = self.i64()?;
        let show_name = self.str()?;
        let face_url = self.str()?;
        let custom_data = self.bytes()?;
        let last_message = if flags & FLAG_LAST_MESSAGE != 0 {
            Some(self.str()?)
        } else {
            None
        };
        let draft = if flags & FLAG_DRAFT != 0 {
            Some(self.str()?)
        } else {
            None
        };
        let group_at_info = self.str()?;
        let unread_messages = self.str()?;
        let count = self.u32()?;
        let mut groups = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            groups.push(self.str()?);
        }
        Ok(RowRef {
            id,
            order_key,
            is_pinned: flags & FLAG_PINNED != 0,
            marks,
            unread_count,
            receive_option,
            group_type,
            show_name,
            face_url,
            custom_data,
            c2c_read_timestamp,
            group_read_sequence,
            last_message,
            draft,
            group_at_info,
            unread_messages,
            groups,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GroupAtType, Message};

    fn record(id: &str) -> StoredConversation {
        let mut c = Conversation::new(id.parse().expect("id"));
        c.show_name = "Ann".into();
        c.face_url = "https://x/y.png".into();
        c.order_key = u64::MAX - 3;
        c.is_pinned = true;
        c.marks = MarkFlags::from_bits_retain(1 << 63 | 1);
        c.custom_data = CustomData::new(vec![0xff, 0, 0x41]);
        c.group_type = Some(GroupType::Unknown(77));
        c.receive_option = ReceiveOption::NotNotify;
        c.last_message = Some(Message::text("m1", "hi"));
        c.draft = Some(Box::new(Draft::new(Message::text("", "unsent"), "u", 5)));
        c.group_at_info = vec![GroupAtInfo {
            seq: 3,
            at_type: GroupAtType::AtAll,
        }];
        c.groups = vec!["work".into(), "friends".into()];
        c.c2c_read_timestamp = 9;
        c.group_read_sequence = 10;
        c.unread_count = 2;
        StoredConversation {
            conversation: c,
            unread_messages: vec![
                UnreadMessage {
                    key: "k\"1".into(),
                    position: 11,
                },
                UnreadMessage {
                    key: "k2".into(),
                    position: 12,
                },
            ],
        }
    }

    #[test]
    fn entries_round_trip() -> Result<()> {
        let full = record("group_g1");
        let bare = StoredConversation::new(Conversation::new("c2c_b".parse()?));
        let gone = Tombstone {
            id: "c2c_gone".parse()?,
            last_message: [1, 2, 3],
            clear_messages: false,
        };
        let bytes = encode_entry(std::slice::from_ref(&gone), &[full.clone(), bare.clone()])?;
        let entry = decode_entry(&bytes)?;
        assert_eq!(entry.deletes, ["c2c_gone"]);
        let mut rows = entry.upserts.into_iter();
        let a = rows.next().expect("first record");
        assert_eq!(a.groups, ["work", "friends"]);
        assert_eq!(a.into_stored_with_groups()?, full);
        let b = rows.next().expect("second record");
        assert_eq!(b.into_stored_with_groups()?, bare);
        assert!(rows.next().is_none());
        Ok(())
    }

    #[test]
    fn damaged_entries_are_corrupt_not_panics() -> Result<()> {
        let bytes = encode_entry(&[], &[record("c2c_a")])?;
        for cut in 0..bytes.len() {
            assert!(matches!(
                decode_entry(&bytes[..cut]),
                Err(Error::CorruptDatabase(_))
            ));
        }
        let mut versioned = bytes.clone();
        versioned[0] = 9;
        assert!(decode_entry(&versioned).is_err());
        Ok(())
    }
}
