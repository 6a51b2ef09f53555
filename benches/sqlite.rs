//! The SQLite store at 100,000 conversations: cold open, and bursts of incoming messages.
//!
//! DESIGN budgets: a cold open from SQLite within 2x of a bare `SELECT` of the same rows into
//! memory (measured in the same run); a burst of 100,000 incoming messages at ≥ 100,000/s with
//! every acknowledged one durable.
//!
//! The account (`common::snapshot`, 100,000 conversations) is written once into a SQLite file
//! under `target/tmp` by one `Store::commit`, then closed (WAL checkpointed).
//!
//! - `sqlite_open/*`: each iteration starts from nothing in memory (a new store, a new
//!   connection; the file is in the OS page cache, as after any recent use):
//!   - `cold_open`: `SqliteStore::open(path)` + `ConversationManager::builder().store(..)
//!     .open()`: connect, schema check, load every row, decode it, build the index;
//!   - `bare_select`: a fresh sqlx connection and `SELECT * FROM conversations` fetched into
//!     a `Vec<SqliteRow>` (every value copied out of SQLite), then `SELECT * FROM
//!     conversation_log`, the store's journal of commits not folded yet (empty here: the account
//!     is written and closed, which folds it);
//!   - `cold_open_journal` / `bare_select_journal`: the same two on a copy of the account whose
//!     journal holds the scattered burst below (100,000 records in 196 entries, committed
//!     through `Store::commit` and not folded); the open starts from a fresh copy each time;
//!   - where cold open's time goes: `typed_select` (the store's own `SELECT` of 16 columns
//!     decoded into owned Rust values, no JSON), `json_decode` (`serde_json` decoding of the
//!     rows' last message, @ info and unread bookkeeping, from strings already in memory) and
//!     `store_load` (`SqliteStore::open` + `Store::load`: the whole `Snapshot`, no index). The
//!     index build is `cold_open - store_load`.
//!
//!   Only the open / select is timed; dropping what it returned is not.
//! - bursts of incoming messages, each a new last message with one unread that moves its
//!   conversation to the top, on a fresh copy of the account file per run (copied, synced and
//!   opened outside the timing). Messages go to conversations scattered over the file (rows
//!   are stored in account order; which conversations are busy has nothing to do with it):
//!   - `sqlite_burst_runs/*` (printed, not criterion: a run takes 5–15 s and criterion needs
//!     at least 11): 100,000 `ingest_message` calls spawned at once (tokio, 2 worker threads)
//!     and all awaited; the time is from the first spawn to the last `Ok`. An `Ok` is
//!     returned only once the message's commit is durable (`synchronous = NORMAL`, the
//!     default: survives a process crash; `FULL`: survives power loss too). The writer groups
//!     the writes queued during a commit into one transaction (up to 512). `burst_normal` and
//!     `burst_full` send one message to each of the 100,000 conversations;
//!     `burst_normal_hot` sends 1,000 messages to each of 100; `burst_normal_row_order` is
//!     `burst_normal` with the conversations taken in row order (neighbouring rows share
//!     pages: the most favourable layout, for contrast). Three runs each (median and
//!     range); the store is wrapped to count commits and the time spent inside
//!     `Store::commit`, and the folds of the journal `Store::idle` did during the burst; the
//!     shutdown after the burst (which folds the rest of the journal) is timed apart and a rate
//!     counting it is printed too; after the first run the file is reopened from scratch and
//!     every acknowledged message must be there.
//!   - `sqlite_burst/*` (criterion, one run per sample): `burst_memory_store`, the same
//!     100,000-message burst on a `MemoryStore` (the writer's own ceiling, no SQLite);
//!     `sequential_normal` / `sequential_full`, one call at a time on the SQLite store, each
//!     awaited before the next (nothing to group): 2,000 and 200 messages. Criterion's
//!     throughput is messages per second.
//!
//! Run with `cargo bench --bench sqlite` (about 4 minutes on 2 cores). Criterion warns that
//! it cannot complete 10 samples in the target time: expected, each sample is one run.
#![allow(clippy::print_stdout)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use timconv::store::{ChangeSet, Snapshot, SqliteStore, SqliteStoreOptions, Synchronous};
use timconv::{
    ConversationId, ConversationManager, GroupAtInfo, IngestOutcome, Message, Store as _,
};

/// Conversations in the account.
const N: usize = 100_000;
/// Messages in a burst.
const BURST: usize = 100_000;
/// Messages of the sequential runs.
const SEQUENTIAL_NORMAL: usize = 2_000;
const SEQUENTIAL_FULL: usize = 200;
/// Conversations a "hot" burst goes to (1,000 messages each).
const HOT: usize = 100;

/// The `SELECT` of `SqliteStore::load`: its columns, in its order.
const LOAD_SELECT: &str = "SELECT id, order_key, is_pinned, marks, unread_count, \
    receive_option, group_type, show_name, face_url, custom_data, c2c_read_timestamp, \
    group_read_sequence, last_message, draft, group_at_info, unread_messages FROM conversations";

/// A row of `LOAD_SELECT` as owned Rust values.
type LoadRow = (
    String,
    i64,
    bool,
    i64,
    i64,
    i64,
    Option<i64>,
    String,
    String,
    Vec<u8>,
    i64,
    i64,
    Option<String>,
    Option<String>,
    String,
    String,
);

/// The scratch directory and the account file in it.
static ACCOUNT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();

/// The scratch directory and the account file in it, written once per process.
fn account() -> &'static (PathBuf, PathBuf) {
    ACCOUNT.get_or_init(|| {
        let dir = common::scratch_dir("sqlite-bench");
        let path = dir.join("account.db");
        let start = Instant::now();
        common::runtime().block_on(common::write_sqlite_account(&path, N));
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        println!(
            "account of {N} conversations written in {:.2} s: {:.1} MB ({:.0} B per conversation)",
            start.elapsed().as_secs_f64(),
            size as f64 / 1e6,
            size as f64 / N as f64
        );
        (dir, path)
    })
}

fn account_path() -> &'static Path {
    &account().1
}

fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(file));
    }
}

async fn open_manager(path: &Path, synchronous: Synchronous) -> ConversationManager {
    let store = SqliteStoreOptions::new()
        .filename(path)
        .synchronous(synchronous)
        .open()
        .await
        .expect("open the store");
    ConversationManager::builder()
        .store(store)
        .self_user_id("me")
        .open()
        .await
        .expect("open the manager")
}

async fn bare_connection(path: &Path) -> SqliteConnection {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
        .await
        .expect("connect")
}

/// The bare `SELECT`: every row and column of the tables that hold conversations, the table
/// and the store's journal of recent commits (empty unless said).
async fn bare_select(conn: &mut SqliteConnection) -> (Vec<SqliteRow>, Vec<SqliteRow>) {
    let rows = sqlx::query("SELECT * FROM conversations")
        .fetch_all(&mut *conn)
        .await
        .expect("select");
    let journal = sqlx::query("SELECT * FROM conversation_log")
        .fetch_all(&mut *conn)
        .await
        .expect("select the journal");
    (rows, journal)
}

/// The account file with a journal not folded yet: a copy of the account to which the
/// 100,000-message scattered burst was committed (196 commits of up to 512 conversations,
/// through `Store::commit` as the writer would), the store then dropped without closing.
fn journal_account() -> &'static Path {
    static JOURNAL: OnceLock<PathBuf> = OnceLock::new();
    JOURNAL.get_or_init(|| {
        let path = fresh_copy("journal-source");
        common::runtime().block_on(async {
            let store = SqliteStore::open(&path).await.expect("open the store");
            let snapshot = store.load().await.expect("load");
            let mut by_id: HashMap<ConversationId, timconv::store::StoredConversation> = snapshot
                .conversations
                .into_iter()
                .map(|s| (s.conversation.id.clone(), s))
                .collect();
            let mut clock = snapshot.order_clock;
            let messages = burst_messages(BURST, N, SCATTERED);
            for group in messages.chunks(512) {
                let mut change = ChangeSet::default();
                for (id, message) in group {
                    let mut stored = by_id.remove(id).expect("conversation");
                    clock += 1;
                    stored.conversation.order_key = clock;
                    stored.unread_messages.push(timconv::store::UnreadMessage {
                        key: message.msg_id.clone().expect("id"),
                        position: message.server_time.expect("time"),
                    });
                    stored.conversation.unread_count = stored.unread_messages.len() as u64;
                    stored.conversation.last_message = Some(message.clone());
                    change.upserts.push(stored.clone());
                    by_id.insert(id.clone(), stored);
                }
                change.order_clock = clock;
                store.commit(&change).await.expect("commit");
            }
            // Not closed (closing folds the journal); let the pool's connection go, then
            // checkpoint the WAL so that the file alone holds everything.
            drop(store);
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut conn = bare_connection(&path).await;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await
                .expect("checkpoint");
            conn.close().await.expect("close");
        });
        path
    })
}

fn open(c: &mut Criterion) {
    let path = account_path();
    let rt = common::runtime();

    // The JSON columns, for `json_decode`.
    let json: Vec<(Option<String>, String, String)> = rt.block_on(async {
        let mut conn = bare_connection(path).await;
        let rows = sqlx::query_as(
            "SELECT last_message, group_at_info, unread_messages FROM conversations",
        )
        .fetch_all(&mut conn)
        .await
        .expect("select the JSON columns");
        conn.close().await.expect("close");
        rows
    });
    assert_eq!(json.len(), N);

    let mut group = c.benchmark_group("sqlite_open");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    group.bench_function(BenchmarkId::new("cold_open", N), |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let store = SqliteStore::open(path).await.expect("open the store");
                let manager = ConversationManager::builder()
                    .store(store)
                    .self_user_id("me")
                    .open()
                    .await
                    .expect("open the manager");
                elapsed += start.elapsed();
                assert_eq!(manager.len(), N);
                manager.shutdown().await.expect("shut down");
            }
            elapsed
        });
    });

    group.bench_function(BenchmarkId::new("bare_select", N), |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let mut conn = bare_connection(path).await;
                let (rows, journal) = bare_select(&mut conn).await;
                elapsed += start.elapsed();
                assert_eq!(rows.len(), N);
                assert!(journal.is_empty());
                drop((rows, journal));
                conn.close().await.expect("close");
            }
            elapsed
        });
    });

    let journal = journal_account();
    group.bench_function(BenchmarkId::new("cold_open_journal", N), |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                // A fresh copy each time: the manager folds the journal once open.
                let path = copy_database(journal, "journal-open");
                let start = Instant::now();
                let store = SqliteStore::open(&path).await.expect("open the store");
                let manager = ConversationManager::builder()
                    .store(store)
                    .self_user_id("me")
                    .open()
                    .await
                    .expect("open the manager");
                elapsed += start.elapsed();
                assert_eq!(manager.len(), N);
                manager.shutdown().await.expect("shut down");
                remove_database(&path);
            }
            elapsed
        });
    });

    group.bench_function(BenchmarkId::new("bare_select_journal", N), |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let mut conn = bare_connection(journal).await;
                let (rows, log) = bare_select(&mut conn).await;
                elapsed += start.elapsed();
                assert_eq!(rows.len(), N);
                assert!(!log.is_empty());
                drop((rows, log));
                conn.close().await.expect("close");
            }
            elapsed
        });
    });

    group.bench_function(BenchmarkId::new("typed_select", N), |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let mut conn = bare_connection(path).await;
                let rows: Vec<LoadRow> = sqlx::query_as(LOAD_SELECT)
                    .fetch_all(&mut conn)
                    .await
                    .expect("select");
                elapsed += start.elapsed();
                assert_eq!(rows.len(), N);
                drop(rows);
                conn.close().await.expect("close");
            }
            elapsed
        });
    });

    group.bench_function(BenchmarkId::new("json_decode", N), |b| {
        let json = &json;
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let decoded: Vec<_> = json
                    .iter()
                    .map(|(last, at, unread)| {
                        let last: Option<Message> = last
                            .as_deref()
                            .map(|s| serde_json::from_str(s).expect("message JSON"));
                        let at: Vec<GroupAtInfo> = serde_json::from_str(at).expect("@ JSON");
                        let unread: Vec<(String, u64)> =
                            serde_json::from_str(unread).expect("unread JSON");
                        (last, at, unread)
                    })
                    .collect();
                elapsed += start.elapsed();
                assert_eq!(decoded.len(), N);
                drop(decoded);
            }
            elapsed
        });
    });

    group.bench_function(BenchmarkId::new("store_load", N), |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let store = SqliteStore::open(path).await.expect("open the store");
                let snapshot = store.load().await.expect("load");
                elapsed += start.elapsed();
                assert_eq!(snapshot.conversations.len(), N);
                drop(snapshot);
                store.close().await.expect("close");
            }
            elapsed
        });
    });

    group.finish();
}

/// Spreads the messages of a burst over the account: message `k` goes to conversation
/// `(k % spread) * stride % N`. With `SCATTERED`, which is coprime with `N`, the first `spread`
/// messages go to distinct conversations scattered over the file (rows are stored in account
/// order, and which conversations are busy has nothing to do with when they were created);
/// with `IN_ROW_ORDER` they go to neighbouring rows (the most favourable layout).
const SCATTERED: usize = 48_271;
const IN_ROW_ORDER: usize = 1;

/// The message of a burst at `k`, spread over `spread` conversations `stride` apart: from a
/// peer, past every read position (so it counts as unread), newer than every message of the
/// account (so it is the new last message and moves its conversation to the top).
fn burst_message(k: usize, spread: usize, stride: usize) -> (ConversationId, Message) {
    let position = common::POSITION_CEILING + k as u64;
    let mut m = Message::text(format!("burst{k}"), "see you tomorrow");
    m.server_time = Some(position);
    m.seq = Some(position);
    m.sender = Some("peer".to_owned());
    m.is_from_self = Some(false);
    (common::conversation_id((k % spread) * stride % N), m)
}

fn burst_messages(count: usize, spread: usize, stride: usize) -> Vec<(ConversationId, Message)> {
    (0..count)
        .map(|k| burst_message(k, spread, stride))
        .collect()
}

/// A fresh copy of the account file, synced so that its writeback does not land in the
/// measured fsyncs.
fn fresh_copy(name: &str) -> PathBuf {
    copy_database(&account().1, name)
}

/// A copy of the database at `source` (with its WAL, if any) named `name` in the scratch
/// directory, synced.
fn copy_database(source: &Path, name: &str) -> PathBuf {
    let dir = &account().0;
    let path = dir.join(format!("{name}.db"));
    remove_database(&path);
    for suffix in ["", "-wal"] {
        let mut from = source.as_os_str().to_owned();
        from.push(suffix);
        let mut to = path.as_os_str().to_owned();
        to.push(suffix);
        match std::fs::copy(&from, &to) {
            Ok(_) => std::fs::File::open(&to)
                .and_then(|f| f.sync_all())
                .expect("sync the copy"),
            // No WAL: the file holds everything.
            Err(e) if !suffix.is_empty() && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("copy the database: {e}"),
        }
    }
    path
}

/// Spawns one task per message, awaits every one; returns the time from the first spawn to
/// the last acknowledgement.
async fn burst(
    manager: &ConversationManager,
    messages: Vec<(ConversationId, Message)>,
) -> Duration {
    let count = messages.len();
    let start = Instant::now();
    let tasks: Vec<_> = messages
        .into_iter()
        .map(|(id, message)| {
            let manager = manager.clone();
            tokio::spawn(async move { manager.ingest_message(&id, message).await })
        })
        .collect();
    let mut acknowledged = 0;
    for task in tasks {
        let outcome = task.await.expect("task").expect("ingest");
        assert_eq!(outcome, IngestOutcome::Updated);
        acknowledged += 1;
    }
    let elapsed = start.elapsed();
    assert_eq!(acknowledged, count);
    elapsed
}

/// One call at a time, each awaited before the next.
async fn sequential(
    manager: &ConversationManager,
    messages: Vec<(ConversationId, Message)>,
) -> Duration {
    let start = Instant::now();
    for (id, message) in messages {
        let outcome = manager.ingest_message(&id, message).await.expect("ingest");
        assert_eq!(outcome, IngestOutcome::Updated);
    }
    start.elapsed()
}

/// Commits seen by a [`Timed`] store.
#[derive(Debug, Default)]
struct CommitStats {
    commits: usize,
    rows: usize,
    largest: usize,
    time: Duration,
    /// Calls of `Store::idle` that found work (folded part of the journal), and their time.
    folds: usize,
    fold_time: Duration,
    /// When each of those started, and how long it took.
    fold_starts: Vec<(Instant, Duration)>,
}

/// A [`SqliteStore`] that counts its commits, their rows and the time spent in them: where a
/// burst's time goes, measured from outside the crate.
#[derive(Debug, Clone)]
struct Timed {
    inner: SqliteStore,
    stats: Arc<Mutex<CommitStats>>,
}

impl timconv::Store for Timed {
    fn load(&self) -> BoxFuture<'_, timconv::Result<Snapshot>> {
        self.inner.load()
    }

    fn commit<'a>(&'a self, change: &'a ChangeSet) -> BoxFuture<'a, timconv::Result<()>> {
        async move {
            let start = Instant::now();
            let result = self.inner.commit(change).await;
            let elapsed = start.elapsed();
            let mut stats = self.stats.lock().expect("stats");
            stats.commits += 1;
            stats.rows += change.upserts.len();
            stats.largest = stats.largest.max(change.upserts.len());
            stats.time += elapsed;
            result
        }
        .boxed()
    }

    fn close(&self) -> BoxFuture<'_, timconv::Result<()>> {
        self.inner.close()
    }

    fn idle(&self) -> BoxFuture<'_, timconv::Result<bool>> {
        async move {
            let start = Instant::now();
            let result = self.inner.idle().await;
            let elapsed = start.elapsed();
            // A call with nothing to fold returns at once; count the ones that worked.
            if elapsed > Duration::from_micros(200) {
                let mut stats = self.stats.lock().expect("stats");
                stats.folds += 1;
                stats.fold_time += elapsed;
                stats.fold_starts.push((start, elapsed));
            }
            result
        }
        .boxed()
    }
}

/// One timed burst of 100,000 messages over `spread` conversations on a fresh copy of the
/// account, through a [`Timed`] store. With `verify`, the file is then reopened from scratch
/// and every acknowledged message must be there: counted in its conversation's unread, the
/// newest one as its last message. Returns the time from the first spawn to the last
/// acknowledgement, and the commits seen.
async fn burst_run(
    synchronous: Synchronous,
    spread: usize,
    stride: usize,
    verify: bool,
) -> (Duration, CommitStats, Duration) {
    let path = fresh_copy("burst");
    let stats = Arc::new(Mutex::new(CommitStats::default()));
    let store = Timed {
        inner: SqliteStoreOptions::new()
            .filename(&path)
            .synchronous(synchronous)
            .open()
            .await
            .expect("open the store"),
        stats: Arc::clone(&stats),
    };
    let manager = ConversationManager::builder()
        .store(store)
        .self_user_id("me")
        .open()
        .await
        .expect("open the manager");
    let messages = burst_messages(BURST, spread, stride);
    let before: HashMap<ConversationId, u64> = if verify {
        messages
            .iter()
            .map(|(id, _)| {
                (
                    id.clone(),
                    manager.get(id).expect("conversation").unread_count,
                )
            })
            .collect()
    } else {
        HashMap::new()
    };
    let newest: HashMap<ConversationId, Option<String>> = if verify {
        messages
            .iter()
            .map(|(id, m)| (id.clone(), m.msg_id.clone()))
            .collect()
    } else {
        HashMap::new()
    };
    let began = Instant::now();
    let elapsed = burst(&manager, messages).await;
    let ended = Instant::now();
    // Shutting down folds what is left of the store's journal into the table.
    let closing = Instant::now();
    manager.shutdown().await.expect("shut down");
    let shutdown = closing.elapsed();
    drop(manager);

    if verify {
        let again = open_manager(&path, Synchronous::Normal).await;
        for (id, unread) in &before {
            let conversation = again.get(id).expect("conversation");
            assert_eq!(
                conversation.unread_count,
                unread + (BURST / spread) as u64,
                "every acknowledged message is counted after reopening"
            );
            assert_eq!(
                conversation.last_message.and_then(|m| m.msg_id),
                newest[id],
                "the newest message is the last one after reopening"
            );
        }
        again.shutdown().await.expect("shut down");
    }
    remove_database(&path);
    let mut stats = std::mem::take(&mut *stats.lock().expect("stats"));
    // Folds during the burst only (not those after its last acknowledgement).
    let during: Vec<Duration> = stats
        .fold_starts
        .iter()
        .filter(|(t, _)| *t >= began && *t < ended)
        .map(|(_, d)| *d)
        .collect();
    if during.len() != stats.folds {
        println!(
            "    (next line: {} more idle folds after the last acknowledgement, {:.3} s)",
            stats.folds - during.len(),
            (stats.fold_time - during.iter().sum::<Duration>()).as_secs_f64()
        );
    }
    stats.folds = during.len();
    stats.fold_time = during.iter().sum();
    (elapsed, stats, shutdown)
}

/// Criterion's command-line options that take a value.
const CRITERION_VALUE_OPTIONS: [&str; 15] = [
    "--color",
    "-c",
    "--save-baseline",
    "-s",
    "--baseline",
    "-b",
    "--baseline-lenient",
    "--load-baseline",
    "--sample-size",
    "--warm-up-time",
    "--measurement-time",
    "--nresamples",
    "--noise-threshold",
    "--profile-time",
    "--output-format",
];

/// Bursts of 100,000 messages on the SQLite store, measured as a few printed runs rather than
/// by criterion: one run takes 5–15 s here, and criterion needs at least 11 (a warm-up and 10
/// samples). Three runs each under `cargo bench` (their median and range), one run of
/// `burst_normal` under `cargo test --benches`. The first run of each is verified durable.
fn burst_runs(_: &mut Criterion) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let bench_mode = has("--bench") && !has("--test");
    // Criterion's positional arguments are filters; skip the values of its options.
    let mut filters = Vec::new();
    let mut values = args.iter();
    while let Some(arg) = values.next() {
        if CRITERION_VALUE_OPTIONS.contains(&arg.as_str()) {
            values.next();
        } else if !arg.starts_with('-') {
            filters.push(arg.as_str());
        }
    }
    // (name, synchronous, conversations the burst goes to, how far apart)
    let configurations = [
        ("burst_normal", Synchronous::Normal, N, SCATTERED),
        ("burst_full", Synchronous::Full, N, SCATTERED),
        ("burst_normal_hot", Synchronous::Normal, HOT, SCATTERED),
        (
            "burst_normal_row_order",
            Synchronous::Normal,
            N,
            IN_ROW_ORDER,
        ),
    ];
    let runs = if bench_mode { 3 } else { 1 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    for (name, synchronous, spread, stride) in configurations {
        let full_name = format!("sqlite_burst_runs/{name}/{BURST}");
        if !filters.is_empty() && !filters.iter().any(|f| full_name.contains(f)) {
            continue;
        }
        if has("--list") {
            println!("{full_name}: benchmark");
            continue;
        }
        if !bench_mode && name != "burst_normal" {
            continue;
        }
        account();
        println!(
            "{full_name}: {BURST} messages spawned at once over {spread} conversations \
             ({}), synchronous {synchronous:?}",
            if stride == IN_ROW_ORDER {
                "neighbouring rows"
            } else {
                "scattered over the file"
            }
        );
        let mut rates = Vec::new();
        for run in 0..runs {
            let (elapsed, stats, shutdown) =
                rt.block_on(burst_run(synchronous, spread, stride, run == 0));
            let rate = BURST as f64 / elapsed.as_secs_f64();
            rates.push(rate);
            println!(
                "  run {}: {:>7.0} messages/s ({:.3} s){}; {} commits of {:.0} rows on average \
                 (largest {}), {:.2} ms per commit: {:.3} s inside Store::commit, {:.3} s \
                 outside it; {} idle folds during the burst ({:.3} s); shutdown (folding the \
                 rest of the journal) {:.3} s, {:.0} messages/s counting it",
                run + 1,
                rate,
                elapsed.as_secs_f64(),
                if run == 0 {
                    ", every message found after reopening the file"
                } else {
                    ""
                },
                stats.commits,
                stats.rows as f64 / stats.commits.max(1) as f64,
                stats.largest,
                stats.time.as_secs_f64() * 1e3 / stats.commits.max(1) as f64,
                stats.time.as_secs_f64(),
                elapsed.saturating_sub(stats.time).as_secs_f64(),
                stats.folds,
                stats.fold_time.as_secs_f64(),
                shutdown.as_secs_f64(),
                BURST as f64 / (elapsed + shutdown).as_secs_f64()
            );
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "  median {:.0} messages/s (range {:.0}–{:.0})",
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1]
        );
    }
}

/// What a run of `sqlite_burst` writes to.
#[derive(Clone, Copy)]
enum Backend {
    Sqlite(Synchronous),
    Memory,
}

/// The writes that take under ~2 s a run, by criterion: a burst on the memory store (the
/// writer's own ceiling, no SQLite), and one-at-a-time writes on the SQLite store.
fn ingest(c: &mut Criterion) {
    account();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");

    let mut group = c.benchmark_group("sqlite_burst");
    // One iteration per sample: each sets up a fresh account (untimed) and runs once.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));

    // (name, store, messages, spawned at once)
    let runs: [(&str, Backend, usize, bool); 3] = [
        ("burst_memory_store", Backend::Memory, BURST, true),
        (
            "sequential_normal",
            Backend::Sqlite(Synchronous::Normal),
            SEQUENTIAL_NORMAL,
            false,
        ),
        (
            "sequential_full",
            Backend::Sqlite(Synchronous::Full),
            SEQUENTIAL_FULL,
            false,
        ),
    ];
    for (name, backend, count, concurrent) in runs {
        group.throughput(Throughput::Elements(count as u64));
        group.bench_function(BenchmarkId::new(name, count), |b| {
            b.to_async(&rt).iter_custom(|iters| async move {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    let (manager, path) = match backend {
                        Backend::Sqlite(synchronous) => {
                            let path = fresh_copy(name);
                            (open_manager(&path, synchronous).await, Some(path))
                        }
                        Backend::Memory => (common::open_account(N).await, None),
                    };
                    let messages = burst_messages(count, N, SCATTERED);
                    elapsed += if concurrent {
                        burst(&manager, messages).await
                    } else {
                        sequential(&manager, messages).await
                    };
                    manager.shutdown().await.expect("shut down");
                    drop(manager);
                    if let Some(path) = path {
                        remove_database(&path);
                    }
                }
                elapsed
            });
        });
    }
    group.finish();
}

/// Removes the scratch directory, if a bench created it.
fn cleanup(_: &mut Criterion) {
    if let Some((dir, _)) = ACCOUNT.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

criterion_group!(benches, open, ingest, burst_runs, cleanup);
criterion_main!(benches);
