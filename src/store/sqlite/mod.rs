//! [`SqliteStore`]: the durable [`Store`], a SQLite file through sqlx.
//!
//! WAL journaling, one writer connection, `BEGIN IMMEDIATE` for every commit, and the schema in
//! `migrations/` embedded with `sqlx::migrate!`. A commit writes a whole [`ChangeSet`] in one
//! transaction with a few multi-row statements, so a group of writes costs about as much as one.

mod options;
mod outbox;
mod rows;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite};

use super::{ChangeSet, GroupChange, Snapshot, Store, StoredConversation, Tombstone};
use crate::error::{Error, Result};
use rows::{
    CONVERSATION_COLUMN_COUNT, CONVERSATION_COLUMNS, CONVERSATION_UPDATE, ConversationRow,
    EncodedConversation, TombstoneRow, from_sql, to_sql,
};

pub use options::{SqliteStoreOptions, Synchronous};

/// The migrations compiled into the crate.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Rows per multi-row statement, well under SQLite's 32,766 bound parameters.
const ROWS_PER_STATEMENT: usize = 32_000 / CONVERSATION_COLUMN_COUNT;

/// SQLite's primary result codes this store tells apart.
const SQLITE_CORRUPT: i32 = 11;
const SQLITE_NOTADB: i32 = 26;

/// Maps a sqlx error: a damaged or foreign file is [`Error::CorruptDatabase`], the rest
/// [`Error::Store`].
fn db_error(err: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &err {
        let primary = db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .map(|c| c & 0xff);
        if matches!(primary, Some(SQLITE_CORRUPT | SQLITE_NOTADB)) {
            return Error::CorruptDatabase(db.message().to_owned());
        }
    }
    Error::store(err)
}

/// A [`Store`] in a SQLite database file (or in memory).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), timconv::Error> {
/// use timconv::{ConversationId, ConversationManager};
/// use timconv::store::SqliteStore;
///
/// let dir = std::env::temp_dir().join(format!("timconv-sqlite-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).map_err(timconv::Error::store)?;
/// let path = dir.join("conversations.db");
///
/// let manager = ConversationManager::builder()
///     .store(SqliteStore::open(&path).await?)
///     .open()
///     .await?;
/// manager.create_conversation(&ConversationId::c2c("alice")?).await?;
/// manager.shutdown().await?;
///
/// // Everything is still there after a restart.
/// let again = ConversationManager::builder().store(SqliteStore::open(&path).await?).open().await?;
/// assert_eq!(again.len(), 1);
/// # again.shutdown().await?;
/// # std::fs::remove_dir_all(&dir).map_err(timconv::Error::store)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens the database file at `path` with default [`SqliteStoreOptions`], creating it if
    /// needed.
    ///
    /// # Errors
    /// As [`SqliteStoreOptions::open`].
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        SqliteStoreOptions::new().filename(path).open().await
    }

    /// A private in-memory database.
    ///
    /// # Errors
    /// As [`SqliteStoreOptions::open`].
    pub async fn in_memory() -> Result<Self> {
        SqliteStoreOptions::new().in_memory().open().await
    }

    /// The newest schema version this crate writes.
    #[must_use]
    pub fn schema_version() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Runs `PRAGMA integrity_check`; `Ok` when SQLite reports the file intact.
    ///
    /// # Errors
    /// [`Error::CorruptDatabase`] with SQLite's findings, or the error that stopped the check.
    pub async fn check_integrity(&self) -> Result<()> {
        let findings: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        if findings.len() == 1 && findings[0] == "ok" {
            Ok(())
        } else {
            Err(Error::CorruptDatabase(findings.join("; ")))
        }
    }

    async fn open_with(options: SqliteStoreOptions) -> Result<Self> {
        let connect = match &options.filename {
            Some(path) => {
                prepare_file(path, &options).await?;
                SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(false)
                    .journal_mode(SqliteJournalMode::Wal)
            }
            None => SqliteConnectOptions::from_str("sqlite::memory:").map_err(db_error)?,
        };
        let connect = connect
            .synchronous(match options.synchronous {
                Synchronous::Normal => SqliteSynchronous::Normal,
                Synchronous::Full => SqliteSynchronous::Full,
                Synchronous::Extra => SqliteSynchronous::Extra,
            })
            // A group commit touches many pages: keep them cached (32 MiB) instead of reading
            // them back, and checkpoint the WAL every 16k pages rather than inside most commits.
            .pragma("cache_size", "-32768")
            .pragma("wal_autocheckpoint", "16384");
        // One connection: the manager has one writer, and reads are served from its index.
        // It never idles out, which also keeps an in-memory database alive.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(connect)
            .await
            .map_err(db_error)?;
        MIGRATOR.run(&pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(inner) => db_error(inner),
            other => Error::store(other),
        })?;
        tracing::debug!(
            path = ?options.filename,
            synchronous = options.synchronous.pragma(),
            "sqlite store open"
        );
        Ok(Self { pool })
    }

    async fn load_snapshot(&self) -> Result<Snapshot> {
        let mut members: HashMap<String, Vec<String>> = HashMap::new();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT conversation_id, group_name FROM conversation_group_members \
             ORDER BY conversation_id, position",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        for (conversation, group) in rows {
            members.entry(conversation).or_default().push(group);
        }
        let rows: Vec<ConversationRow> = sqlx::query_as(
            "SELECT id, order_key, is_pinned, marks, unread_count, receive_option, group_type, \
             show_name, face_url, custom_data, c2c_read_timestamp, group_read_sequence, \
             last_message, draft, group_at_info, unread_messages FROM conversations",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let conversations = rows
            .into_iter()
            .map(|row| {
                let groups = members.remove(row.id()).unwrap_or_default();
                row.into_stored(groups)
            })
            .collect::<Result<Vec<StoredConversation>>>()?;
        let tombstones = sqlx::query_as::<_, TombstoneRow>(
            "SELECT id, last_position, last_server_time, last_seq, clear_messages FROM tombstones",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(TombstoneRow::into_tombstone)
        .collect::<Result<Vec<Tombstone>>>()?;
        let groups: Vec<String> =
            sqlx::query_scalar("SELECT name FROM conversation_groups ORDER BY position")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
        let order_clock: Option<i64> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'order_clock'")
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        let (outbox, bookmark) = outbox::load(&self.pool).await?;
        Ok(Snapshot {
            conversations,
            tombstones,
            groups,
            order_clock: order_clock.map_or(0, from_sql),
            outbox,
            bookmark,
        })
    }

    async fn commit_change(&self, change: &ChangeSet) -> Result<()> {
        let upserts = change
            .upserts
            .iter()
            .map(EncodedConversation::new)
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)?;
        for chunk in change.deletes.chunks(ROWS_PER_STATEMENT) {
            let ids = || chunk.iter().map(|t| t.id.to_string());
            delete_where_in(&mut tx, "DELETE FROM conversations WHERE id IN ", ids()).await?;
            delete_where_in(
                &mut tx,
                "DELETE FROM conversation_group_members WHERE conversation_id IN ",
                ids(),
            )
            .await?;
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO tombstones (id, last_position, last_server_time, last_seq, \
                 clear_messages) ",
            );
            q.push_values(chunk, |mut b, t| {
                b.push_bind(t.id.to_string())
                    .push_bind(to_sql(t.last_message[0]))
                    .push_bind(to_sql(t.last_message[1]))
                    .push_bind(to_sql(t.last_message[2]))
                    .push_bind(t.clear_messages);
            });
            q.push(
                " ON CONFLICT(id) DO UPDATE SET last_position = excluded.last_position, \
                 last_server_time = excluded.last_server_time, last_seq = excluded.last_seq, \
                 clear_messages = excluded.clear_messages",
            );
            q.build().execute(&mut *tx).await.map_err(db_error)?;
        }
        for group in &change.groups {
            let query = match group {
                GroupChange::Created(name) => sqlx::query(
                    "INSERT INTO conversation_groups (position, name) \
                     VALUES ((SELECT COALESCE(MAX(position), 0) + 1 FROM conversation_groups), ?)",
                )
                .bind(name),
                GroupChange::Deleted(name) => {
                    sqlx::query("DELETE FROM conversation_groups WHERE name = ?").bind(name)
                }
                GroupChange::Renamed { from, to } => {
                    sqlx::query("UPDATE conversation_groups SET name = ? WHERE name = ?")
                        .bind(to)
                        .bind(from)
                }
            };
            query.execute(&mut *tx).await.map_err(db_error)?;
        }
        for chunk in upserts.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO conversations (");
            q.push(CONVERSATION_COLUMNS).push(") ");
            q.push_values(chunk, |mut b, c| {
                b.push_bind(c.id.as_str())
                    .push_bind(c.conv_type)
                    .push_bind(c.sort_key)
                    .push_bind(c.order_key)
                    .push_bind(c.is_pinned)
                    .push_bind(c.marks)
                    .push_bind(c.unread_count)
                    .push_bind(c.has_at_info)
                    .push_bind(c.receive_option)
                    .push_bind(c.group_type)
                    .push_bind(c.show_name.as_str())
                    .push_bind(c.face_url.as_str())
                    .push_bind(c.custom_data.as_slice())
                    .push_bind(c.c2c_read_timestamp)
                    .push_bind(c.group_read_sequence)
                    .push_bind(c.last_message.as_deref())
                    .push_bind(c.draft.as_deref())
                    .push_bind(c.group_at_info.as_str())
                    .push_bind(c.unread_messages.as_str());
            });
            q.push(" ON CONFLICT(id) DO UPDATE SET ")
                .push(CONVERSATION_UPDATE);
            q.build().execute(&mut *tx).await.map_err(db_error)?;
            delete_where_in(
                &mut tx,
                "DELETE FROM conversation_group_members WHERE conversation_id IN ",
                chunk.iter().map(|c| c.id.clone()),
            )
            .await?;
            let members: Vec<(&str, &str, i64)> = chunk
                .iter()
                .flat_map(|c| {
                    c.groups
                        .iter()
                        .zip(0_i64..)
                        .map(|(g, n)| (c.id.as_str(), g.as_str(), n))
                })
                .collect();
            for members in members.chunks(ROWS_PER_STATEMENT) {
                let mut q = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO conversation_group_members (conversation_id, group_name, position) ",
                );
                q.push_values(members, |mut b, (id, group, position)| {
                    b.push_bind(*id).push_bind(*group).push_bind(*position);
                });
                q.build().execute(&mut *tx).await.map_err(db_error)?;
            }
        }
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('order_clock', ?) \
             ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
        )
        .bind(to_sql(change.order_clock))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        outbox::commit(&mut tx, change).await?;
        tx.commit().await.map_err(db_error)
    }
}

/// Runs `statement` followed by `(?, ?, …)` over `ids`.
async fn delete_where_in(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    statement: &'static str,
    ids: impl Iterator<Item = String>,
) -> Result<()> {
    let mut q = QueryBuilder::<Sqlite>::new(statement);
    q.push("(");
    let mut list = q.separated(", ");
    let mut any = false;
    for id in ids {
        list.push_bind(id);
        any = true;
    }
    if !any {
        return Ok(());
    }
    q.push(")");
    q.build().execute(&mut **tx).await.map_err(db_error)?;
    Ok(())
}

/// Creates a missing database file with the configured permissions, or checks an existing one
/// without writing to it: it must be a SQLite database of a schema this crate knows.
async fn prepare_file(path: &Path, options: &SqliteStoreOptions) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(_) => check_existing(path).await,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && options.create_if_missing => {
            create_file(path, options.permissions)
        }
        Err(e) => Err(Error::store(e)),
    }
}

#[cfg(unix)]
fn create_file(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map(drop)
        .map_err(Error::store)
}

#[cfg(not(unix))]
fn create_file(path: &Path, _mode: u32) -> Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map(drop)
        .map_err(Error::store)
}

/// Reads an existing file read-only: a clear error if it is not a database, if it is another
/// application's database, or if a newer version of this crate wrote it. Nothing is written,
/// so a refused file stays as it was — except that a transaction interrupted by a crash is
/// rolled back first, as SQLite itself would on the next write.
async fn check_existing(path: &Path) -> Result<()> {
    match probe(path).await {
        Err(e) if is_hot_journal(&e) => {
            roll_back_interrupted_transaction(path).await?;
            probe(path).await.map_err(db_error)?
        }
        other => other.map_err(db_error)?,
    }
}

/// `SQLITE_READONLY_ROLLBACK`: a read-only connection met a journal it would have to roll back.
fn is_hot_journal(err: &sqlx::Error) -> bool {
    const SQLITE_READONLY_ROLLBACK: &str = "776";
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some(SQLITE_READONLY_ROLLBACK))
}

/// Opens the file read-write once, so SQLite rolls back the transaction a crash left half-done
/// (for instance while the file was being created): the file returns to its last commit.
async fn roll_back_interrupted_transaction(path: &Path) -> Result<()> {
    tracing::info!(?path, "rolling back a transaction interrupted by a crash");
    let options = SqliteConnectOptions::new().filename(path);
    let mut conn = sqlx::ConnectOptions::connect(&options)
        .await
        .map_err(db_error)?;
    let read = sqlx::query("SELECT COUNT(*) FROM sqlite_master")
        .fetch_one(&mut conn)
        .await
        .map_err(db_error);
    let _ = sqlx::Connection::close(conn).await;
    read.map(drop)
}

/// The verdict on an existing file from a read-only look (outer error: the look failed).
async fn probe(path: &Path) -> std::result::Result<Result<()>, sqlx::Error> {
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let mut conn = sqlx::ConnectOptions::connect(&options).await?;
    let verdict = async {
        let has_migrations: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&mut conn)
        .await?;
        if has_migrations == 0 {
            // A new, empty file becomes a store; somebody else's database is left alone.
            let tables: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'")
                    .fetch_one(&mut conn)
                    .await?;
            return Ok(if tables > 0 {
                Err(Error::CorruptDatabase(
                    "not a timconv database: it holds tables but no timconv schema".into(),
                ))
            } else {
                Ok(())
            });
        }
        let found: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&mut conn)
                .await?;
        let supported = SqliteStore::schema_version();
        Ok(match found {
            Some(found) if found > supported => Err(Error::UnsupportedSchema { found, supported }),
            _ => Ok(()),
        })
    }
    .await;
    let _ = sqlx::Connection::close(conn).await;
    verdict
}

impl Store for SqliteStore {
    fn load(&self) -> BoxFuture<'_, Result<Snapshot>> {
        self.load_snapshot().boxed()
    }

    fn commit<'a>(&'a self, change: &'a ChangeSet) -> BoxFuture<'a, Result<()>> {
        self.commit_change(change).boxed()
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        async move {
            self.pool.close().await;
            Ok(())
        }
        .boxed()
    }
}
