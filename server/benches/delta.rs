//! A server delta over HTTP: an account of 100,000 conversations built through the server's
//! admin API (`deliver_many`, one message per conversation), a device on a SQLite file that
//! has synced all of it, then 10,000 of the conversations receive a new message on the server
//! and the device pulls and applies them: `ConversationManager::sync()` timed from call to
//! return, over `NetworkTransport` to a `timconv-server` on 127.0.0.1 (SQLite; PostgreSQL too
//! when a URL is given). The same account and deltas through the loopback transport (the
//! in-process reference server), in the same run, are the baseline.
//!
//! The device hears no server events (its transport's event stream stays silent), so that the
//! delta waits on the server for the timed pull, instead of arriving message by message as
//! pushes while it is made. Each run also times every page the device pulls (the HTTP call,
//! from request to decoded answer), and the same pages pulled through the bare transport,
//! without applying them: what the server, HTTP and JSON cost on their own, and the same pages
//! read from the server's database alone (what the pull endpoint does before HTTP).
//!
//! ```sh
//! cargo bench -p timconv-server --bench delta                          # loopback and SQLite
//! scripts/with-postgres cargo bench -p timconv-server --bench delta    # and PostgreSQL
//! TIMCONV_BENCH_POSTGRES_URL=postgres://… cargo bench -p timconv-server --bench delta
//! ```
//!
//! `scripts/with-postgres` starts a throwaway PostgreSQL on 127.0.0.1 and sets
//! `TIMCONV_BENCH_POSTGRES_URL`; without that variable the PostgreSQL run is skipped, and the
//! bench says so. `TIMCONV_DELTA_ACCOUNT` (100000), `TIMCONV_DELTA_CHANGED` (10000) and
//! `TIMCONV_DELTA_RUNS` (10) change the sizes.

#![allow(clippy::print_stdout, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use timconv::transport::loopback::LoopbackServer;
use timconv::transport::network::{NetworkOptions, NetworkTransport};
use timconv::transport::{
    Bookmark, PendingOperation, PullResponse, PushResponse, ServerEvent, Transport, TransportError,
};
use timconv::{ConversationId, ConversationManager, Message, SqliteStoreOptions, SyncOptions};

use common::{ADMIN, at, env_usize, http_server, postgres_url, quantiles, runtime, scratch_dir};

const USER: &str = "alice";

/// A transport whose event stream never says anything: the device pulls only when asked. It
/// times each pull that succeeds.
#[derive(Debug, Clone)]
struct Quiet<T> {
    inner: T,
    pulls: Arc<Mutex<Vec<Duration>>>,
}

impl<T: Transport> Transport for Quiet<T> {
    fn push(
        &self,
        ops: Vec<PendingOperation>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        self.inner.push(ops)
    }

    fn pull(
        &self,
        since: Option<Bookmark>,
        limit: usize,
    ) -> BoxFuture<'_, Result<PullResponse, TransportError>> {
        async move {
            let started = Instant::now();
            let answer = self.inner.pull(since, limit).await;
            if answer.is_ok()
                && let Ok(mut pulls) = self.pulls.lock()
            {
                pulls.push(started.elapsed());
            }
            answer
        }
        .boxed()
    }

    fn connect(&self) -> BoxFuture<'_, Result<BoxStream<'static, ServerEvent>, TransportError>> {
        async { Ok(futures::stream::pending().boxed()) }.boxed()
    }
}

fn conversation(i: usize) -> ConversationId {
    ConversationId::c2c(&format!("u{i:06}")).expect("a conversation ID")
}

/// The message conversation `i` receives in round `round` (0: the account's first).
fn message(i: usize, round: usize) -> Message {
    let mut m = Message::text(format!("m{i}-{round}"), "see you tomorrow");
    let time = 1_700_000_000 + (round * 1_000_000 + i) as u64;
    m.server_time = Some(time);
    m.client_time = Some(time);
    m.sender = Some(format!("u{i:06}"));
    m
}

/// The conversations of delta `round` (1, 2, …): spread over the account, a different set
/// each round.
fn changed(round: usize, account: usize, delta: usize) -> impl Iterator<Item = usize> {
    let stride = (account / delta).max(1);
    (0..delta).map(move |k| (k * stride + round % stride) % account)
}

/// Where a bench puts the server and the device.
trait Server {
    type Transport: Transport + Clone;
    fn transport(&self, device: &str) -> Self::Transport;
    /// Delivers `messages` (as the admin API does, for one user).
    fn deliver(&self, messages: Vec<(ConversationId, Message)>) -> BoxFuture<'_, ()>;
    /// The user's version on a server with a database (`None` for the loopback).
    fn version(&self) -> BoxFuture<'_, Option<u64>>;
    /// The time to read every page after `version` straight from the database, as the pull
    /// endpoint does (without HTTP and without decoding on a device).
    fn database_pull(&self, version: u64) -> BoxFuture<'_, Duration>;
}

struct Http {
    base: String,
    http: reqwest::Client,
    /// The user on the server (fresh for each run, as a database may be reused).
    user: String,
    token: String,
    db: timconv_server::db::Db,
}

impl Server for Http {
    type Transport = NetworkTransport;

    fn transport(&self, device: &str) -> NetworkTransport {
        let options = NetworkOptions::default().request_timeout(Duration::from_secs(60));
        NetworkTransport::with_options(&self.base, &self.token, device, options)
            .expect("a transport")
    }

    fn deliver(&self, messages: Vec<(ConversationId, Message)>) -> BoxFuture<'_, ()> {
        async move {
            // Batches of 1,000 (the endpoint's bound), one after the other: a user's writes
            // are serialized by the database anyway, and batches in flight together for one
            // user only conflict and retry. A 503 is retried, as the protocol allows.
            for chunk in messages.chunks(1000) {
                let messages: Vec<serde_json::Value> = chunk
                    .iter()
                    .map(|(c, m)| serde_json::json!({"conversation": c, "message": m}))
                    .collect();
                let body = serde_json::json!({"user": self.user, "messages": messages}).to_string();
                for attempt in 1.. {
                    let response = self
                        .http
                        .post(format!("{}/admin/v1/deliver_many", self.base))
                        .header("authorization", format!("Bearer {ADMIN}"))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("deliver");
                    let status = response.status();
                    if status.is_success() {
                        break;
                    }
                    assert!(
                        status == reqwest::StatusCode::SERVICE_UNAVAILABLE && attempt < 5,
                        "deliver_many: {status}"
                    );
                    println!("deliver_many: {status}, retrying");
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
            }
        }
        .boxed()
    }

    fn version(&self) -> BoxFuture<'_, Option<u64>> {
        async move {
            let versions = self
                .db
                .versions(std::slice::from_ref(&self.user))
                .await
                .expect("versions");
            Some(versions.first().map_or(0, |(_, v)| *v))
        }
        .boxed()
    }

    fn database_pull(&self, version: u64) -> BoxFuture<'_, Duration> {
        async move {
            let started = Instant::now();
            let mut since = Bookmark(version.to_string());
            loop {
                let timconv_server::db::PullJson::Page(page) = self
                    .db
                    .pull_json(&self.user, Some(&since), 500)
                    .await
                    .expect("a database pull")
                else {
                    panic!("too far behind");
                };
                since = page.bookmark;
                if !page.has_more {
                    return started.elapsed();
                }
            }
        }
        .boxed()
    }
}

struct Loopback(LoopbackServer);

impl Server for Loopback {
    type Transport = timconv::transport::loopback::LoopbackTransport;

    fn transport(&self, device: &str) -> Self::Transport {
        self.0.transport(USER, device)
    }

    fn deliver(&self, messages: Vec<(ConversationId, Message)>) -> BoxFuture<'_, ()> {
        for (conversation, message) in messages {
            self.0.deliver(USER, &conversation, message);
        }
        async {}.boxed()
    }

    fn version(&self) -> BoxFuture<'_, Option<u64>> {
        async { None }.boxed()
    }

    fn database_pull(&self, _version: u64) -> BoxFuture<'_, Duration> {
        async { Duration::ZERO }.boxed()
    }
}

/// What one backend measured.
struct Measured {
    label: String,
    build: Duration,
    full_sync: Duration,
    /// Per run: (sync, pull only).
    runs: Vec<(Duration, Duration)>,
    /// Per run, the same pages read from the database alone (none for the loopback).
    database: Vec<Duration>,
    /// Every page the device pulled during the delta syncs.
    pages: Vec<Duration>,
}

/// Pulls every page after `since` through `transport`, returning the last bookmark and how
/// many conversations came.
async fn pull_through(transport: &impl Transport, since: Option<Bookmark>) -> (Bookmark, usize) {
    let mut since = since;
    let mut count = 0;
    loop {
        let PullResponse::Page(page) = transport.pull(since.clone(), 500).await.expect("pull")
        else {
            panic!("too far behind");
        };
        count += page.changes.len();
        since = Some(page.bookmark.clone());
        if !page.has_more {
            return (page.bookmark, count);
        }
    }
}

async fn measure(
    label: &str,
    server: &impl Server,
    dir: &Path,
    account: usize,
    delta: usize,
    runs: usize,
) -> Measured {
    let started = Instant::now();
    server
        .deliver(
            (0..account)
                .map(|i| (conversation(i), message(i, 0)))
                .collect(),
        )
        .await;
    let build = started.elapsed();
    let path: PathBuf = dir.join(format!("{}.db", label.replace([' ', ','], "_")));
    let pulls: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let device = ConversationManager::builder()
        .sqlite(SqliteStoreOptions::new().filename(&path))
        .self_user_id(USER)
        .transport(Quiet {
            inner: server.transport("phone"),
            pulls: Arc::clone(&pulls),
        })
        .sync_options(
            SyncOptions::default()
                .poll_interval(None)
                .backoff(Duration::from_millis(5), Duration::from_millis(100)),
        )
        .open()
        .await
        .expect("open the device");
    let started = Instant::now();
    device.sync().await.expect("the full sync");
    let full_sync = started.elapsed();
    assert_eq!(device.len(), account, "the device has the whole account");
    // A bare transport's bookmark, to time the same pages pulled without applying them.
    let bare = server.transport("bare");
    let (mut bookmark, _) = pull_through(&bare, None).await;
    let mut timed = Vec::new();
    let mut pages = Vec::new();
    let mut database = Vec::new();
    for round in 1..=runs {
        let before = server.version().await;
        server
            .deliver(
                changed(round, account, delta)
                    .map(|i| (conversation(i), message(i, round)))
                    .collect(),
            )
            .await;
        // The device applies the delta: timed end to end.
        pulls.lock().expect("lock").clear();
        let started = Instant::now();
        device.sync().await.expect("the delta sync");
        let sync = started.elapsed();
        pages.append(&mut pulls.lock().expect("lock"));
        let probe = changed(round, account, delta).next().expect("a change");
        let seen = device
            .get(&conversation(probe))
            .and_then(|c| c.last_message.as_ref().and_then(|m| m.msg_id.clone()));
        assert_eq!(seen, Some(format!("m{probe}-{round}")), "the delta arrived");
        // The same pages through the bare transport, not applied.
        let started = Instant::now();
        let (next, count) = pull_through(&bare, Some(bookmark)).await;
        let pull = started.elapsed();
        assert_eq!(count, delta, "one change per conversation");
        bookmark = next;
        timed.push((sync, pull));
        if let Some(version) = before {
            database.push(server.database_pull(version).await);
        }
        // A quiet moment, as after a real sync: the device's writer folds its journal.
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    device.shutdown().await.expect("shutdown");
    Measured {
        label: label.to_owned(),
        build,
        full_sync,
        runs: timed,
        database,
        pages,
    }
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn report(all: &mut [Measured], account: usize, delta: usize) {
    println!(
        "\nA delta of {delta} changed conversations on an account of {account}, pulled and applied \
         by a device on a SQLite file; times in ms as p50 / p99 / max over the runs, rates in \
         conversations/s:\n"
    );
    println!(
        "| transport | runs | account built | full sync of {account} | delta sync (ms) | rate at p50 | rate at max | each run (conv/s) | pages of the delta (ms) | pull only, not applied (ms) | pull only, rate at p50 | database alone (ms) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for m in all {
        let each = m
            .runs
            .iter()
            .map(|(s, _)| format!("{:.0}", rate(delta, *s)))
            .collect::<Vec<_>>()
            .join(", ");
        let mut syncs: Vec<Duration> = m.runs.iter().map(|(s, _)| *s).collect();
        let mut pulls: Vec<Duration> = m.runs.iter().map(|(_, p)| *p).collect();
        let sync_q = quantiles(&mut syncs);
        let pull_q = quantiles(&mut pulls);
        let database = if m.database.is_empty() {
            "-".to_owned()
        } else {
            quantiles(&mut m.database)
        };
        let per = |ms: f64| {
            if ms > 0.0 {
                delta as f64 / ms * 1000.0
            } else {
                0.0
            }
        };
        println!(
            "| {} | {} | {:.1} s ({:.0}/s) | {:.2} s ({:.0}/s) | {sync_q} | **{:.0}** | {:.0} | {each} | {} | {pull_q} | {:.0} | {database} |",
            m.label,
            m.runs.len(),
            m.build.as_secs_f64(),
            rate(account, m.build),
            m.full_sync.as_secs_f64(),
            rate(account, m.full_sync),
            per(at(&syncs, 0.5)),
            per(at(&syncs, 1.0)),
            quantiles(&mut m.pages),
            per(at(&pulls, 0.5)),
        );
    }
}

fn main() {
    let account = env_usize("TIMCONV_DELTA_ACCOUNT", 100_000);
    let delta = env_usize("TIMCONV_DELTA_CHANGED", 10_000).min(account);
    let runs = env_usize("TIMCONV_DELTA_RUNS", 10).max(1);
    let postgres = postgres_url();
    let runtime = runtime();
    let dir = scratch_dir("delta");
    let mut all = Vec::new();
    runtime.block_on(async {
        let loopback = Loopback(LoopbackServer::new());
        all.push(measure("loopback", &loopback, &dir, account, delta, runs).await);
        println!("loopback done");

        let url = format!("sqlite:{}?mode=rwc", dir.join("server.db").display());
        let mut backends = vec![("HTTP, server on SQLite", url)];
        match postgres {
            Some(url) => backends.push(("HTTP, server on PostgreSQL", url)),
            None => println!(
                "PostgreSQL skipped: TIMCONV_BENCH_POSTGRES_URL is not set (run the bench under \
                 scripts/with-postgres to start one)"
            ),
        }
        for (label, url) in backends {
            let server = http_server(&url).await;
            let user = format!("bench-{}-{}", std::process::id(), now_nanos());
            let http = Http {
                db: server.db().clone(),
                base: server.url(),
                http: reqwest::Client::new(),
                token: server.keys().mint(&user, 24 * 3600),
                user,
            };
            all.push(measure(label, &http, &dir, account, delta, runs).await);
            println!("{label} done");
            server.shutdown().await;
        }
    });
    report(&mut all, account, delta);
    let _ = std::fs::remove_dir_all(&dir);
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
