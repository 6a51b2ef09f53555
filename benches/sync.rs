//! Applying a server delta (DESIGN budget: a delta of 10,000 changed conversations applied at
//! 100,000+ conversations/s).
//!
//! An account of 100,000 conversations (`common::snapshot`) syncs through a bench transport
//! that answers one pull with 10,000 changed conversations, in the engine's default pages of
//! 500: each is the server's state of a conversation of the account whose marks and custom
//! data another device changed (alternately set and cleared, so each run changes all 10,000),
//! with the conversation's last message as the server sends it (already known here: the
//! dedupe path). Timed: `ConversationManager::sync()` from the call to its return, i.e. the
//! pulls, reconciliation, commits, index updates and events of the 20 pages. Measured on a
//! SQLite file (`synchronous = NORMAL`) and then on a memory store, on a two-worker runtime.
//!
//! Run with `cargo bench --bench sync`.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use timconv::store::{ChangeSet, SqliteStore};
use timconv::transport::{
    Bookmark, PendingOperation, PullPage, PullResponse, PushResponse, RemoteChange,
    RemoteConversation, ServerEvent, Transport, TransportError,
};
use timconv::{ConversationManager, MarkFlags, MemoryStore, Store, SyncOptions};

const ACCOUNT: usize = 100_000;
const DELTA: usize = 10_000;
const PAGE: usize = 500;
/// Untimed pause after each sync of the `_then_fold` runs: long enough for the writer to fold
/// 10,000 journaled records (~0.25 s, docs/PERFORMANCE.md section 5).
const FOLD_PAUSE: Duration = Duration::from_millis(700);

/// The sync layer's stored state after a pull that ended at bookmark "0" (a format byte, then
/// its JSON), as if the account had synced before: the runs pull deltas from there.
const SYNC_STATE: &[u8] = b"\x01{\"bookmark\":\"0\"}";

/// Serves prepared pull answers, one per call; pushes are never made.
#[derive(Debug, Clone, Default)]
struct Prepared {
    pages: Arc<Mutex<VecDeque<PullResponse>>>,
}

impl Transport for Prepared {
    fn push(
        &self,
        _: Vec<PendingOperation>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        async { Ok(PushResponse::default()) }.boxed()
    }

    fn pull(
        &self,
        since: Option<Bookmark>,
        _: usize,
    ) -> BoxFuture<'_, Result<PullResponse, TransportError>> {
        let next = self.pages.lock().ok().and_then(|mut p| p.pop_front());
        async move {
            Ok(next.unwrap_or(PullResponse::Page(PullPage {
                changes: Vec::new(),
                bookmark: since.unwrap_or(Bookmark("0".into())),
                has_more: false,
            })))
        }
        .boxed()
    }

    fn connect(&self) -> BoxFuture<'_, Result<BoxStream<'static, ServerEvent>, TransportError>> {
        async { Ok(Box::pin(futures::stream::pending()) as BoxStream<'static, ServerEvent>) }
            .boxed()
    }
}

/// The server's delta for run `run`: 10,000 conversations spread over the account, with the
/// STAR mark set (even runs) or cleared (odd) and custom data naming the run.
fn delta(run: u64) -> VecDeque<PullResponse> {
    let stride = ACCOUNT / DELTA;
    let changes: Vec<RemoteChange> = (0..DELTA)
        .map(|k| {
            let (c, _) = common::conversation(k * stride + 1, ACCOUNT);
            let mut marks = c.marks;
            marks.set(MarkFlags::STAR, run.is_multiple_of(2));
            RemoteChange::Conversation(RemoteConversation {
                pinned: c.is_pinned,
                marks: marks.bits(),
                custom_data: format!("run {run}").as_str().into(),
                folders: c.folders.clone(),
                read_position: c.read_position(),
                messages: c.last_message.into_iter().collect(),
                show_name: c.show_name,
                ..RemoteConversation::new(c.id)
            })
        })
        .collect();
    let pages = changes.chunks(PAGE).count();
    changes
        .chunks(PAGE)
        .enumerate()
        .map(|(n, chunk)| {
            PullResponse::Page(PullPage {
                changes: chunk.to_vec(),
                bookmark: Bookmark(format!("{run}-{n}")),
                has_more: n + 1 < pages,
            })
        })
        .collect()
}

async fn open(store: impl Store, transport: Prepared) -> ConversationManager {
    let manager = ConversationManager::builder()
        .store(store)
        .self_user_id("me")
        .transport(transport)
        .sync_options(SyncOptions::default().pull_page_size(PAGE))
        .open()
        .await
        .expect("open");
    // The first cycle (on open) pulls nothing new.
    manager.sync().await.expect("first sync");
    manager
}

fn apply_delta(c: &mut Criterion) {
    // Two workers, as `#[tokio::main]` gives an app on this 2-core machine: the sync task,
    // the writer and the freeing of replaced records run side by side as they would there.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let dir = common::scratch_dir("sync");
    let path = dir.join("account.db");
    let mut group = c.benchmark_group("sync_delta");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(DELTA as u64));
    let mut run = 0_u64;

    // SQLite, the embedded default, first: each store gets a process whose heap only its own
    // manager has used (run after the memory store's manager, the SQLite runs measured 30-40%
    // slower, docs/PERFORMANCE.md section 6).
    let transport = Prepared::default();
    let sqlite = rt.block_on(async {
        common::write_sqlite_account(&path, ACCOUNT).await;
        let store = SqliteStore::open(&path).await.expect("open the file");
        let mut bookmark = ChangeSet::default();
        bookmark.sync.state = Some(SYNC_STATE.to_vec());
        store.commit(&bookmark).await.expect("store a bookmark");
        open(store, transport.clone()).await
    });
    // With a pause between syncs (not timed) in which the writer folds the journal the
    // previous sync left: the apply rate with folding deferred, as after a real sync, which is
    // followed by quiet. These go first, on the journal as the file was opened (empty): after
    // the back-to-back runs they would start with the journal those left, up to
    // JOURNAL_LIMIT records, and pay for folding it. Back to back, a sync arrives while the
    // writer folds what the one before left, and waits for the fold step.
    for (suffix, pause) in [("_then_fold", FOLD_PAUSE), ("", Duration::ZERO)] {
        let id = BenchmarkId::new(format!("sqlite_normal{suffix}"), DELTA);
        group.bench_function(id, |b| {
            b.iter_custom(|iters| timed_syncs(&rt, &sqlite, &transport, &mut run, iters, pause));
        });
    }
    rt.block_on(sqlite.shutdown()).expect("shutdown");
    drop(sqlite);

    let transport = Prepared::default();
    let memory = rt.block_on(async {
        let mut snapshot = common::snapshot(ACCOUNT);
        snapshot.sync_state = Some(SYNC_STATE.to_vec());
        open(MemoryStore::from_snapshot(snapshot), transport.clone()).await
    });
    group.bench_function(BenchmarkId::new("memory_store", DELTA), |b| {
        b.iter_custom(|iters| {
            timed_syncs(&rt, &memory, &transport, &mut run, iters, Duration::ZERO)
        });
    });
    rt.block_on(memory.shutdown()).expect("shutdown");
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `iters` syncs of a fresh delta each, timing only the `sync()` calls; sleeps `pause`
/// (untimed, the runtime running) after each.
fn timed_syncs(
    rt: &tokio::runtime::Runtime,
    manager: &ConversationManager,
    transport: &Prepared,
    run: &mut u64,
    iters: u64,
    pause: Duration,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        *run += 1;
        let pages = delta(*run);
        if let Ok(mut queue) = transport.pages.lock() {
            *queue = pages;
        }
        let start = Instant::now();
        rt.block_on(manager.sync()).expect("sync");
        total += start.elapsed();
        if !pause.is_zero() {
            rt.block_on(async { tokio::time::sleep(pause).await });
        }
    }
    total
}

criterion_group!(benches, apply_delta);
criterion_main!(benches);
