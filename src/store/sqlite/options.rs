//! [`SqliteStoreOptions`]: how to open a [`SqliteStore`](super::SqliteStore).

use std::path::{Path, PathBuf};

use crate::error::Result;

use super::SqliteStore;

/// How hard SQLite works to make each commit durable (`PRAGMA synchronous`).
///
/// In WAL mode, [`Normal`](Self::Normal) already survives a crash of the process (kill -9): an
/// acknowledged change is in the WAL. [`Full`](Self::Full) also survives losing power, at the
/// cost of an fsync per commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// `NORMAL`: durable across process crashes (the default).
    #[default]
    Normal,
    /// `FULL`: durable across power loss too.
    Full,
    /// `EXTRA`: as `FULL`, and also syncs the directory after deleting a journal.
    Extra,
}

crate::text::text_forms!(Synchronous, "synchronous mode" {
    Normal => "normal",
    Full => "full",
    Extra => "extra",
});

impl Synchronous {
    pub(super) fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
            Synchronous::Extra => "EXTRA",
        }
    }
}

/// Options for opening a [`SqliteStore`], in the style of sqlx's `SqliteConnectOptions`:
/// every knob typed, defaults documented.
///
/// | option | default |
/// |---|---|
/// | [`filename`](Self::filename) / [`in_memory`](Self::in_memory) | in memory |
/// | [`create_if_missing`](Self::create_if_missing) | `true` |
/// | [`synchronous`](Self::synchronous) | [`Synchronous::Normal`] |
/// | [`permissions`](Self::permissions) (new files, Unix) | `0o600` |
///
/// The store always uses WAL journaling, one writer connection and `BEGIN IMMEDIATE`
/// transactions.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), timconv::Error> {
/// use timconv::store::{SqliteStoreOptions, Synchronous};
///
/// let dir = std::env::temp_dir().join(format!("timconv-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).map_err(timconv::Error::store)?;
/// let store = SqliteStoreOptions::new()
///     .filename(dir.join("conversations.db"))
///     .synchronous(Synchronous::Full)
///     .open()
///     .await?;
/// # drop(store);
/// # std::fs::remove_dir_all(&dir).map_err(timconv::Error::store)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "options do nothing until opened"]
pub struct SqliteStoreOptions {
    pub(super) filename: Option<PathBuf>,
    pub(super) create_if_missing: bool,
    pub(super) synchronous: Synchronous,
    pub(super) permissions: u32,
}

impl Default for SqliteStoreOptions {
    fn default() -> Self {
        Self {
            filename: None,
            create_if_missing: true,
            synchronous: Synchronous::Normal,
            permissions: 0o600,
        }
    }
}

impl SqliteStoreOptions {
    /// Default options: an in-memory database until [`filename`](Self::filename) is set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The database file.
    pub fn filename(mut self, path: impl AsRef<Path>) -> Self {
        self.filename = Some(path.as_ref().to_path_buf());
        self
    }

    /// A private in-memory database (nothing survives the store being dropped).
    pub fn in_memory(mut self) -> Self {
        self.filename = None;
        self
    }

    /// Whether to create the file if it does not exist (default `true`).
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.create_if_missing = create;
        self
    }

    /// Durability of each commit (default [`Synchronous::Normal`]).
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// Unix permission bits for a database file this store creates (default `0o600`: the
    /// user's conversations are readable by the user only). Existing files keep theirs.
    pub fn permissions(mut self, mode: u32) -> Self {
        self.permissions = mode;
        self
    }

    /// Opens (creating if allowed) the database, refuses a file from a newer version of this
    /// crate without touching it, and brings an older one up to date.
    ///
    /// # Errors
    /// [`Error::UnsupportedSchema`](crate::Error::UnsupportedSchema) for a newer file,
    /// [`Error::CorruptDatabase`](crate::Error::CorruptDatabase) for a file that is not a
    /// database or is damaged, [`Error::StoreInUse`](crate::Error::StoreInUse) for a file
    /// another store holds, [`Error::Store`](crate::Error::Store) for other failures of SQLite
    /// (all 6019); [`Error::Io`](crate::Error::Io) (6022), naming the file, when it cannot be
    /// created, opened, read or written (a missing directory, no permission, a full disk).
    pub async fn open(self) -> Result<SqliteStore> {
        SqliteStore::open_with(self).await
    }
}
