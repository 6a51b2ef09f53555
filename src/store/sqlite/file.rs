//! The database file before it is opened: one owner at a time, and only our own databases.
//!
//! **One owner.** A store file is held by one [`SqliteStore`](super::SqliteStore) at a time.
//! Opening takes an exclusive lock on a file beside it, `<database>-lock` (an advisory lock
//! of the operating system, held for as long as the store is open and released when it is
//! closed or its process ends, however it ends). A second open, in this process or another,
//! fails at once with [`Error::StoreInUse`] and touches neither file. The lock file holds the
//! process ID of the owner, for that error message; it may stay after the store is closed.
//!
//! **Only our databases.** An existing file must be empty (0 bytes: a new store) or a SQLite
//! database of a schema this crate knows; anything else is refused untouched: a file that
//! does not start with SQLite's header (a 1-byte file included), another application's
//! database, or one written by a newer version of this crate.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use sqlx::sqlite::SqliteConnectOptions;

use super::{SqliteStore, SqliteStoreOptions, db_error};
use crate::error::{Error, Result};

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The owner lock of a store file; released when dropped.
#[derive(Debug)]
pub(super) struct OwnerLock {
    _file: File,
}

/// `<database>-lock`.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-lock");
    PathBuf::from(name)
}

#[cfg(unix)]
fn open_options(mode: u32) -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    options.mode(mode);
    options
}

#[cfg(not(unix))]
fn open_options(_mode: u32) -> OpenOptions {
    OpenOptions::new()
}

/// Takes the owner lock of the store file `db` (blocking: run it off the runtime).
fn take_lock(db: &Path, mode: u32) -> Result<OwnerLock> {
    let path = lock_path(db);
    let mut file = open_options(mode)
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| match e.kind() {
            // Its directory is missing: say which file the caller asked for.
            std::io::ErrorKind::NotFound => Error::io("open", db, e),
            _ => Error::io("create", &path, e),
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(Error::StoreInUse {
                path: db.to_path_buf(),
                holder: holder.trim().parse().ok(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
    }
    // Ours now: say who holds it (best effort, only for the error message of others).
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| write!(file, "{}", std::process::id()));
    Ok(OwnerLock { _file: file })
}

/// What an existing store file is, from its first bytes.
enum Found {
    /// Missing or empty: a new store.
    New,
    /// A SQLite database, to be looked at more closely.
    Database,
}

/// Locks the store file and checks what it is, creating it if it is missing and allowed
/// (blocking: run it off the runtime).
fn lock_and_inspect(path: &Path, options: &SqliteStoreOptions) -> Result<(OwnerLock, Found)> {
    let lock = take_lock(path, options.permissions)?;
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !options.create_if_missing {
                return Err(Error::io("open", path, e));
            }
            open_options(options.permissions)
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| Error::io("create", path, e))?;
            return Ok((lock, Found::New));
        }
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let mut header = [0u8; 16];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read", path, e)),
        }
    }
    match read {
        0 => Ok((lock, Found::New)),
        16 if &header == SQLITE_HEADER => Ok((lock, Found::Database)),
        n => Err(Error::corrupt(format!(
            "{} is not a SQLite database ({} bytes starting {:02x?})",
            path.display(),
            if n < 16 { n.to_string() } else { "16+".into() },
            &header[..n.min(4)]
        ))),
    }
}

/// Locks the store file, then checks an existing one read-only: it must be a database of a
/// schema this crate knows. Nothing is written to a refused file.
pub(super) async fn prepare(path: &Path, options: &SqliteStoreOptions) -> Result<OwnerLock> {
    let (owned_path, owned_options) = (path.to_path_buf(), options.clone());
    let (lock, found) =
        tokio::task::spawn_blocking(move || lock_and_inspect(&owned_path, &owned_options))
            .await
            .map_err(|e| Error::Internal(format!("preparing the store file: {e}")))??;
    if let Found::Database = found {
        check_existing(path).await?;
    }
    Ok(lock)
}

/// Reads an existing database read-only: a clear error if it is another application's, or if a
/// newer version of this crate wrote it. A transaction interrupted by a crash is rolled back
/// first, as SQLite itself would on the next write.
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
            // A database without tables becomes a store; somebody else's is left alone.
            let tables: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'")
                    .fetch_one(&mut conn)
                    .await?;
            return Ok(if tables > 0 {
                Err(Error::corrupt(
                    "not a timconv database: it holds tables but no timconv schema",
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
