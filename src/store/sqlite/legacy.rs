//! Schema version 4, read once to convert it: the table of one row per conversation
//! (`conversations`, 16 columns, JSON payloads), the commit journal that had not been folded
//! into it yet (`conversation_log`), folder membership and names, and the sync outbox and
//! bookmark. [`convert`] turns all of it into the record log of version 5 in one
//! transaction and drops the old tables; nothing else reads this format.
//!
//! A journal entry (one commit) was packed as:
//!
//! ```text
//! entry   = version:u8 (1)  deleted:u32 id:str*  upserted:u32 record*
//! record  = id:str flags:u8 order_key:i64 marks:i64 unread_count:i64 receive_option:i64
//!           [group_type:i64] c2c_read_timestamp:i64 group_read_sequence:i64 show_name:str
//!           face_url:str custom_data:bytes [last_message:str] [draft:str] group_at_info:str
//!           unread_messages:str folders:u32 name:str*
//! str     = bytes holding UTF-8;  bytes = len:u32 byte*;  integers little-endian
//! flags   = 1 pinned | 2 group type | 4 last message | 8 draft
//! ```
//!
//! A conversation's state was its newest journal entry if it had one (an entry's deletes apply
//! before its upserts), else its row.

use std::collections::HashMap;

use futures::TryStreamExt;
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};

use super::log::RECORD_INSERT;
use super::{db_error, from_sql, record, to_sql};
use crate::error::{Error, Result};
use crate::model::{
    Conversation, ConversationId, CustomData, Draft, GroupAtInfo, GroupType, MarkFlags, Message,
    ReceiveOption,
};
use crate::sync::outbox::{OutboxDelta, OutboxEntry};
use crate::transport::{Bookmark, OpId, Operation, PendingOperation};

/// The tables of version 4, dropped once converted.
const OLD_TABLES: [&str; 6] = [
    "conversations",
    "conversation_log",
    "conversation_group_members",
    "conversation_groups",
    "sync_outbox",
    "sync_state",
];

/// The `SELECT` of the old rows: the columns [`RowRef::from_sql_row`] reads, in its order.
const LOAD_SELECT: &str = "SELECT id, order_key, is_pinned, marks, unread_count, \
    receive_option, group_type, show_name, face_url, custom_data, c2c_read_timestamp, \
    group_read_sequence, last_message, draft, group_at_info, unread_messages FROM conversations";

const ENTRY_VERSION: u8 = 1;
const FLAG_PINNED: u8 = 1;
const FLAG_GROUP_TYPE: u8 = 2;
const FLAG_LAST_MESSAGE: u8 = 4;
const FLAG_DRAFT: u8 = 8;

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::CorruptDatabase(what.to_string())
}

/// Converts a database of schema version 4 (its tables still there after migration 5 ran)
/// into the record log, in one transaction: every conversation's state becomes a record, its
/// unread messages unread entries, the folder names the folder list, the outbox and bookmark
/// sync data; then the old tables are dropped. Does nothing if they are gone already.
pub(super) async fn convert(conn: &mut SqliteConnection) -> Result<()> {
    let present: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'conversations'",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)?;
    if present == 0 {
        return Ok(());
    }
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)?;
    let records = read_conversations(&mut tx).await?;
    let converted = records.len();
    let mut unread_id: i64 = 0;
    for (chunk_start, chunk) in records.chunks(2_000).enumerate() {
        let base = i64::try_from(chunk_start * 2_000).unwrap_or(i64::MAX);
        let encoded = chunk
            .iter()
            .zip(1..)
            .map(|((c, _), n)| Ok((base + n, c.id.to_string(), record::encode(base + n, c)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut q = QueryBuilder::<Sqlite>::new(RECORD_INSERT);
        q.push_values(encoded, |mut b, (seq, id, bytes)| {
            b.push_bind(seq).push_bind(id).push_bind(bytes);
        });
        q.build().execute(&mut *tx).await.map_err(db_error)?;
        let unread: Vec<(i64, String, &str, i64)> = chunk
            .iter()
            .flat_map(|(c, unread)| {
                unread
                    .iter()
                    .map(move |(key, position)| (c.id.to_string(), key.as_str(), *position))
            })
            .map(|(id, key, position)| {
                unread_id += 1;
                (unread_id, id, key, to_sql(position))
            })
            .collect();
        for rows in unread.chunks(8_000) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO unread_entries (id, conversation, message_key, position) ",
            );
            q.push_values(rows, |mut b, (id, conversation, key, position)| {
                b.push_bind(*id)
                    .push_bind(conversation.clone())
                    .push_bind((*key).to_owned())
                    .push_bind(*position);
            });
            q.build().execute(&mut *tx).await.map_err(db_error)?;
        }
    }
    sqlx::query(
        "INSERT INTO folders (position, name) \
         SELECT ROW_NUMBER() OVER (ORDER BY position), name FROM conversation_groups",
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    convert_sync(&mut tx).await?;
    for table in OLD_TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
    }
    tx.commit().await.map_err(db_error)?;
    tracing::info!(
        conversations = converted,
        "converted the store to schema version 5"
    );
    Ok(())
}

/// Every conversation of version 4 with its unread messages: a journaled state replaces the
/// row (which is then not decoded).
async fn read_conversations(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
) -> Result<Vec<(Conversation, Vec<(String, u64)>)>> {
    let entries: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT entry FROM conversation_log ORDER BY seq")
            .fetch_all(&mut **tx)
            .await
            .map_err(db_error)?;
    // Each journaled conversation's newest state (`None`: deleted), in first-seen order.
    let mut journaled: HashMap<&str, usize> = HashMap::new();
    let mut newest: Vec<Option<RowRef<'_>>> = Vec::new();
    for entry in &entries {
        let entry = decode_entry(entry)?;
        let states = entry
            .deletes
            .into_iter()
            .map(|id| (id, None))
            .chain(entry.upserts.into_iter().map(|row| (row.id, Some(row))));
        for (id, state) in states {
            match journaled.get(id) {
                Some(&n) => newest[n] = state,
                None => {
                    journaled.insert(id, newest.len());
                    newest.push(state);
                }
            }
        }
    }
    let mut members: HashMap<String, Vec<String>> = HashMap::new();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT conversation_id, group_name FROM conversation_group_members \
         ORDER BY conversation_id, position",
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    for (conversation, group) in rows {
        members.entry(conversation).or_default().push(group);
    }
    let mut out = Vec::new();
    {
        let mut rows = sqlx::query(LOAD_SELECT).fetch(&mut **tx);
        while let Some(sql_row) = rows.try_next().await.map_err(db_error)? {
            let row = RowRef::from_sql_row(&sql_row)?;
            if !journaled.contains_key(row.id) {
                let groups = members.remove(row.id).unwrap_or_default();
                out.push(row.into_record(groups)?);
            }
        }
    }
    for row in newest.into_iter().flatten() {
        out.push(row.into_record_with_groups()?);
    }
    Ok(out)
}

/// The outbox and bookmark of version 4 as the sync layer's records and state.
async fn convert_sync(tx: &mut sqlx::Transaction<'_, Sqlite>) -> Result<()> {
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT seq, op_id, operation FROM sync_outbox ORDER BY seq")
            .fetch_all(&mut **tx)
            .await
            .map_err(db_error)?;
    let mut delta = OutboxDelta::default();
    for (seq, id, operation) in rows {
        let op: Operation = serde_json::from_str(&operation)
            .map_err(|e| corrupt(format!("sync outbox entry {seq} ({id}): {e}")))?;
        delta.added.push(OutboxEntry {
            seq: from_sql(seq),
            operation: PendingOperation { id: OpId(id), op },
        });
    }
    let bookmark: Option<String> =
        sqlx::query_scalar("SELECT value FROM sync_state WHERE key = 'bookmark'")
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
    delta.bookmark = bookmark.map(Bookmark);
    let sync = delta.to_store()?;
    for r in &sync.put {
        sqlx::query("INSERT INTO sync_records (key, value) VALUES (?, ?)")
            .bind(to_sql(r.key))
            .bind(r.value.as_slice())
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    if let Some(state) = &sync.state {
        sqlx::query("INSERT INTO blobs (key, value) VALUES ('sync_state', ?)")
            .bind(state.as_slice())
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// The values of one `conversations` row (and the record's group membership), borrowed.
struct RowRef<'a> {
    id: &'a str,
    order_key: i64,
    is_pinned: bool,
    marks: i64,
    unread_count: i64,
    receive_option: i64,
    group_type: Option<i64>,
    show_name: &'a str,
    face_url: &'a str,
    custom_data: &'a [u8],
    c2c_read_timestamp: i64,
    group_read_sequence: i64,
    last_message: Option<&'a str>,
    draft: Option<&'a str>,
    group_at_info: &'a str,
    unread_messages: &'a str,
    /// Membership, from the journal entry (rows of `conversations` keep it in
    /// `conversation_group_members`).
    folders: Vec<&'a str>,
}

impl<'a> RowRef<'a> {
    /// The values of a row of [`LOAD_SELECT`], borrowed from sqlx's copy (no second copy).
    fn from_sql_row(row: &'a sqlx::sqlite::SqliteRow) -> Result<Self> {
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
            folders: Vec::new(),
        })
    }

    /// The record, with its folder membership, and its unread messages as `(key, position)`;
    /// a row this crate could not have written is reported as a corrupt database.
    fn into_record(self, groups: Vec<String>) -> Result<(Conversation, Vec<(String, u64)>)> {
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
        let unread: Vec<(String, u64)> = if self.unread_messages == "[]" {
            Vec::new()
        } else {
            serde_json::from_str(self.unread_messages).map_err(|e| json("unread messages", e))?
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
        conversation.folders = groups;
        conversation.c2c_read_timestamp = from_sql(self.c2c_read_timestamp);
        conversation.group_read_sequence = from_sql(self.group_read_sequence);
        Ok((conversation, unread))
    }

    /// The record, with the membership the journal entry carries.
    fn into_record_with_groups(self) -> Result<(Conversation, Vec<(String, u64)>)> {
        let groups = self.folders.iter().map(|g| (*g).to_owned()).collect();
        self.into_record(groups)
    }
}

/// A journal entry, decoded (borrowing from its bytes).
struct Entry<'a> {
    deletes: Vec<&'a str>,
    upserts: Vec<RowRef<'a>>,
}

/// Reads a journal entry; anything else is a corrupt database.
fn decode_entry(bytes: &[u8]) -> Result<Entry<'_>> {
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
            folders: groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Arbitrary bytes decode to an entry or to a corrupt-database error: never a panic.
        #[test]
        fn arbitrary_journal_entries_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            if let Err(e) = decode_entry(&bytes) {
                prop_assert!(matches!(e, Error::CorruptDatabase(_)));
            }
        }
    }

    #[test]
    fn truncated_or_unknown_entries_are_corrupt() {
        // Version 1, no delete, one upsert whose record is cut short.
        let bytes = [1u8, 0, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0];
        for cut in 0..bytes.len() {
            assert!(matches!(
                decode_entry(&bytes[..cut]),
                Err(Error::CorruptDatabase(_))
            ));
        }
        assert!(decode_entry(&[9, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode_entry(&[1, 0, 0, 0, 0, 0, 0, 0, 0]).is_ok());
    }
}
