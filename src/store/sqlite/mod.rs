//! [`SqliteStore`]: the durable [`Store`], a SQLite file through sqlx.
//!
//! WAL journaling, one writer connection, `BEGIN IMMEDIATE` for every commit, and the schema in
//! `migrations/` embedded with `sqlx::migrate!`.
//!
//! A commit appends its conversations, packed into one value, to the journal table
//! `conversation_log` (tombstones, group names and the order clock go to their tables), all in
//! one transaction: a group of writes costs one sequential append however scattered its
//! conversations are over the file. The journal is folded into `conversations` later, in
//! chunks of whole entries, each in its own transaction: when the manager's writer is idle
//! ([`Store::idle`]), before a commit once it holds [`JOURNAL_LIMIT`] records, and entirely at
//! [`close`](Store::close). A load reads the journal first: a conversation's newest entry
//! replaces its row (which is then not decoded at all), so a load costs about the same with or
//! without a journal.

mod options;
mod outbox;
mod rows;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;
use futures::{FutureExt, TryStreamExt};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite};

use super::{ChangeSet, GroupChange, Snapshot, Store, Tombstone};
use crate::error::{Error, Result};
use rows::{
    CONVERSATION_COLUMN_COUNT, CONVERSATION_COLUMNS, CONVERSATION_UPDATE, LOAD_SELECT, RowRef,
    TombstoneRow, decode_entry, encode_entry, from_sql, to_sql,
};

pub use options::{SqliteStoreOptions, Synchronous};

/// The migrations compiled into the crate.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Rows per multi-row statement, well under SQLite's 32,766 bound parameters.
const ROWS_PER_STATEMENT: usize = 32_000 / CONVERSATION_COLUMN_COUNT;

/// Records in the journal from which an idle writer folds it (below, a fold would cost more
/// than it saves; a close folds whatever is left).
const FOLD_WHEN_IDLE: usize = 64;

/// Records folded per step while idle (whole entries, so a step may take up to one entry
/// more): a write that arrives meanwhile waits for the step. A step rewrites about one table
/// page per conversation until it covers a good part of the table, so bigger steps cost less
/// per record.
const FOLD_STEP: usize = 4_096;

/// Records folded per step when the journal is full (writes never pause) and at close.
const FOLD_STEP_LARGE: usize = 131_072;

/// Records the journal may hold: above it, a commit first folds a step (the journal, and with it
/// the file's size and the work of a load, stay bounded under writes that never pause).
pub(crate) const JOURNAL_LIMIT: usize = 262_144;

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
    /// Records (upserted or deleted conversations) in the journal, not folded yet.
    journaled: Arc<AtomicUsize>,
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
        let journaled: i64 =
            sqlx::query_scalar("SELECT COALESCE(SUM(records), 0) FROM conversation_log")
                .fetch_one(&pool)
                .await
                .map_err(db_error)?;
        tracing::debug!(
            path = ?options.filename,
            synchronous = options.synchronous.pragma(),
            journaled,
            "sqlite store open"
        );
        Ok(Self {
            pool,
            journaled: Arc::new(AtomicUsize::new(usize::try_from(journaled).unwrap_or(0))),
        })
    }

    /// Records in the journal, not folded into `conversations` yet.
    fn journaled(&self) -> usize {
        self.journaled.load(Ordering::Acquire)
    }

    async fn load_snapshot(&self) -> Result<Snapshot> {
        // The journal first: the newest entry of a conversation replaces its row.
        let entries: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT entry FROM conversation_log ORDER BY seq")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
        // Each journaled conversation's newest state (`None`: deleted), and where it is.
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
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        for (conversation, group) in rows {
            members.entry(conversation).or_default().push(group);
        }
        let capacity: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(rowid), 0) FROM conversations")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        let mut conversations =
            Vec::with_capacity(usize::try_from(capacity).unwrap_or(0).min(1 << 24));
        // Rows are decoded as sqlx's connection thread steps through the table (in parallel),
        // straight from its copies of the values. sqlx's copies are freed afterwards, on a
        // blocking thread: freeing them here would contend with the connection thread's
        // allocations for SQLite's allocator lock on every value.
        let mut read = Vec::with_capacity(conversations.capacity());
        // Journaled records are decoded between table rows (one per row), while the connection
        // thread steps: the rows they replace are not decoded at all.
        let mut pending = newest.into_iter().flatten();
        let mut rows = sqlx::query(LOAD_SELECT).fetch(&self.pool);
        while let Some(sql_row) = rows.try_next().await.map_err(db_error)? {
            let row = RowRef::from_sql_row(&sql_row)?;
            if journaled.is_empty() || !journaled.contains_key(row.id) {
                let groups = if members.is_empty() {
                    Vec::new()
                } else {
                    members.remove(row.id).unwrap_or_default()
                };
                conversations.push(row.into_stored(groups)?);
            }
            read.push(sql_row);
            if let Some(row) = pending.next() {
                conversations.push(row.into_stored_with_groups()?);
            }
        }
        drop(rows);
        free_elsewhere(read);
        for row in pending {
            conversations.push(row.into_stored_with_groups()?);
        }
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
        while self.journaled() >= JOURNAL_LIMIT {
            self.fold_step(FOLD_STEP_LARGE).await?;
        }
        let records = change.upserts.len() + change.deletes.len();
        let entry = if records == 0 {
            None
        } else {
            Some(encode_entry(&change.deletes, &change.upserts)?)
        };
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)?;
        for chunk in change.deletes.chunks(ROWS_PER_STATEMENT) {
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
        if let Some(entry) = entry {
            sqlx::query("INSERT INTO conversation_log (records, entry) VALUES (?, ?)")
                .bind(i64::try_from(records).unwrap_or(i64::MAX))
                .bind(entry)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
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
        tx.commit().await.map_err(db_error)?;
        self.journaled.fetch_add(records, Ordering::AcqRel);
        Ok(())
    }

    /// Folds the oldest entries of the journal (about `step` records, whole entries)
    /// into `conversations` in one transaction: each conversation's newest state among them is
    /// written (or its row deleted), then the entries are removed. Returns the records left.
    async fn fold_step(&self, step: usize) -> Result<usize> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)?;
        let sizes: Vec<(i64, i64)> =
            sqlx::query_as("SELECT seq, records FROM conversation_log ORDER BY seq")
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
        let total: usize = sizes
            .iter()
            .map(|(_, n)| usize::try_from(*n).unwrap_or(0))
            .sum();
        let mut folded = 0;
        let mut last = None;
        for (seq, n) in &sizes {
            if folded >= step {
                break;
            }
            folded += usize::try_from(*n).unwrap_or(0);
            last = Some(*seq);
        }
        let Some(last) = last else {
            tx.rollback().await.map_err(db_error)?;
            self.journaled.store(0, Ordering::Release);
            return Ok(0);
        };
        let entries: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT entry FROM conversation_log WHERE seq <= ? ORDER BY seq")
                .bind(last)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
        // Each conversation's newest state in these entries (`None`: deleted), in the order
        // conversations first appear (new rows are appended in the order they were written).
        let mut states: Vec<(&str, Option<RowRef<'_>>)> = Vec::new();
        let mut at: HashMap<&str, usize> = HashMap::new();
        for entry in &entries {
            let entry = decode_entry(entry)?;
            let rows = entry
                .deletes
                .into_iter()
                .map(|id| (id, None))
                .chain(entry.upserts.into_iter().map(|row| (row.id, Some(row))));
            for (id, state) in rows {
                match at.get(id) {
                    Some(&n) => states[n].1 = state,
                    None => {
                        at.insert(id, states.len());
                        states.push((id, state));
                    }
                }
            }
        }
        let (upserts, deletes): (Vec<_>, Vec<_>) =
            states.into_iter().partition(|(_, row)| row.is_some());
        let deleted: Vec<&str> = deletes.into_iter().map(|(id, _)| id).collect();
        let upserts: Vec<RowRef<'_>> = upserts.into_iter().filter_map(|(_, row)| row).collect();
        for chunk in deleted.chunks(ROWS_PER_STATEMENT) {
            let ids = || chunk.iter().map(|id| (*id).to_owned());
            delete_where_in(&mut tx, "DELETE FROM conversations WHERE id IN ", ids()).await?;
            delete_where_in(
                &mut tx,
                "DELETE FROM conversation_group_members WHERE conversation_id IN ",
                ids(),
            )
            .await?;
        }
        for chunk in upserts.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO conversations (");
            q.push(CONVERSATION_COLUMNS).push(") VALUES ");
            for (n, row) in chunk.iter().enumerate() {
                if n > 0 {
                    q.push(", ");
                }
                q.push("(");
                let mut b = q.separated(", ");
                row.bind(&mut b)?;
                q.push(")");
            }
            q.push(" ON CONFLICT(id) DO UPDATE SET ")
                .push(CONVERSATION_UPDATE);
            q.build().execute(&mut *tx).await.map_err(db_error)?;
            delete_where_in(
                &mut tx,
                "DELETE FROM conversation_group_members WHERE conversation_id IN ",
                chunk.iter().map(|row| row.id.to_owned()),
            )
            .await?;
            let members: Vec<(&str, &str, i64)> = chunk
                .iter()
                .flat_map(|row| row.groups.iter().zip(0_i64..).map(|(g, n)| (row.id, *g, n)))
                .collect();
            for members in members.chunks(ROWS_PER_STATEMENT) {
                let mut q = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO conversation_group_members (conversation_id, group_name, position) ",
                );
                q.push_values(members, |mut b, (id, group, position)| {
                    b.push_bind((*id).to_owned())
                        .push_bind((*group).to_owned())
                        .push_bind(*position);
                });
                q.build().execute(&mut *tx).await.map_err(db_error)?;
            }
        }
        sqlx::query("DELETE FROM conversation_log WHERE seq <= ?")
            .bind(last)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        let left = total.saturating_sub(folded);
        self.journaled.store(left, Ordering::Release);
        tracing::trace!(folded, left, "sqlite journal folded");
        Ok(left)
    }

    /// Folds the whole journal into `conversations`.
    async fn fold_all(&self) -> Result<()> {
        while self.journaled() > 0 {
            self.fold_step(FOLD_STEP_LARGE).await?;
        }
        Ok(())
    }
}

/// Drops `values` on a blocking thread of the runtime (inline outside one).
fn free_elsewhere<T: Send + 'static>(values: Vec<T>) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(move || drop(values))),
        Err(_) => drop(values),
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

    fn idle(&self) -> BoxFuture<'_, Result<bool>> {
        async move {
            if self.journaled() < FOLD_WHEN_IDLE {
                return Ok(false);
            }
            Ok(self.fold_step(FOLD_STEP).await? >= FOLD_WHEN_IDLE)
        }
        .boxed()
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        async move {
            let folded = self.fold_all().await;
            self.pool.close().await;
            folded
        }
        .boxed()
    }
}
