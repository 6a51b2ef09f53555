//! [`SqliteStore`]: the durable [`Store`], a SQLite file through sqlx.
//!
//! WAL journaling, one writer connection, `BEGIN IMMEDIATE` for every commit, and the schema in
//! `migrations/` embedded with `sqlx::migrate!`. The pieces:
//!
//! - `file.rs`: one owner per file, and refusing files that are not our databases;
//! - `log.rs`: the record log, how conversations are kept (an append per write, dead rows
//!   compacted later), with its format and invariants;
//! - `record.rs`: how one record is packed;
//! - `write.rs`: the statements a commit writes its rows with;
//! - `upkeep.rs`: compaction and checkpoints, in the background, in bounded steps;
//! - `legacy.rs`: converting a file of schema version 4.
//!
//! Unread entries, tombstones, kept settings, the folder list, the order clock and the sync
//! data have plain tables of their own, written in the same transaction as the records.

mod file;
mod legacy;
mod load;
mod log;
mod options;
mod record;
mod upkeep;
mod write;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::Notify;

use super::{ChangeSet, Snapshot, Store};
use crate::error::{Error, Result};
use crate::model::ConversationId;
use file::OwnerLock;
use log::RecordLog;
use upkeep::{Activity, COMPACT_STEP, Work};

pub use options::{SqliteStoreOptions, Synchronous};

/// The migrations compiled into the crate.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// SQLite's primary result codes this store tells apart: a damaged or foreign file...
const SQLITE_CORRUPT: i32 = 11;
const SQLITE_NOTADB: i32 = 26;
/// ...and a file that could not be read, written or opened.
const SQLITE_READONLY: i32 = 8;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;

/// SQLite's primary result code of a database error.
fn primary_code(err: &sqlx::Error) -> Option<i32> {
    match err {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .map(|c| c & 0xff),
        _ => None,
    }
}

/// Maps a sqlx error: a damaged or foreign file is [`Error::CorruptDatabase`], the rest
/// [`Error::Store`] (which [`at_path`] turns into [`Error::Io`] when it was file access).
fn db_error(err: sqlx::Error) -> Error {
    if matches!(primary_code(&err), Some(SQLITE_CORRUPT | SQLITE_NOTADB)) {
        return Error::corrupt_because("SQLite found the file damaged", Foreign(err));
    }
    Error::store(Foreign(err))
}

/// A failure of file access (a read or write that failed, a full disk, a file that cannot be
/// opened or written) becomes [`Error::Io`] (6022) naming the store file; every other error
/// stays as it is. Applied where the store's public calls return.
fn at_path(err: Error, path: Option<&Path>, what: &'static str) -> Error {
    match (err, path) {
        (Error::Store(source), Some(path)) if is_file_access(source.as_ref()) => Error::Io {
            what,
            path: path.to_path_buf(),
            source,
        },
        (err, _) => err,
    }
}

fn is_file_access(err: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    match err.downcast_ref::<Foreign<sqlx::Error>>() {
        Some(Foreign(sqlx::Error::Io(_))) => true,
        Some(Foreign(err)) => matches!(
            primary_code(err),
            Some(SQLITE_READONLY | SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN)
        ),
        None => false,
    }
}

/// Another crate's error (sqlx's), shown as it shows itself, but without the sources whose text
/// that already includes (sqlx prints its inner error in its own message and returns it as the
/// source too), so that a report of the chain prints each text once.
#[derive(Debug)]
pub(super) struct Foreign<E>(pub(super) E);

impl<E: std::fmt::Display> std::fmt::Display for Foreign<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: std::error::Error> std::error::Error for Foreign<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let shown = self.0.to_string();
        let mut source = self.0.source();
        while let Some(err) = source
            && shown.contains(&err.to_string())
        {
            source = err.source();
        }
        source
    }
}

/// SQLite stores signed 64-bit integers; u64 values keep their bits.
fn to_sql(v: u64) -> i64 {
    v as i64
}

fn from_sql(v: i64) -> u64 {
    v as u64
}

fn small(what: &str, v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::corrupt(format!("{what} out of range: {v}")))
}

/// A [`Store`] in a SQLite database file (or in memory).
///
/// A file is held by one store at a time: opening a file that another store holds, in this
/// process or another, fails at once with [`Error::StoreInUse`] and leaves it untouched (see
/// [`SqliteStoreOptions::open`] for what else is refused). Clones share the same store.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), timconv::Error> {
/// use timconv::{ConversationId, ConversationManager, SqliteStore};
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
///
/// // One owner at a time.
/// let second = SqliteStore::open(&path).await;
/// assert!(matches!(second, Err(timconv::Error::StoreInUse { .. })));
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
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: Option<PathBuf>,
    /// The one connection that writes (`None` once closed). A fair lock: commits and upkeep
    /// steps take it in the order they asked.
    conn: tokio::sync::Mutex<Option<SqliteConnection>>,
    /// The connection that checkpoints the WAL, beside the writer (files only).
    checkpointer: tokio::sync::Mutex<Option<SqliteConnection>>,
    log: Mutex<RecordLog>,
    activity: Mutex<Activity>,
    /// Wakes the upkeep task after each commit.
    signal: Arc<Notify>,
    closed: AtomicBool,
    owner: Mutex<Option<OwnerLock>>,
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
        let mut conn = self.inner.conn.lock().await;
        let conn = conn.as_mut().ok_or(Error::Closed)?;
        let findings: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?;
        if findings.len() == 1 && findings[0] == "ok" {
            Ok(())
        } else {
            Err(Error::corrupt(findings.join("; ")))
        }
    }

    async fn open_with(options: SqliteStoreOptions) -> Result<Self> {
        let path = options.filename.clone();
        Self::open_unlocated(options)
            .await
            .map_err(|e| at_path(e, path.as_deref(), "open"))
    }

    async fn open_unlocated(options: SqliteStoreOptions) -> Result<Self> {
        let synchronous = match options.synchronous {
            Synchronous::Normal => SqliteSynchronous::Normal,
            Synchronous::Full => SqliteSynchronous::Full,
            Synchronous::Extra => SqliteSynchronous::Extra,
        };
        let (connect, owner) = match &options.filename {
            Some(path) => {
                let owner = file::prepare(path, &options).await?;
                let connect = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(false)
                    .journal_mode(SqliteJournalMode::Wal);
                (connect, Some(owner))
            }
            None => (
                SqliteConnectOptions::from_str("sqlite::memory:").map_err(db_error)?,
                None,
            ),
        };
        // Commits append a few pages each; checkpoints run on their own connection, so the
        // writer never checkpoints inside a commit. The cache holds what compaction and a
        // burst touch (32 MiB).
        let writer = connect
            .clone()
            .synchronous(synchronous)
            .pragma("cache_size", "-32768")
            .pragma("wal_autocheckpoint", "0");
        let mut conn = writer.connect().await.map_err(db_error)?;
        // `run_direct` is what `run` calls once it holds a connection; called on a connection
        // directly it keeps the open future `Send` (sqlx's `Acquire` bound is not general
        // enough for that, sqlx's own comment says).
        MIGRATOR
            .run_direct(None, &mut conn, false)
            .await
            .map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(inner) => db_error(inner),
                other => Error::store(Foreign(other)),
            })?;
        legacy::convert(&mut conn).await?;
        // Where new rows start, before any load: above every row and every tombstone.
        let above: i64 = sqlx::query_scalar(
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM records), 0), \
                        COALESCE((SELECT MAX(deleted_seq) FROM tombstones), 0))",
        )
        .fetch_one(&mut conn)
        .await
        .map_err(db_error)?;
        let checkpointer = match &options.filename {
            Some(_) => Some(
                connect
                    .synchronous(synchronous)
                    .pragma("cache_size", "-1024")
                    .connect()
                    .await
                    .map_err(db_error)?,
            ),
            None => None,
        };
        tracing::debug!(
            path = ?options.filename,
            synchronous = options.synchronous.pragma(),
            "sqlite store open"
        );
        let signal = Arc::new(Notify::new());
        let inner = Arc::new(Inner {
            path: options.filename.clone(),
            conn: tokio::sync::Mutex::new(Some(conn)),
            checkpointer: tokio::sync::Mutex::new(checkpointer),
            log: Mutex::new(RecordLog::loading(above)),
            activity: Mutex::new(Activity::default()),
            signal: Arc::clone(&signal),
            closed: AtomicBool::new(false),
            owner: Mutex::new(owner),
        });
        tokio::spawn(upkeep::run(Arc::downgrade(&inner), signal));
        Ok(Self { inner })
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
    deleted_seq: i64,
}

fn parse_id(text: &str, what: &str) -> Result<ConversationId> {
    text.parse()
        .map_err(|e| Error::corrupt_because(format!("{what} id {text:?}"), e))
}

impl Inner {
    fn log(&self) -> MutexGuard<'_, RecordLog> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn activity(&self) -> MutexGuard<'_, Activity> {
        self.activity.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn next_work(&self) -> Work {
        let (live, dead) = {
            let log = self.log();
            (log.live(), log.dead())
        };
        upkeep::next_work(live, dead, &self.activity(), Instant::now())
    }

    async fn load(&self) -> Result<Snapshot> {
        // Held throughout: no commit or upkeep step runs during a load.
        let mut guard = self.conn.lock().await;
        let writer = guard.as_mut().ok_or(Error::Closed)?;
        let (snapshot, log) = match &self.path {
            Some(path) => {
                // Two connections of their own: the records on one, the unread entries beside
                // them on the other. Both see the same state: nothing commits while the writer
                // is held here, and the file's lock keeps other processes out.
                let reader = SqliteConnectOptions::new().filename(path).read_only(true);
                let (mut records, mut unread) =
                    tokio::try_join!(reader.connect(), reader.connect()).map_err(db_error)?;
                let read = load::read(&mut records, Some(&mut unread)).await;
                let _ = tokio::join!(records.close(), unread.close());
                read?
            }
            None => load::read(writer, None).await?,
        };
        tracing::debug!(
            conversations = log.live(),
            dead = log.dead(),
            unread = snapshot.unread.len(),
            "sqlite store loaded"
        );
        *self.log() = log;
        drop(guard);
        self.signal.notify_one();
        Ok(snapshot)
    }

    async fn commit(&self, change: &ChangeSet) -> Result<()> {
        // Commits come one at a time (the contract), so the rows can be planned before taking
        // the connection, which upkeep may be using; records are packed while SQLite writes
        // the rows before them.
        let plan = self.log().plan(change);
        let mut guard = self.conn.lock().await;
        let conn = guard.as_mut().ok_or(Error::Closed)?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)?;
        write::tombstones(&mut tx, &change.deletes, plan.deleted_seq).await?;
        let bytes = write::records(&mut tx, &change.upserts, &plan.seqs).await?;
        let removed: Vec<i64> = change.unread_removed.iter().map(|u| to_sql(u.id)).collect();
        write::any_of(&mut tx, &write::UNREAD_REMOVED, &removed).await?;
        write::unread_added(&mut tx, &change.unread_added).await?;
        for id in &change.settings_released {
            sqlx::query("DELETE FROM kept_settings WHERE id = ?")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        for s in &change.settings_kept {
            sqlx::query(
                "INSERT INTO kept_settings (id, receive_option, group_type) VALUES (?, ?, ?) \
                 ON CONFLICT(id) DO UPDATE SET receive_option = excluded.receive_option, \
                 group_type = excluded.group_type",
            )
            .bind(s.id.as_str())
            .bind(i64::from(s.receive_option.as_u32()))
            .bind(s.group_type.map(|g| i64::from(g.as_u32())))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        if let Some(folders) = &change.folders {
            sqlx::query("DELETE FROM folders")
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            for (position, name) in (1_i64..).zip(folders) {
                sqlx::query("INSERT INTO folders (position, name) VALUES (?, ?)")
                    .bind(position)
                    .bind(name.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
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
        let sync = &change.sync;
        let keys: Vec<i64> = sync.remove.iter().map(|k| to_sql(*k)).collect();
        write::any_of(&mut tx, &write::SYNC_REMOVED, &keys).await?;
        for r in &sync.put {
            sqlx::query(
                "INSERT INTO sync_records (key, value) VALUES (?, ?) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )
            .bind(to_sql(r.key))
            .bind(r.value.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        if let Some(state) = &sync.state {
            sqlx::query(
                "INSERT INTO blobs (key, value) VALUES ('sync_state', ?) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )
            .bind(state.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        self.log().commit(&plan, change);
        drop(guard);
        {
            let mut activity = self.activity();
            activity.last_commit = Some(Instant::now());
            activity.unchecked += bytes;
        }
        self.signal.notify_one();
        Ok(())
    }

    /// Deletes up to [`COMPACT_STEP`] of the oldest dead rows in one transaction; how many.
    async fn compact_step(&self) -> Result<usize> {
        let mut guard = self.conn.lock().await;
        let Some(conn) = guard.as_mut() else {
            return Ok(0);
        };
        let batch = self.log().oldest_dead(COMPACT_STEP);
        if batch.is_empty() {
            return Ok(0);
        }
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)?;
        write::any_of(&mut tx, &write::DEAD_RECORDS, &batch).await?;
        tx.commit().await.map_err(db_error)?;
        self.log().forget(&batch);
        self.activity().unchecked += batch.len() * 64;
        tracing::trace!(rows = batch.len(), "sqlite records compacted");
        Ok(batch.len())
    }

    /// Copies the WAL back into the database file, beside the writer.
    async fn checkpoint(&self) -> Result<()> {
        self.activity().unchecked = 0;
        let mut checkpointer = self.checkpointer.lock().await;
        if let Some(conn) = checkpointer.as_mut() {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut *conn)
                .await
                .map_err(db_error)?;
        }
        Ok(())
    }

    /// Finishes the upkeep, checkpoints the whole WAL and closes both connections; releases the
    /// file. A second call does nothing.
    async fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.signal.notify_one();
        let mut result = Ok(());
        loop {
            match self.compact_step().await {
                Ok(0) => break,
                Ok(_) => {}
                Err(err) => {
                    result = Err(err);
                    break;
                }
            }
        }
        if let Some(conn) = self.checkpointer.lock().await.take() {
            let _ = conn.close().await;
        }
        if let Some(mut conn) = self.conn.lock().await.take() {
            if self.path.is_some() && result.is_ok() {
                result = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&mut conn)
                    .await
                    .map(drop)
                    .map_err(db_error);
            }
            let closed = conn.close().await.map_err(db_error);
            result = result.and(closed);
        }
        self.owner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        result
    }
}

impl Store for SqliteStore {
    fn load(&self) -> BoxFuture<'_, Result<Snapshot>> {
        let path = self.inner.path.as_deref();
        self.inner
            .load()
            .map(move |r| r.map_err(|e| at_path(e, path, "read")))
            .boxed()
    }

    fn commit<'a>(&'a self, change: &'a ChangeSet) -> BoxFuture<'a, Result<()>> {
        let path = self.inner.path.as_deref();
        self.inner
            .commit(change)
            .map(move |r| r.map_err(|e| at_path(e, path, "write")))
            .boxed()
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        let path = self.inner.path.as_deref();
        self.inner
            .close()
            .map(move |r| r.map_err(|e| at_path(e, path, "close")))
            .boxed()
    }
}
