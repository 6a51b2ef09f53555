//! Memory per conversation of a manager opened from a SQLite file of 100,000 conversations.
//!
//! Not a criterion bench: it prints figures once, in the manner of `benches/memory.rs` (whose
//! counting allocator it repeats: benches cannot share a `#[global_allocator]` without
//! installing it in every bench). The account is written into a SQLite file (`common::
//! write_sqlite_account`), then measured in a fresh child process (this binary run with
//! `--child PATH N`), relative to the process before the store existed:
//!
//! - **live heap bytes**, counted by the `#[global_allocator]` below: Rust allocations not yet
//!   freed. SQLite's own memory (page cache, prepared statements) is allocated by the bundled C
//!   library with `malloc`, so it is *not* in this figure;
//! - **RSS** (`/proc/self/statm`): touched pages, SQLite's memory, allocator overhead and
//!   freed memory the allocator keeps included.
//!
//! Phases: `store` (`SqliteStore::open`: the pool and its one connection, schema checked),
//! `manager` (`ConversationManager::builder().store(..).open()`: every row loaded and decoded,
//! the index built, the loaded `Snapshot` consumed), then `shutdown` (the store closed, the
//! manager's index kept).
//!
//! Run with `cargo bench --bench sqlite_memory`.

// The crate denies unsafe code in every target. As in `benches/memory.rs`, a counting global
// allocator is the one exception, confined to this file.
#![allow(unsafe_code)]
#![allow(clippy::print_stdout)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use timconv::store::SqliteStore;
use timconv::{ConversationManager, Message};

const N: usize = 100_000;

/// Forwards to [`System`] and keeps the bytes currently allocated, and their peak.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grow(bytes: isize) {
    let now = LIVE.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counters are plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `alloc` are passed on as they are.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grow(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; `new_size` is the caller's, unchanged.
        let q = unsafe { System.realloc(ptr, layout, new_size) };
        if !q.is_null() {
            grow(new_size as isize - layout.size() as isize);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> i64 {
    LIVE.load(Relaxed) as i64
}

fn status_field(name: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0)
}

fn per(bytes: i64, n: usize) -> f64 {
    bytes as f64 / n as f64
}

fn mb(bytes: i64) -> f64 {
    bytes as f64 / 1e6
}

fn child(path: &Path, n: usize) {
    let rt = common::runtime();
    let (rss0, live0) = (common::statm().0 as i64, live());
    let store = rt
        .block_on(SqliteStore::open(path))
        .expect("open the store");
    let (rss1, live1) = (common::statm().0 as i64, live());
    PEAK.store(live1 as isize, Relaxed);
    let manager: ConversationManager = rt
        .block_on(
            ConversationManager::builder()
                .store(store)
                .self_user_id("me")
                .open(),
        )
        .expect("open the manager");
    let (rss2, live2) = (common::statm().0 as i64, live());
    let live_peak = PEAK.load(Relaxed) as i64;
    let rss_peak = status_field("VmHWM") as i64;
    assert_eq!(manager.len(), n);
    rt.block_on(manager.shutdown()).expect("shut down");
    let (rss3, live3) = (common::statm().0 as i64, live());

    println!("n={n}, from a SQLite file:");
    println!(
        "  store open (pool, one connection)       {:>8.2} MB live {:>8.2} MB RSS (fixed, not per conversation)",
        mb(live1 - live0),
        mb(rss1 - rss0)
    );
    println!(
        "  manager (record + index), per conv.     {:>8.0} B live  {:>8.0} B RSS",
        per(live2 - live1, n),
        per(rss2 - rss1, n)
    );
    println!(
        "  whole session (store + manager), per    {:>8.0} B live  {:>8.0} B RSS",
        per(live2 - live0, n),
        per(rss2 - rss0, n)
    );
    println!(
        "  peak during open, above the store, per  {:>8.0} B live  {:>8.0} B RSS (VmHWM)",
        per(live_peak - live1, n),
        per(rss_peak - rss1, n)
    );
    println!(
        "  after shutdown (store closed), per      {:>8.0} B live  {:>8.0} B RSS",
        per(live3 - live0, n),
        per(rss3 - rss0, n)
    );
    println!(
        "  process: {:.1} MB live heap / {:.1} MB RSS after open; peak {:.1} MB live / {:.1} MB RSS",
        mb(live2),
        mb(rss2),
        mb(live_peak),
        mb(rss_peak)
    );
    drop(manager);
}

/// The heap of one last message of the accounts as built, and as decoded from the JSON the
/// SQLite store keeps (what a record loaded from the file holds).
fn one_message() {
    let built = common::conversation(1, N)
        .conversation
        .last_message
        .expect("a last message");
    let json = serde_json::to_string(&built).expect("encode");
    let before = live();
    let copy = built.clone();
    let built_heap = live() - before;
    let before = live();
    let mut decoded: Message = serde_json::from_str(&json).expect("decode");
    let decoded_heap = live() - before;
    assert_eq!(decoded, copy);
    let before = live();
    decoded.extra = serde_json::Map::new();
    let extra_heap = before - live();
    println!(
        "one last message ({} B of JSON): {built_heap} B heap as built, {decoded_heap} B as \
         decoded from its JSON, of which {extra_heap} B held by its empty `extra` map",
        json.len()
    );
    drop((copy, decoded));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        let path = args.get(at + 1).expect("--child PATH N");
        let n = args
            .get(at + 2)
            .and_then(|n| n.parse().ok())
            .expect("--child PATH N");
        child(Path::new(path), n);
        return;
    }
    one_message();
    let dir = common::scratch_dir("sqlite-memory");
    let path = dir.join("account.db");
    common::runtime().block_on(common::write_sqlite_account(&path, N));
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(&exe)
        .arg("--child")
        .arg(&path)
        .arg(N.to_string())
        .output()
        .expect("run a child");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
}
