//! `timconv-server`: the reference sync server for `timconv` devices, over HTTP and a
//! WebSocket, keeping every user's state in PostgreSQL (many server processes over one
//! database) or SQLite (one file, the embedded default).
//!
//! The server is stateless between requests: each write is a serializable transaction over
//! the database ([`db`]) and each pull one read-only snapshot, so any number of processes can
//! serve the same users. The per-user rules
//! (what each operation does, limits and their codes, delete floors, idempotency by operation
//! ID, paging) are not written here: they are `timconv::transport::account`, the same code the
//! in-memory loopback server runs, driven over the rows a request loads. Devices authenticate
//! with signed tokens ([`auth`]); changes reach a user's other devices as hints over their
//! WebSocket, across processes too ([`hints`]). The protocol is in docs/SYNC.md.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let options = timconv_server::Options::new("sqlite::memory:", "a long random secret", "admin secret");
//! let server = timconv_server::start(options).await?;
//! let token = server.keys().mint("alice", 3600);
//! println!("serving on http://{}; a token for alice: {token}", server.addr());
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod auth;
pub mod db;
pub mod hints;
pub mod http;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use timconv::Limits;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use auth::{Keys, mint};
pub use db::{Backend, Db, DbError};

/// How a server runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// `postgres://user:password@host:port/db` or `sqlite:path?mode=rwc` (`sqlite::memory:`
    /// for a database that lives as long as the process).
    pub database_url: String,
    /// Where to listen (default `127.0.0.1:0`: a free port on the loopback interface).
    pub listen: SocketAddr,
    /// Signs user tokens and bookmarks.
    pub secret: Vec<u8>,
    /// Guards the admin endpoints.
    pub admin_secret: Vec<u8>,
    /// The per-user limits (pinned, groups, batch sizes, …).
    pub limits: Limits,
    /// Largest request body accepted, in bytes (default 1 MiB); larger ones get 413.
    pub max_body_bytes: usize,
    /// Most operations in one push (default 500).
    pub max_ops_per_push: usize,
    /// Most changes in one pull page (default 1000); larger limits are lowered to it.
    pub max_page: usize,
    /// How often a connected device is pinged (default 20 s).
    pub ping_interval: Duration,
    /// How often versions are polled where notifications are not available (default 1 s).
    pub poll_interval: Duration,
}

impl Options {
    /// Options with the defaults above.
    #[must_use]
    pub fn new(
        database_url: impl Into<String>,
        secret: impl Into<Vec<u8>>,
        admin_secret: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            database_url: database_url.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            secret: secret.into(),
            admin_secret: admin_secret.into(),
            limits: Limits::default(),
            max_body_bytes: 1 << 20,
            max_ops_per_push: 500,
            max_page: 1000,
            ping_interval: Duration::from_secs(20),
            poll_interval: Duration::from_secs(1),
        }
    }

    /// Sets [`listen`](Self::listen).
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Sets [`limits`](Self::limits).
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`max_body_bytes`](Self::max_body_bytes).
    #[must_use]
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Sets [`poll_interval`](Self::poll_interval).
    #[must_use]
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }
}

/// What every request handler shares.
pub(crate) struct App {
    db: Db,
    hub: hints::Hub,
    keys: Keys,
    options: Options,
    /// Becomes `true` when the server stops: event streams end.
    stop: watch::Receiver<bool>,
}

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The address could not be bound.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running server. Dropping it leaves it running until the runtime ends; call
/// [`shutdown`](Self::shutdown) to stop it.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    db: Db,
    keys: Keys,
    hub: hints::Hub,
    stop: watch::Sender<bool>,
    serve: JoinHandle<()>,
    hints: JoinHandle<()>,
}

/// A random number for this process (it tells its own hints from others').
fn process_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// Opens the database (migrating it), binds the address and starts serving.
pub async fn start(options: Options) -> Result<Running, StartError> {
    let process = process_id();
    let db = Db::connect(&options.database_url, options.limits, process).await?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: options.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: options.listen,
        source,
    })?;
    let hub = hints::Hub::default();
    let keys = Keys::new(options.secret.clone(), options.admin_secret.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let hints = match db.backend() {
        Backend::Postgres => tokio::spawn(hints::listen(
            options.database_url.clone(),
            db.clone(),
            hub.clone(),
            process,
            options.poll_interval,
        )),
        Backend::Sqlite => {
            tokio::spawn(hints::poll(db.clone(), hub.clone(), options.poll_interval))
        }
    };
    let app = Arc::new(App {
        db: db.clone(),
        hub: hub.clone(),
        keys: keys.clone(),
        options,
        stop: stop_rx.clone(),
    });
    let router = http::router(app);
    let mut stopping = stop_rx;
    let serve = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        if let Err(err) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %err, "the server stopped");
        }
    });
    tracing::info!(%addr, backend = ?db.backend(), "timconv-server listening");
    Ok(Running {
        addr,
        db,
        keys,
        hub,
        stop: stop_tx,
        serve,
        hints,
    })
}

impl Running {
    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://addr`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its database.
    #[must_use]
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Its keys (to mint tokens).
    #[must_use]
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// How many devices are connected to it.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.hub.connections()
    }

    /// Stops accepting requests, ends every event stream, waits for requests under way and
    /// closes the database.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.hints.abort();
        let _ = self.serve.await;
        self.db.close().await;
    }
}
