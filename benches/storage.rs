//! The SQLite store at 100,000 conversations, measured as an app uses it: accounts built
//! through `ingest_message`, the system allocator, a two-worker runtime. Prints a table (one
//! run takes a few minutes; criterion would need many).
//!
//! 1. **Unread cost**: a burst of 10,000 messages into one group that already has 0, 1,000
//!    or 100,000 unread messages: messages per second, and the ratio to 0.
//! 2. **Sustained ingest**, counting all deferred work: from the first message until the
//!    store has nothing left to do (shutdown returns: dead rows compacted, WAL checkpointed):
//!    100,000 and 400,000 messages queued at once, and 100,000 by 8 tasks that each await
//!    their ingests one by one. Then (section 2b, `batch`) 100,000 through `ingest_messages`
//!    in awaited batches: one task with batches of 1,000 and of 10,000, and 8 tasks with
//!    batches of 500.
//! 3. **Write latency**: single writes (`set_draft`, one every 2 ms) during and for 2 s after
//!    a burst of 100,000 and of 400,000 messages; p50 / p99 / max. The store is wrapped to
//!    time its commits, whose longest one bounds what a write waits behind upkeep. And the
//!    first write after opening the account file.
//! 4. **Cold open** (`SqliteStore::open` + `ConversationManager::open`: every row loaded and
//!    decoded, the index built) against a bare `SELECT` of the same rows into memory, on a
//!    fresh sqlx connection, in the same process, alternately: on the account file after a
//!    clean shutdown, and on a file whose writer was killed (SIGKILL) in the middle of a
//!    100,000-message burst (dead rows and an unchecked WAL left behind). Medians of 5.
//!
//! Run with `cargo bench --bench storage` (`TIMCONV_BENCH_ONLY=unread`, `sustained`, `batch`,
//! `latency` or `open` runs one section).
#![allow(clippy::print_stdout)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::api_account::{build, burst_message, copy_database, ingest_all, remove_database};
use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use timconv::store::{ChangeSet, Snapshot};
use timconv::{ConversationId, ConversationManager, Draft, Message, SqliteStore, Store};

/// Conversations in the account.
const N: usize = 100_000;
/// The environment variable that makes this binary the child of the kill run.
const CHILD: &str = "TIMCONV_BENCH_STORAGE_CHILD";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Percentiles of latencies, in milliseconds.
fn percentiles(mut samples: Vec<Duration>) -> String {
    if samples.is_empty() {
        return "no samples".into();
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} writes)",
        at(0.5),
        at(0.99),
        at(1.0),
        samples.len()
    )
}

/// A store that times its commits.
#[derive(Debug, Clone)]
struct Timed {
    inner: SqliteStore,
    commits: Arc<Mutex<Vec<(Instant, Duration)>>>,
}

impl Store for Timed {
    fn load(&self) -> BoxFuture<'_, timconv::Result<Snapshot>> {
        self.inner.load()
    }

    fn commit<'a>(&'a self, change: &'a ChangeSet) -> BoxFuture<'a, timconv::Result<()>> {
        async move {
            let start = Instant::now();
            let result = self.inner.commit(change).await;
            if let Ok(mut c) = self.commits.lock() {
                c.push((start, start.elapsed()));
            }
            result
        }
        .boxed()
    }

    fn close(&self) -> BoxFuture<'_, timconv::Result<()>> {
        self.inner.close()
    }
}

async fn open(path: &Path) -> (ConversationManager, Arc<Mutex<Vec<(Instant, Duration)>>>) {
    let commits = Arc::new(Mutex::new(Vec::new()));
    let store = Timed {
        inner: SqliteStore::open(path).await.expect("open the store"),
        commits: Arc::clone(&commits),
    };
    let manager = ConversationManager::builder()
        .self_user_id("me")
        .store(store)
        .open()
        .await
        .expect("open the manager");
    (manager, commits)
}

fn burst(n: usize, base: u64) -> Vec<(ConversationId, Message)> {
    (0..n).map(|k| burst_message(k, N, base)).collect()
}

/// A fresh copy of the account at `dir/name`.
fn fresh(account: &Path, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    remove_database(&path);
    copy_database(account, &path);
    path
}

fn unread_cost(rt: &tokio::runtime::Runtime, account: &Path, dir: &Path) {
    println!("\n## 1. Cost of one more message against the unread already there");
    let hot = ConversationId::group("hot").expect("an id");
    let mut base_rate = None;
    for unread in [0_u64, 1_000, 100_000] {
        let path = fresh(account, dir, "unread.db");
        let rate = rt.block_on(async {
            let (m, _) = open(&path).await;
            let fill: Vec<_> = (0..unread)
                .map(|k| {
                    let mut msg = Message::text(format!("u{k}"), "unread");
                    msg.seq = Some(k + 1);
                    (hot.clone(), msg)
                })
                .collect();
            for chunk in fill.chunks(50_000) {
                ingest_all(&m, chunk.to_vec()).await;
            }
            assert_eq!(m.get(&hot).map_or(0, |c| c.unread_count), unread);
            let more: Vec<_> = (0..10_000_u64)
                .map(|k| {
                    let mut msg = Message::text(format!("x{k}"), "one more");
                    msg.seq = Some(unread + k + 1);
                    (hot.clone(), msg)
                })
                .collect();
            let start = Instant::now();
            ingest_all(&m, more).await;
            let elapsed = start.elapsed();
            assert_eq!(m.get(&hot).map_or(0, |c| c.unread_count), unread + 10_000);
            m.shutdown().await.expect("shutdown");
            10_000.0 / elapsed.as_secs_f64()
        });
        let ratio = base_rate.map_or(1.0, |b: f64| b / rate);
        base_rate.get_or_insert(rate);
        println!(
            "- {unread:>7} unread before: {rate:>9.0} messages/s ({:.1} µs each), {ratio:.2}x the cost at 0",
            1e6 / rate
        );
        remove_database(&path);
    }
}

fn sustained(rt: &tokio::runtime::Runtime, account: &Path, dir: &Path) {
    println!("\n## 2. Sustained ingest at {N} conversations, counting all deferred work");
    for (label, count) in [("queued at once", 100_000), ("queued at once", 400_000)] {
        let path = fresh(account, dir, "sustained.db");
        rt.block_on(async {
            let (m, commits) = open(&path).await;
            let messages = burst(count, 10_000_000);
            let start = Instant::now();
            ingest_all(&m, messages).await;
            let acked = start.elapsed();
            m.shutdown().await.expect("shutdown");
            let settled = start.elapsed();
            let commits = commits.lock().expect("commits").len();
            println!(
                "- {count} {label}: acknowledged in {:.2} s ({:.0}/s); everything done in {:.2} s: **{:.0}/s** ({commits} commits)",
                acked.as_secs_f64(),
                count as f64 / acked.as_secs_f64(),
                settled.as_secs_f64(),
                count as f64 / settled.as_secs_f64()
            );
        });
        remove_database(&path);
    }
    let path = fresh(account, dir, "sustained.db");
    rt.block_on(async {
        let (m, _) = open(&path).await;
        let count = 100_000;
        let mut per_task: Vec<Vec<(ConversationId, Message)>> = vec![Vec::new(); 8];
        for (k, message) in burst(count, 10_000_000).into_iter().enumerate() {
            per_task[k % 8].push(message);
        }
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for messages in per_task {
            let m = m.clone();
            tasks.spawn(async move {
                for (id, message) in messages {
                    m.ingest_message(&id, message).await.expect("ingest");
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("a task");
        }
        let acked = start.elapsed();
        m.shutdown().await.expect("shutdown");
        let settled = start.elapsed();
        println!(
            "- {count} by 8 tasks awaiting each ingest: acknowledged in {:.2} s ({:.0}/s); everything done in {:.2} s: **{:.0}/s**",
            acked.as_secs_f64(),
            count as f64 / acked.as_secs_f64(),
            settled.as_secs_f64(),
            count as f64 / settled.as_secs_f64()
        );
    });
    remove_database(&path);
}

fn batch_ingest(rt: &tokio::runtime::Runtime, account: &Path, dir: &Path) {
    println!("\n## 2b. Batch ingest at {N} conversations, counting all deferred work");
    for (tasks_n, batch) in [(1, 1_000), (1, 10_000), (8, 500)] {
        let path = fresh(account, dir, "sustained.db");
        rt.block_on(batched(&path, tasks_n, batch));
        remove_database(&path);
    }
}

/// 100,000 messages through `ingest_messages` by `tasks_n` tasks, each awaiting batches of
/// `batch` one after another; counted until shutdown returns.
async fn batched(path: &Path, tasks_n: usize, batch: usize) {
    let (m, commits) = open(path).await;
    let count = 100_000;
    let mut per_task: Vec<Vec<(ConversationId, Message)>> = vec![Vec::new(); tasks_n];
    for (k, message) in burst(count, 20_000_000).into_iter().enumerate() {
        per_task[k % tasks_n].push(message);
    }
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for messages in per_task {
        let m = m.clone();
        tasks.spawn(async move {
            let mut waits = Vec::new();
            let mut messages = messages.into_iter().peekable();
            while messages.peek().is_some() {
                let chunk: Vec<_> = messages.by_ref().take(batch).collect();
                let asked = Instant::now();
                let results = m.ingest_messages(chunk).await.expect("a batch");
                waits.push(asked.elapsed());
                assert!(results.iter().all(Result::is_ok), "every message accepted");
            }
            waits
        });
    }
    let mut waits = Vec::new();
    while let Some(done) = tasks.join_next().await {
        waits.extend(done.expect("a task"));
    }
    let acked = start.elapsed();
    m.shutdown().await.expect("shutdown");
    let settled = start.elapsed();
    let commits = commits.lock().expect("commits").len();
    println!(
        "- {count} by {tasks_n} task(s) awaiting `ingest_messages` batches of {batch}: acknowledged in {:.2} s ({:.0}/s); everything done in {:.2} s: **{:.0}/s** ({commits} commits; each batch's wait {})",
        acked.as_secs_f64(),
        count as f64 / acked.as_secs_f64(),
        settled.as_secs_f64(),
        count as f64 / settled.as_secs_f64(),
        percentiles(waits)
    );
}

fn latency(rt: &tokio::runtime::Runtime, account: &Path, dir: &Path) {
    println!("\n## 3. Single writes during and right after a burst");
    for count in [100_000, 400_000] {
        let path = fresh(account, dir, "latency.db");
        rt.block_on(async {
            let (m, commits) = open(&path).await;
            let probe = ConversationId::c2c("probe").expect("an id");
            let stop = Arc::new(AtomicBool::new(false));
            let samples: Arc<Mutex<Vec<(Instant, Duration)>>> = Arc::default();
            let prober = {
                let (m, stop, samples, probe) = (
                    m.clone(),
                    Arc::clone(&stop),
                    Arc::clone(&samples),
                    probe.clone(),
                );
                tokio::spawn(async move {
                    let mut n = 0_u64;
                    while !stop.load(Ordering::Acquire) {
                        n += 1;
                        let draft = Draft::new(Message::text("", format!("draft {n}")), "", n);
                        let at = Instant::now();
                        m.set_draft(&probe, draft).await.expect("a draft");
                        if let Ok(mut s) = samples.lock() {
                            s.push((at, at.elapsed()));
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                })
            };
            let start = Instant::now();
            ingest_all(&m, burst(count, 20_000_000)).await;
            let ended = Instant::now();
            tokio::time::sleep(Duration::from_secs(2)).await;
            stop.store(true, Ordering::Release);
            prober.await.expect("the prober");
            let samples = samples.lock().expect("samples").clone();
            let during: Vec<Duration> = samples
                .iter()
                .filter(|(at, _)| *at < ended)
                .map(|(_, d)| *d)
                .collect();
            let after: Vec<Duration> = samples
                .iter()
                .filter(|(at, _)| *at >= ended)
                .map(|(_, d)| *d)
                .collect();
            let commits = commits.lock().expect("commits").clone();
            let longest = |from: Instant, to: Instant| {
                commits
                    .iter()
                    .filter(|(at, _)| *at >= from && *at < to)
                    .map(|(_, d)| *d)
                    .max()
                    .unwrap_or_default()
            };
            println!(
                "- burst of {count} ({:.2} s): during: {}; longest commit {:.2} ms",
                (ended - start).as_secs_f64(),
                percentiles(during),
                longest(start, ended).as_secs_f64() * 1e3
            );
            println!(
                "  right after (2 s): {}; longest commit {:.2} ms",
                percentiles(after),
                longest(ended, Instant::now()).as_secs_f64() * 1e3
            );
            m.shutdown().await.expect("shutdown");
        });
        remove_database(&path);
    }
    let mut firsts = Vec::new();
    for _ in 0..5 {
        let path = fresh(account, dir, "first.db");
        firsts.push(rt.block_on(async {
            let (m, _) = open(&path).await;
            let probe = ConversationId::c2c("probe").expect("an id");
            let at = Instant::now();
            m.set_draft(&probe, Draft::new(Message::text("", "first"), "", 1))
                .await
                .expect("a draft");
            let first = at.elapsed();
            m.shutdown().await.expect("shutdown");
            first
        }));
        remove_database(&path);
    }
    println!(
        "- first write after opening the {N}-conversation file (5 opens): {}",
        percentiles(firsts)
    );
}

/// A bare `SELECT` of the store's rows into memory on a fresh connection: what any reader of
/// the same rows pays.
async fn bare_select(path: &Path) -> (Vec<SqliteRow>, Vec<SqliteRow>, Vec<SqliteRow>) {
    let mut conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
        .await
        .expect("a raw connection");
    let records = sqlx::query("SELECT seq, id, record FROM records ORDER BY seq DESC")
        .fetch_all(&mut conn)
        .await
        .expect("select the records");
    let unread = sqlx::query("SELECT * FROM unread_entries")
        .fetch_all(&mut conn)
        .await
        .expect("select the unread entries");
    let tombstones = sqlx::query("SELECT * FROM tombstones")
        .fetch_all(&mut conn)
        .await
        .expect("select the tombstones");
    conn.close().await.expect("close");
    (records, unread, tombstones)
}

/// The child of the kill run: a burst on `path`, killed by the parent midway.
fn child(path: &Path) {
    let rt = runtime();
    rt.block_on(async {
        let (m, _) = open(path).await;
        println!("burst");
        ingest_all(&m, burst(N, 30_000_000)).await;
        println!("done");
        std::future::pending::<()>().await;
    });
}

/// A copy of the account whose writer was killed in the middle of a burst.
fn killed_file(account: &Path, dir: &Path) -> PathBuf {
    use std::io::BufRead;
    let path = fresh(account, dir, "killed-source.db");
    let mut child = std::process::Command::new(std::env::current_exe().expect("this binary"))
        .env(CHILD, &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().expect("its output");
    let mut lines = std::io::BufReader::new(stdout).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("burst"));
    // About half a burst.
    std::thread::sleep(Duration::from_millis(600));
    child.kill().expect("kill the child");
    child.wait().expect("reap the child");
    let _ = std::fs::remove_file(dir.join("killed-source.db-lock"));
    path
}

fn cold_open(rt: &tokio::runtime::Runtime, account: &Path, dir: &Path) {
    println!("\n## 4. Cold open against a bare SELECT of the same rows (medians of 5)");
    let killed = killed_file(account, dir);
    for (label, source) in [
        ("after a clean shutdown", account),
        ("after a kill mid-burst", &killed),
    ] {
        let (mut opens, mut selects) = (Vec::new(), Vec::new());
        let mut conversations = 0;
        let mut rows = 0;
        for _ in 0..5 {
            let path = fresh(source, dir, "open.db");
            let (records, unread, tombstones) = {
                let start = Instant::now();
                let selected = rt.block_on(bare_select(&path));
                selects.push(start.elapsed());
                selected
            };
            rows = records.len();
            drop((records, unread, tombstones));
            remove_database(&path);
            let path = fresh(source, dir, "open.db");
            let start = Instant::now();
            let manager = rt.block_on(async {
                let store = SqliteStore::open(&path).await.expect("open");
                ConversationManager::builder()
                    .self_user_id("me")
                    .store(store)
                    .open()
                    .await
                    .expect("open the manager")
            });
            opens.push(start.elapsed());
            conversations = manager.len();
            rt.block_on(manager.shutdown()).expect("shutdown");
            remove_database(&path);
        }
        opens.sort();
        selects.sort();
        let (open, select) = (opens[2], selects[2]);
        println!(
            "- {label} ({conversations} conversations, {rows} record rows): open {:.0} ms, bare SELECT {:.0} ms: **{:.2}x**",
            open.as_secs_f64() * 1e3,
            select.as_secs_f64() * 1e3,
            open.as_secs_f64() / select.as_secs_f64()
        );
    }
    remove_database(&killed);
}

fn main() {
    if let Some(path) = std::env::var_os(CHILD) {
        child(Path::new(&path));
        return;
    }
    // `cargo bench` passes `--bench`; anything else (a filter) is ignored.
    let rt = runtime();
    let dir = common::scratch_dir("storage");
    let started = Instant::now();
    let account = rt.block_on(build(&dir, N));
    println!(
        "# SQLite store at {N} conversations (account built through ingest_message in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    // `TIMCONV_BENCH_ONLY=open` (or `unread`, `sustained`, `batch`, `latency`) runs one section.
    let only = std::env::var("TIMCONV_BENCH_ONLY").unwrap_or_default();
    let run = |name: &str| only.is_empty() || only == name;
    if run("unread") {
        unread_cost(&rt, &account, &dir);
    }
    if run("sustained") {
        sustained(&rt, &account, &dir);
    }
    if run("batch") {
        batch_ingest(&rt, &account, &dir);
    }
    if run("latency") {
        latency(&rt, &account, &dir);
    }
    if run("open") {
        cold_open(&rt, &account, &dir);
    }
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}
