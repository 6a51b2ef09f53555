//! The database: each user's [`Head`], one row per conversation with its place in the version
//! log, group memberships, renames and remembered operation outcomes (`migrations/`).
//!
//! Every write is one serializable transaction, retried when the database reports a
//! serialization conflict (PostgreSQL's 40001, or SQLite's busy codes); a pull is one
//! read-only snapshot (`REPEATABLE READ, READ ONLY` on PostgreSQL). A push loads the
//! user's head, the rows of the conversations it names (and, for a group-wide operation, the
//! members of the user's groups, which the decoration limit bounds), and the remembered
//! outcomes of its operation IDs; it applies the shared rules of
//! [`timconv::transport::account`] and writes back the rows they changed. It never reads the
//! rest of the account. A pull reads the head and the next rows of the version log, whose view
//! was stored when they were written.
//!
//! Here: connecting, migrating, transactions, and what reads and writes share (the head row,
//! versions, hints between processes). `write.rs` has the writes (push, deliveries, forgetting
//! history), `pull.rs` the pulls.
//!
//! The SQL keeps to what PostgreSQL-compatible distributed databases also run: explicit
//! `BIGINT`, `INSERT .. ON CONFLICT`, `SERIALIZABLE`, no advisory locks (the migrator's lock is
//! off, and every migration is idempotent).

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyConnection, AnyPool, AssertSqlSafe, Executor, Row, Transaction};
use timconv::Limits;
use timconv::transport::account::Head;
use timconv::transport::{OpId, OpOutcome, TransportError};

use crate::hints::Notice;

/// The channel of PostgreSQL notifications that carry hints between server processes.
pub(crate) const CHANNEL: &str = "timconv_hints";

/// How often a conflicting transaction is tried again before the request fails (503).
const MAX_ATTEMPTS: u32 = 30;

/// Most values bound in one `IN (...)` list (SQLite allows 32,766 in all).
const CHUNK: usize = 500;

/// The schema's migrations (one set: the SQL is the same for both databases).
fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL (or a compatible database): many server processes over one database.
    Postgres,
    /// SQLite: one file, the embedded default.
    Sqlite,
}

/// A failed database call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The driver failed (connection, SQL, constraint).
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value does not decode.
    #[error("stored data does not decode: {0}")]
    Corrupt(String),
    /// The URL names no supported database.
    #[error("unsupported database URL {0:?} (expected postgres://… or sqlite:…)")]
    UnsupportedUrl(String),
    /// The request was refused by the rules (a bad bookmark).
    #[error(transparent)]
    Refused(TransportError),
}

impl DbError {
    /// A serialization conflict or a busy database: the same transaction may succeed again.
    fn is_conflict(&self) -> bool {
        match self {
            DbError::Sqlx(sqlx::Error::Database(e)) => matches!(
                e.code().as_deref(),
                Some("40001" | "40P01" | "5" | "6" | "261" | "517")
            ),
            _ => false,
        }
    }
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(format!("{what}: {err}"))
}

fn to_i64(n: u64) -> Result<i64, DbError> {
    i64::try_from(n).map_err(|_| DbError::Corrupt(format!("{n} does not fit a BIGINT")))
}

fn to_u64(n: i64) -> Result<u64, DbError> {
    u64::try_from(n).map_err(|_| DbError::Corrupt(format!("negative counter {n}")))
}

/// Runs `$body` (which uses `&mut $tx`) in a transaction, retried on conflicts: a
/// serializable one, or with `read`, a read-only snapshot ([`Db::begin_read`]).
macro_rules! transaction {
    ($db:expr, |$tx:ident| $body:expr) => {
        transaction!(@run $db.begin(), $tx, $body)
    };
    (read $db:expr, |$tx:ident| $body:expr) => {
        transaction!(@run $db.begin_read(), $tx, $body)
    };
    (@run $begin:expr, $tx:ident, $body:expr) => {{
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut $tx = $begin.await?;
            let result = $body;
            let result = match result {
                Ok(value) => $tx.commit().await.map(|()| value).map_err(DbError::from),
                Err(err) => {
                    let _ = $tx.rollback().await;
                    Err(err)
                }
            };
            match result {
                Err(err) if err.is_conflict() && attempt < $crate::db::MAX_ATTEMPTS => {
                    tracing::debug!(error = %err, attempt, "transaction conflict; retrying");
                    tokio::time::sleep(::std::time::Duration::from_millis(
                        u64::from(attempt.min(10)) * 3,
                    ))
                        .await;
                }
                other => break other,
            }
        }
    }};
}

// After the macro: the pull and write modules run their transactions with it.
mod pull;
mod write;
pub use pull::{PageJson, PullJson};

/// The database of a server process. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    limits: Limits,
    process: u64,
}

/// A user's head row, with the driver's own counter.
struct HeadRow {
    head: Head,
    operations: u64,
}

impl Db {
    /// Connects to `url` (`postgres://…` or `sqlite:…`) and brings the schema up to date.
    /// `process` identifies this server process in the hints it sends.
    pub async fn connect(url: &str, limits: Limits, process: u64) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        };
        let pool = match backend {
            // One connection: SQLite has one writer anyway, and an in-memory database is
            // private to its connection.
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(1)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA busy_timeout = 5000").await?;
                            // 64 MiB of pages (SQLite's default is 2 MiB): a pull reads the
                            // rows of its page by version, spread over the file, and the most
                            // recently written ones are what the next pulls read.
                            conn.execute("PRAGMA cache_size = -65536").await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .connect(url)
                    .await?
            }
        };
        let mut migrator = migrator();
        migrator.set_locking(false);
        // Two processes starting at once may both try to record a migration; the second
        // finds it done when it tries again.
        if let Err(first) = migrator.run(&pool).await {
            tracing::debug!(error = %first, "migrating failed once; trying again");
            tokio::time::sleep(Duration::from_millis(200)).await;
            migrator.run(&pool).await?;
        }
        Ok(Self {
            pool,
            backend,
            limits,
            process,
        })
    }

    /// Which database this is.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The limits the rules enforce.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin(&self) -> Result<Transaction<'static, Any>, DbError> {
        self.begin_as("SERIALIZABLE").await
    }

    /// A read-only transaction on one snapshot, for reads of one user (a pull). Enough for
    /// them: every write to a user updates its head row, so a user's writes are ordered by
    /// the database, and a snapshot holds those committed before it. On PostgreSQL this is
    /// `REPEATABLE READ, READ ONLY`: a serializable transaction would also take a predicate
    /// lock on every row it reads, for the pushes it overlaps to conflict with.
    async fn begin_read(&self) -> Result<Transaction<'static, Any>, DbError> {
        self.begin_as("REPEATABLE READ, READ ONLY").await
    }

    /// A transaction with PostgreSQL's `SET TRANSACTION ISOLATION LEVEL {isolation}`
    /// (SQLite's transactions are serializable, and a deferred one reads one snapshot).
    async fn begin_as(
        &self,
        isolation: &'static str,
    ) -> Result<Transaction<'static, Any>, DbError> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            let sql = format!("SET TRANSACTION ISOLATION LEVEL {isolation}");
            tx.execute(AssertSqlSafe(sql.as_str())).await?;
        }
        Ok(tx)
    }

    /// Every operation outcome remembered for `user`, in the order received.
    pub async fn outcomes(&self, user: &str) -> Result<Vec<(OpId, OpOutcome)>, DbError> {
        let rows = sqlx::query(
            "SELECT op_id, outcome_json FROM operations WHERE user_id = $1 ORDER BY seq",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let outcome: String = r.try_get(1)?;
                let outcome = serde_json::from_str(&outcome).map_err(|e| corrupt("outcome", e))?;
                Ok((OpId(id), outcome))
            })
            .collect()
    }

    /// The current versions of `users` (users the database does not know are left out).
    pub async fn versions(&self, users: &[String]) -> Result<Vec<(String, u64)>, DbError> {
        let mut out = Vec::with_capacity(users.len());
        for chunk in users.chunks(CHUNK) {
            let sql = format!(
                "SELECT user_id, version FROM users WHERE user_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
            for u in chunk {
                query = query.bind(u.as_str());
            }
            for r in query.fetch_all(&self.pool).await? {
                out.push((r.try_get(0)?, to_u64(r.try_get::<i64, _>(1)?)?));
            }
        }
        Ok(out)
    }

    /// Sends a hint to the other server processes, delivered when the transaction commits
    /// (PostgreSQL only; other processes over SQLite learn of changes by polling).
    async fn notify(
        &self,
        tx: &mut AnyConnection,
        user: &str,
        device: Option<&str>,
        versions: (u64, u64),
        event: Option<timconv::transport::ServerEvent>,
    ) -> Result<(), DbError> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        let payload = Notice::new(self.process, user, device, versions, event).to_payload();
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

/// `$from, $from+1, …`, `n` of them.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn load_head(tx: &mut AnyConnection, user: &str) -> Result<HeadRow, DbError> {
    let row = sqlx::query(
        "SELECT version, history_floor, groups_version, next_group_id, pinned, decorated, \
         operations, groups_json FROM users WHERE user_id = $1",
    )
    .bind(user)
    // Read to the end: a statement left part-way keeps SQLite's read snapshot open on the
    // connection after the transaction, and later reads would not see other processes' writes.
    .fetch_all(&mut *tx)
    .await?;
    let Some(r) = row.first() else {
        return Ok(HeadRow {
            head: Head::default(),
            operations: 0,
        });
    };
    let groups: String = r.try_get(7)?;
    Ok(HeadRow {
        head: Head {
            version: to_u64(r.try_get(0)?)?,
            history_floor: to_u64(r.try_get(1)?)?,
            groups_version: to_u64(r.try_get(2)?)?,
            next_group_id: to_u64(r.try_get(3)?)?,
            pinned: to_u64(r.try_get(4)?)?,
            decorated: to_u64(r.try_get(5)?)?,
            folders: serde_json::from_str(&groups).map_err(|e| corrupt("groups", e))?,
        },
        operations: to_u64(r.try_get(6)?)?,
    })
}
