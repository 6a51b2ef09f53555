//! How a commit writes its rows: multi-row statements of a few fixed sizes, prepared once per
//! connection and reused after that (sqlx's statement cache keys them by their text).
//!
//! Rows are written in chunks of at most the largest size; a chunk uses the smallest statement
//! that holds it, and the rows it leaves unfilled are bound to NULL and skip themselves: an
//! insert takes its rows from `VALUES` through `WHERE column1 IS NOT NULL` (every first column
//! written is NOT NULL), and a NULL in an `IN` list matches nothing. So SQLite parses each
//! statement once per connection instead of once per commit, and a commit of any size takes a
//! few statements. The rows written are exactly those a plain multi-row `INSERT … VALUES` of
//! the same rows, in the same order, would write.
//!
//! The values of the next chunk are bound (and records packed) while SQLite writes the
//! chunk before it, on sqlx's connection thread.

use std::pin::pin;
use std::sync::{Arc, LazyLock};
use std::task::Poll;

use sqlx::sqlite::{SqliteArguments, SqliteConnection};
use sqlx::{Arguments, Encode, Sqlite, Type};

use super::log::RECORD_INSERT;
use super::{db_error, record, to_sql};
use crate::error::{Error, Result};
use crate::model::Conversation;
use crate::store::{Tombstone, UnreadEntry};

/// Rows per statement, smallest first.
const SIZES: [usize; 3] = [4, 32, 256];

/// The largest of [`SIZES`]: rows are written in chunks of at most this many.
const CHUNK: usize = SIZES[SIZES.len() - 1];

/// A statement over rows of `width` values, in each of the [`SIZES`].
#[derive(Debug)]
pub(super) struct Rows {
    width: usize,
    sql: [String; SIZES.len()],
}

impl Rows {
    /// `head`, the rows as `SELECT column1, … FROM (VALUES (?, …), …) WHERE column1 IS NOT
    /// NULL`, then `tail`.
    pub(super) fn insert(head: &str, width: usize, tail: &str) -> Self {
        let columns = (1..=width)
            .map(|i| format!("column{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = format!("({})", vec!["?"; width].join(","));
        Self {
            width,
            sql: SIZES.map(|size| {
                format!(
                    "{head}SELECT {columns} FROM (VALUES {}) WHERE column1 IS NOT NULL{tail}",
                    vec![row.as_str(); size].join(",")
                )
            }),
        }
    }

    /// `head` followed by the list `(?, …)` of keys.
    pub(super) fn any_of(head: &str) -> Self {
        Self {
            width: 1,
            sql: SIZES.map(|size| format!("{head}({})", vec!["?"; size].join(","))),
        }
    }

    /// The statement for a chunk of `rows` rows, and the rows it has.
    fn fitting(&self, rows: usize) -> (&str, usize) {
        let at = SIZES
            .iter()
            .position(|&s| s >= rows)
            .unwrap_or(SIZES.len() - 1);
        (&self.sql[at], SIZES[at])
    }
}

/// Appends one value to `args`.
pub(super) fn bind<'q, T: Encode<'q, Sqlite> + Type<Sqlite>>(
    args: &mut SqliteArguments,
    value: T,
) -> Result<()> {
    args.add(value)
        .map_err(|e| db_error(sqlx::Error::Encode(e)))
}

/// Writes `rows` through `statement`, `bind_row` adding the values of each.
pub(super) async fn write<T>(
    conn: &mut SqliteConnection,
    statement: &'static Rows,
    rows: &[T],
    mut bind_row: impl FnMut(&mut SqliteArguments, &T) -> Result<()>,
) -> Result<()> {
    let mut chunks = rows.chunks(CHUNK);
    let mut bound = |chunk: &[T]| -> Result<(&'static str, SqliteArguments)> {
        let (sql, size) = statement.fitting(chunk.len());
        let mut args = SqliteArguments::default();
        args.reserve(size * statement.width, 0);
        for row in chunk {
            bind_row(&mut args, row)?;
        }
        for _ in chunk.len() * statement.width..size * statement.width {
            bind(&mut args, None::<i64>)?;
        }
        Ok((sql, args))
    };
    let mut next = chunks.next().map(&mut bound).transpose()?;
    while let Some((sql, args)) = next.take() {
        let mut run = pin!(sqlx::query_with(sql, args).execute(&mut *conn));
        // The first poll hands the statement to the connection's thread; the next chunk is
        // bound while it runs there.
        let early = futures::poll!(run.as_mut());
        let following = chunks.next().map(&mut bound).transpose();
        match early {
            Poll::Ready(done) => done,
            Poll::Pending => run.await,
        }
        .map_err(db_error)?;
        next = following?;
    }
    Ok(())
}

/// Runs `statement` over `keys`, padded lists of keys in chunks.
pub(super) async fn any_of(
    conn: &mut SqliteConnection,
    statement: &'static Rows,
    keys: &[i64],
) -> Result<()> {
    write(conn, statement, keys, |args, &key| bind(args, key)).await
}

/// The record rows: `(seq, id, record)`.
pub(super) static RECORDS: LazyLock<Rows> = LazyLock::new(|| Rows::insert(RECORD_INSERT, 3, ""));

/// Tombstones, replacing those of the same conversations.
pub(super) static TOMBSTONES: LazyLock<Rows> = LazyLock::new(|| {
    Rows::insert(
        "INSERT INTO tombstones (id, last_position, last_server_time, last_seq, \
         clear_messages, deleted_seq) ",
        6,
        " ON CONFLICT(id) DO UPDATE SET last_position = excluded.last_position, \
         last_server_time = excluded.last_server_time, last_seq = excluded.last_seq, \
         clear_messages = excluded.clear_messages, deleted_seq = excluded.deleted_seq",
    )
});

/// Unread entries added: `(id, conversation, message_key, position)`.
pub(super) static UNREAD_ADDED: LazyLock<Rows> = LazyLock::new(|| {
    Rows::insert(
        "INSERT INTO unread_entries (id, conversation, message_key, position) ",
        4,
        "",
    )
});

/// Unread entries removed, by ID.
pub(super) static UNREAD_REMOVED: LazyLock<Rows> =
    LazyLock::new(|| Rows::any_of("DELETE FROM unread_entries WHERE id IN "));

/// Sync records removed, by key.
pub(super) static SYNC_REMOVED: LazyLock<Rows> =
    LazyLock::new(|| Rows::any_of("DELETE FROM sync_records WHERE key IN "));

/// Dead record rows deleted by compaction, by `seq`.
pub(super) static DEAD_RECORDS: LazyLock<Rows> =
    LazyLock::new(|| Rows::any_of("DELETE FROM records WHERE seq IN "));

/// Writes the tombstones of `change`, deleted at `deleted_seq`.
pub(super) async fn tombstones(
    conn: &mut SqliteConnection,
    deletes: &[Tombstone],
    deleted_seq: i64,
) -> Result<()> {
    write(conn, &TOMBSTONES, deletes, |args, t| {
        bind(args, t.id.shared())?;
        bind(args, to_sql(t.last_message[0]))?;
        bind(args, to_sql(t.last_message[1]))?;
        bind(args, to_sql(t.last_message[2]))?;
        bind(args, t.clear_messages)?;
        bind(args, deleted_seq)
    })
    .await
}

/// Packs and writes the records of `upserts` as the rows `seqs` (as many); the bytes written.
pub(super) async fn records(
    conn: &mut SqliteConnection,
    upserts: &[Arc<Conversation>],
    seqs: &[i64],
) -> Result<usize> {
    debug_assert_eq!(upserts.len(), seqs.len());
    let mut bytes = 0;
    let mut seqs = seqs.iter().copied();
    write(conn, &RECORDS, upserts, |args, c| {
        let seq = seqs
            .next()
            .ok_or_else(|| Error::Internal("a record without a seq".into()))?;
        let record = record::encode(seq, c)?;
        let id = c.id.shared();
        bytes += id.len() + record.len();
        bind(args, seq)?;
        bind(args, id)?;
        bind(args, record)
    })
    .await?;
    Ok(bytes)
}

/// Writes the unread entries added.
pub(super) async fn unread_added(conn: &mut SqliteConnection, added: &[UnreadEntry]) -> Result<()> {
    write(conn, &UNREAD_ADDED, added, |args, u| {
        bind(args, to_sql(u.id))?;
        bind(args, u.conversation.shared())?;
        bind(args, u.key.as_str())?;
        bind(args, to_sql(u.position))
    })
    .await
}
