//! Loading everything a manager needs, as fast as reading the rows.
//!
//! The rows are read on a connection of their own (a file's store opens one for the load and
//! closes it after), in one read transaction, so the load sees one committed state; a file's
//! unread entries are read at the same time on a second one. sqlx copies each row out of
//! SQLite on its connection's thread; the records are decoded meanwhile, in batches on the
//! runtime's blocking threads, so reading and decoding run side by side. The copies are all
//! kept until the scan is done and freed then, on a blocking thread while the rest is read:
//! freed one by one while the connection's thread still allocates the next ones, they cost as
//! much again (both threads contend for the allocator), and once the load connection is closed
//! the allocator can give the memory back.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use futures::TryStreamExt;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{Connection, Row};
use tokio::task::JoinHandle;

use super::log::RecordLog;
use super::{TombstoneRow, db_error, from_sql, parse_id, record, small};
use crate::error::{Error, Result};
use crate::model::{Conversation, ConversationId, GroupType, ReceiveOption};
use crate::store::{KeptSettings, Snapshot, SyncRecord, Tombstone, UnreadEntry};

/// Records decoded per task.
const DECODE_BATCH: usize = 1_024;

/// The rows of one batch and what they decoded to.
type Decoded = (Result<Vec<Arc<Conversation>>>, Vec<SqliteRow>);

/// Decodes the records of `rows` (their headers read already); hands the rows back.
fn decode_batch(rows: Vec<(ConversationId, SqliteRow)>) -> Decoded {
    let mut records = Vec::with_capacity(rows.len());
    let mut kept = Vec::with_capacity(rows.len());
    let mut result = Ok(());
    for (id, row) in rows {
        if result.is_ok() {
            result = row
                .try_get::<&[u8], _>(0)
                .map_err(db_error)
                .and_then(record::header)
                .and_then(|(_, _, body)| record::decode(id, body))
                .map(|c| records.push(Arc::new(c)));
        }
        kept.push(row);
    }
    (result.map(|()| records), kept)
}

async fn joined(
    task: JoinHandle<Decoded>,
    into: &mut Vec<Arc<Conversation>>,
    rows: &mut Vec<SqliteRow>,
) -> Result<()> {
    let (records, batch) = task
        .await
        .map_err(|e| Error::Internal(format!("decoding records: {e}")))?;
    rows.extend(batch);
    into.extend(records?);
    Ok(())
}

/// The records of every live conversation, newest row first, read through `conn` into `log`;
/// and the rows read, to be freed.
async fn scan(
    conn: &mut SqliteConnection,
    deleted_at: &HashMap<ConversationId, i64>,
    log: &mut RecordLog,
) -> Result<(Vec<Arc<Conversation>>, Vec<SqliteRow>)> {
    let mut conversations = Vec::new();
    let mut kept: Vec<SqliteRow> = Vec::new();
    let mut rows = sqlx::query("SELECT record FROM records ORDER BY seq DESC").fetch(conn);
    let mut batch = Vec::with_capacity(DECODE_BATCH);
    let mut decoding = VecDeque::new();
    while let Some(row) = rows.try_next().await.map_err(db_error)? {
        let bytes: &[u8] = row.try_get(0).map_err(db_error)?;
        let (seq, id, _) = record::header(bytes)?;
        let id = parse_id(id, "record")?;
        let deleted_seq = deleted_at.get(&id).copied().unwrap_or(0);
        if !log.loaded(&id, seq, deleted_seq) {
            kept.push(row);
            continue;
        }
        batch.push((id, row));
        if batch.len() == DECODE_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(DECODE_BATCH));
            decoding.push_back(tokio::task::spawn_blocking(move || decode_batch(full)));
            // Collect finished batches as we go, so that a failure stops the load.
            while decoding.front().is_some_and(JoinHandle::is_finished) {
                if let Some(done) = decoding.pop_front() {
                    joined(done, &mut conversations, &mut kept).await?;
                }
            }
        }
    }
    let (records, rest) = decode_batch(batch);
    kept.extend(rest);
    conversations.extend(records?);
    for pending in decoding {
        joined(pending, &mut conversations, &mut kept).await?;
    }
    Ok((conversations, kept))
}

/// Every unread entry, read through `conn` in one value (there may be as many as there are
/// messages) and parsed on a blocking thread.
async fn unread_entries(conn: &mut SqliteConnection) -> Result<Vec<UnreadEntry>> {
    let entries: Option<String> = sqlx::query_scalar(
        "SELECT json_group_array(json_array(id, conversation, message_key, position)) \
         FROM unread_entries",
    )
    .fetch_one(conn)
    .await
    .map_err(db_error)?;
    tokio::task::spawn_blocking(move || {
        let entries: Vec<(i64, &str, String, i64)> =
            serde_json::from_str(entries.as_deref().unwrap_or("[]"))
                .map_err(|e| Error::corrupt_because("unread entries", e))?;
        entries
            .into_iter()
            .map(|(id, conversation, key, position)| {
                Ok(UnreadEntry::new(
                    from_sql(id),
                    parse_id(conversation, "unread entry")?,
                    key,
                    from_sql(position),
                ))
            })
            .collect()
    })
    .await
    .map_err(|e| Error::Internal(format!("parsing unread entries: {e}")))?
}

/// Reads the whole store through `conn`, and the record log it describes; the unread entries
/// through `side` if given, at the same time.
///
/// `side` must see the same committed state as `conn`: no commit may run during the load.
pub(super) async fn read(
    conn: &mut SqliteConnection,
    side: Option<&mut SqliteConnection>,
) -> Result<(Snapshot, RecordLog)> {
    let mut tx = conn.begin().await.map_err(db_error)?;
    let mut snapshot = Snapshot::default();
    let rows: Vec<TombstoneRow> = sqlx::query_as(
        "SELECT id, last_position, last_server_time, last_seq, clear_messages, deleted_seq \
         FROM tombstones",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error)?;
    let mut deleted_at = HashMap::with_capacity(rows.len());
    let mut above = 0;
    for row in rows {
        let id = parse_id(&row.id, "tombstone")?;
        above = above.max(row.deleted_seq);
        deleted_at.insert(id.clone(), row.deleted_seq);
        snapshot.tombstones.push(Tombstone::new(
            id,
            [
                from_sql(row.last_position),
                from_sql(row.last_server_time),
                from_sql(row.last_seq),
            ],
            row.clear_messages,
        ));
    }
    // Newest rows first: the first row of a conversation is its state; the rest are dead and
    // not decoded. One value per row: the record repeats its `seq` and ID.
    let mut log = RecordLog::loading(above);
    let scanned = scan(&mut tx, &deleted_at, &mut log);
    let (conversations, kept) = match side {
        // The unread entries beside the records, on a connection of their own.
        Some(side) => {
            let (scanned, unread) = tokio::try_join!(scanned, unread_entries(side))?;
            snapshot.unread = unread;
            scanned
        }
        None => {
            let scanned = scanned.await?;
            snapshot.unread = unread_entries(&mut tx).await?;
            scanned
        }
    };
    snapshot.conversations = conversations;
    // Freed beside the rest of the load, on a thread of its own.
    let freed = tokio::task::spawn_blocking(move || drop(kept));
    let rows: Vec<(String, i64, Option<i64>)> =
        sqlx::query_as("SELECT id, receive_option, group_type FROM kept_settings")
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
    for (id, receive_option, group_type) in rows {
        snapshot.settings.push(KeptSettings::new(
            parse_id(&id, "kept settings")?,
            ReceiveOption::from_u32(small("receive option", receive_option)?),
            group_type
                .map(|g| small("group type", g).map(GroupType::from_u32))
                .transpose()?,
        ));
    }
    snapshot.folders = sqlx::query_scalar("SELECT name FROM folders ORDER BY position")
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
    let order_clock: Option<i64> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'order_clock'")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
    snapshot.order_clock = order_clock.map_or(0, from_sql);
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as("SELECT key, value FROM sync_records")
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
    snapshot.sync_records = rows
        .into_iter()
        .map(|(key, value)| SyncRecord::new(from_sql(key), value))
        .collect();
    // By key as an unsigned number (SQL would order them as signed ones).
    snapshot.sync_records.sort_by_key(|r| r.key);
    snapshot.sync_state = sqlx::query_scalar("SELECT value FROM blobs WHERE key = 'sync_state'")
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.rollback().await.map_err(db_error)?;
    freed
        .await
        .map_err(|e| Error::Internal(format!("freeing the rows read: {e}")))?;
    Ok((snapshot, log))
}
