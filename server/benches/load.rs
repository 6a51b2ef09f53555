//! Load: N devices × M operations against one `timconv-server` on 127.0.0.1, over HTTP and
//! WebSockets, on SQLite (a file) and, when a URL is given, PostgreSQL.
//!
//! The devices are pairs: N/2 users with two devices each, every device a `ConversationManager`
//! (memory store) syncing through `NetworkTransport`, hints by WebSocket only (no periodic
//! pulls). Each device makes M operations, one after the other: it sets the custom data of one
//! of its 20 conversations (its own, so the pair never write the same one) to a value naming
//! the operation, and waits until the server has acknowledged it (its outbox is empty) before
//! the next: at most one push per device in flight, N in all. Its partner device hears of it
//! by a hint, pulls, and applies it.
//!
//! Measured: every push (the HTTP call, from request to decoded answer), every pull, and for
//! each operation the time from the local call until the partner device publishes the change
//! (`Event::Updated` with that value): local commit, push, the server's transaction, the hint,
//! the partner's pull and its apply. Throughput: operations acknowledged per second over the
//! whole run (first operation to last acknowledgement), and requests served per second.
//!
//! Also measured: for each operation the time from the local call until the device's outbox is
//! empty again (acknowledged: pushed, answered, and the answer committed).
//!
//! ```sh
//! cargo bench -p timconv-server --bench load                          # SQLite
//! scripts/with-postgres cargo bench -p timconv-server --bench load    # and PostgreSQL
//! TIMCONV_BENCH_POSTGRES_URL=postgres://… cargo bench -p timconv-server --bench load
//! TIMCONV_LOAD_DEVICES=50 TIMCONV_LOAD_OPS=20 cargo bench -p timconv-server --bench load
//! ```
//!
//! `scripts/with-postgres` starts a throwaway PostgreSQL on 127.0.0.1 and sets
//! `TIMCONV_BENCH_POSTGRES_URL`; without that variable the PostgreSQL run is skipped, and the
//! bench says so. 200 devices × 100 operations by default.

#![allow(clippy::print_stdout, missing_docs)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use timconv::transport::network::{NetworkOptions, NetworkTransport};
use timconv::transport::{
    Bookmark, PendingOperation, PullResponse, PushResponse, ServerEvent, Transport, TransportError,
};
use timconv::{ConversationId, ConversationManager, Event, Message, SyncOptions};

use common::{env_usize, http_server, postgres_url, quantiles, runtime, scratch_dir};

/// Conversations each device writes to.
const OWN: usize = 20;

/// Durations of every push and pull of every device.
#[derive(Default)]
struct Timings {
    pushes: Mutex<Vec<Duration>>,
    pulls: Mutex<Vec<Duration>>,
    failed: AtomicUsize,
}

/// A transport that times its calls, and says when a push was answered.
#[derive(Clone)]
struct Timed {
    inner: NetworkTransport,
    timings: Arc<Timings>,
    answered: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Timed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl Timed {
    async fn timed<T>(
        &self,
        call: BoxFuture<'_, Result<T, TransportError>>,
        into: &Mutex<Vec<Duration>>,
    ) -> Result<T, TransportError> {
        let started = Instant::now();
        let result = call.await;
        if result.is_ok() {
            if let Ok(mut v) = into.lock() {
                v.push(started.elapsed());
            }
        } else {
            self.timings.failed.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

impl Transport for Timed {
    fn push(
        &self,
        ops: Vec<PendingOperation>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        async move {
            let result = self.timed(self.inner.push(ops), &self.timings.pushes).await;
            self.answered.notify_one();
            result
        }
        .boxed()
    }

    fn pull(
        &self,
        since: Option<Bookmark>,
        limit: usize,
    ) -> BoxFuture<'_, Result<PullResponse, TransportError>> {
        self.timed(self.inner.pull(since, limit), &self.timings.pulls)
            .boxed()
    }

    fn connect(&self) -> BoxFuture<'_, Result<BoxStream<'static, ServerEvent>, TransportError>> {
        self.inner.connect()
    }
}

fn conversation(device: usize, k: usize) -> ConversationId {
    ConversationId::c2c(&format!("d{device}-c{k}")).expect("a conversation ID")
}

/// The custom data of operation `op` of `device`.
fn value(device: usize, op: usize) -> Vec<u8> {
    format!("{device}:{op}").into_bytes()
}

fn parse_value(data: &[u8]) -> Option<(usize, usize)> {
    let text = std::str::from_utf8(data).ok()?;
    let (d, o) = text.split_once(':')?;
    Some((d.parse().ok()?, o.parse().ok()?))
}

struct Run {
    label: String,
    devices: usize,
    ops: usize,
    wall: Duration,
    /// Pushes and pulls answered by the end of `wall`.
    requests: usize,
    pushes: Vec<Duration>,
    pulls: Vec<Duration>,
    seen: Vec<Duration>,
    acknowledged: Vec<Duration>,
    unseen: usize,
    failed: usize,
}

async fn run(label: &str, url: &str, devices: usize, ops: usize) -> Run {
    let server = http_server(url).await;
    let run_id = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let user = |device: usize| format!("load-{run_id}-{}", device / 2);
    // Each device's conversations exist on the server (one message each) before it opens.
    for device in 0..devices {
        for k in 0..OWN {
            let mut m = Message::text(format!("m{device}-{k}"), "hello");
            m.server_time = Some(1_700_000_000 + k as u64);
            m.sender = Some("peer".into());
            server
                .db()
                .deliver(&user(device), &conversation(device, k), &m)
                .await
                .expect("deliver");
        }
    }
    let timings = Arc::new(Timings::default());
    // When each operation was made, and when its partner saw it.
    let started: Arc<Mutex<HashMap<(usize, usize), Instant>>> = Arc::default();
    let seen: Arc<Mutex<HashMap<(usize, usize), Duration>>> = Arc::default();
    let mut managers = Vec::with_capacity(devices);
    let mut answered = Vec::with_capacity(devices);
    for device in 0..devices {
        let options = NetworkOptions::default().request_timeout(Duration::from_secs(60));
        let inner = NetworkTransport::with_options(
            &server.url(),
            &server.keys().mint(&user(device), 24 * 3600),
            &format!("device-{}", device % 2),
            options,
        )
        .expect("a transport");
        let notify = Arc::new(tokio::sync::Notify::new());
        answered.push(Arc::clone(&notify));
        let manager = ConversationManager::builder()
            .in_memory()
            .self_user_id(user(device))
            .transport(Timed {
                inner,
                timings: Arc::clone(&timings),
                answered: notify,
            })
            .sync_options(
                SyncOptions::default()
                    .poll_interval(None)
                    .backoff(Duration::from_millis(5), Duration::from_millis(500)),
            )
            .open()
            .await
            .expect("a device");
        managers.push(manager);
    }
    // Everyone synced, then the measurements start from nothing.
    futures::future::join_all(managers.iter().map(|m| m.sync())).await;
    for m in &managers {
        assert_eq!(m.len(), 2 * OWN, "a device has its pair's conversations");
    }
    timings.pushes.lock().expect("lock").clear();
    timings.pulls.lock().expect("lock").clear();
    // Watch each device for its partner's changes.
    let mut watchers = Vec::new();
    for (device, m) in managers.iter().enumerate() {
        let mut events = m.events();
        let partner = device ^ 1;
        let (started, seen) = (Arc::clone(&started), Arc::clone(&seen));
        watchers.push(tokio::spawn(async move {
            while let Some(event) = events.next().await {
                let Ok(Event::Updated(changed)) = event else {
                    continue;
                };
                let now = Instant::now();
                for c in changed {
                    let Some((from, op)) = parse_value(c.custom_data.as_bytes()) else {
                        continue;
                    };
                    if from != partner {
                        continue;
                    }
                    let made = started.lock().expect("lock").get(&(from, op)).copied();
                    if let Some(made) = made {
                        seen.lock()
                            .expect("lock")
                            .entry((from, op))
                            .or_insert(now - made);
                    }
                }
            }
        }));
    }
    let begin = Instant::now();
    let acknowledged: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let workers = managers
        .iter()
        .zip(&answered)
        .enumerate()
        .map(|(device, (m, answered))| {
            let started = Arc::clone(&started);
            let acknowledged = Arc::clone(&acknowledged);
            async move {
                for op in 0..ops {
                    let c = conversation(device, op % OWN);
                    let made = Instant::now();
                    started.lock().expect("lock").insert((device, op), made);
                    m.set_custom_data(&[c], value(device, op))
                        .await
                        .expect("set custom data")
                        .into_result()
                        .expect("set custom data");
                    // Acknowledged by the server before the next: wait for a push answer,
                    // then for the device to commit it (a moment later).
                    let until = Instant::now() + Duration::from_secs(60);
                    while m.pending_operations() > 0 && Instant::now() < until {
                        let _ =
                            tokio::time::timeout(Duration::from_millis(50), answered.notified())
                                .await;
                        while m.pending_operations() > 0 && Instant::now() < until {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                    if m.pending_operations() == 0 {
                        acknowledged.lock().expect("lock").push(made.elapsed());
                    }
                }
            }
        });
    futures::future::join_all(workers).await;
    let wall = begin.elapsed();
    let requests =
        timings.pushes.lock().expect("lock").len() + timings.pulls.lock().expect("lock").len();
    // The last changes reach their partners.
    let total = devices * ops;
    let until = Instant::now() + Duration::from_secs(30);
    while seen.lock().expect("lock").len() < total && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for w in &watchers {
        w.abort();
    }
    for m in managers {
        let _ = m.shutdown().await;
    }
    server.shutdown().await;
    let seen: Vec<Duration> = seen.lock().expect("lock").values().copied().collect();
    Run {
        label: label.to_owned(),
        devices,
        ops,
        wall,
        requests,
        pushes: std::mem::take(&mut *timings.pushes.lock().expect("lock")),
        pulls: std::mem::take(&mut *timings.pulls.lock().expect("lock")),
        unseen: total - seen.len(),
        seen,
        acknowledged: std::mem::take(&mut *acknowledged.lock().expect("lock")),
        failed: timings.failed.load(Ordering::Relaxed),
    }
}

fn main() {
    // Pairs of devices.
    let devices = env_usize("TIMCONV_LOAD_DEVICES", 200).max(2) / 2 * 2;
    let ops = env_usize("TIMCONV_LOAD_OPS", 100).max(1);
    let postgres = postgres_url();
    let runtime = runtime();
    let dir = scratch_dir("load");
    let mut backends = vec![(
        "SQLite",
        format!("sqlite:{}?mode=rwc", dir.join("server.db").display()),
    )];
    match postgres {
        Some(url) => backends.push(("PostgreSQL", url)),
        None => println!(
            "PostgreSQL skipped: TIMCONV_BENCH_POSTGRES_URL is not set (run the bench under \
             scripts/with-postgres to start one)"
        ),
    }
    let mut runs = Vec::new();
    runtime.block_on(async {
        for (label, url) in backends {
            let r = run(label, &url, devices, ops).await;
            println!("{label} done");
            runs.push(r);
        }
    });
    println!(
        "\n{devices} devices ({} users × 2) × {ops} operations each, one in flight per device; \
         latencies in ms (p50 / p99 / max):\n",
        devices / 2
    );
    println!(
        "| server | operations | wall | operations/s | requests/s | push | pull | acknowledged | seen by the other device | not seen | failed calls |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for mut r in runs {
        let total = r.devices * r.ops;
        let requests = r.requests;
        println!(
            "| {} | {total} | {:.1} s | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} |",
            r.label,
            r.wall.as_secs_f64(),
            total as f64 / r.wall.as_secs_f64(),
            requests as f64 / r.wall.as_secs_f64(),
            quantiles(&mut r.pushes),
            quantiles(&mut r.pulls),
            quantiles(&mut r.acknowledged),
            quantiles(&mut r.seen),
            r.unseen,
            r.failed,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
