//! The sync outbox and bookmark in SQLite (schema v4): loaded with the rest, written in the
//! same transaction as the change they belong to.

use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use super::{db_error, from_sql, to_sql};
use crate::error::{Error, Result};
use crate::store::{ChangeSet, OutboxEntry};
use crate::transport::{Bookmark, OpId, Operation, PendingOperation};

/// Rows per multi-row outbox statement (3 parameters each).
const ROWS_PER_STATEMENT: usize = 300;

/// The outbox, by increasing `seq`, and the bookmark.
pub(super) async fn load(pool: &SqlitePool) -> Result<(Vec<OutboxEntry>, Option<Bookmark>)> {
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT seq, op_id, operation FROM sync_outbox ORDER BY seq")
            .fetch_all(pool)
            .await
            .map_err(db_error)?;
    let outbox = rows
        .into_iter()
        .map(|(seq, id, operation)| {
            let op: Operation = serde_json::from_str(&operation).map_err(|e| {
                Error::CorruptDatabase(format!("sync outbox entry {seq} ({id}): {e}"))
            })?;
            Ok(OutboxEntry {
                seq: from_sql(seq),
                operation: PendingOperation { id: OpId(id), op },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let bookmark: Option<String> =
        sqlx::query_scalar("SELECT value FROM sync_state WHERE key = 'bookmark'")
            .fetch_optional(pool)
            .await
            .map_err(db_error)?;
    Ok((outbox, bookmark.map(Bookmark)))
}

/// Writes the outbox and bookmark part of `change` inside the open transaction `tx`.
pub(super) async fn commit(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    change: &ChangeSet,
) -> Result<()> {
    for chunk in change.outbox_removed.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new("DELETE FROM sync_outbox WHERE seq IN (");
        let mut list = q.separated(", ");
        for seq in chunk {
            list.push_bind(to_sql(*seq));
        }
        q.push(")");
        q.build().execute(&mut **tx).await.map_err(db_error)?;
    }
    for chunk in change.outbox_added.chunks(ROWS_PER_STATEMENT) {
        let rows = chunk
            .iter()
            .map(|e| {
                let json = serde_json::to_string(&e.operation.op)
                    .map_err(|err| Error::Internal(format!("encoding an operation: {err}")))?;
                Ok((to_sql(e.seq), e.operation.id.0.as_str(), json))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO sync_outbox (seq, op_id, operation) ");
        q.push_values(rows, |mut b, (seq, id, json)| {
            b.push_bind(seq).push_bind(id).push_bind(json);
        });
        q.build().execute(&mut **tx).await.map_err(db_error)?;
    }
    if let Some(bookmark) = &change.bookmark {
        sqlx::query(
            "INSERT INTO sync_state (key, value) VALUES ('bookmark', ?) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(bookmark.0.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}
