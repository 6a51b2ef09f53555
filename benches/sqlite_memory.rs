//! Memory per conversation of a manager opened from a SQLite file of 100,000 conversations.
//!
//! Not a criterion bench: it prints figures once, in the manner of `benches/memory.rs`, with the
//! same counting allocator (`benches/counting_alloc/`). The account is written into a SQLite file (`common::
//! write_sqlite_account`), then measured in a fresh child process (this binary run with
//! `--child PATH N`), relative to the process before the store existed:
//!
//! - **live heap bytes**, counted by the global allocator of `benches/counting_alloc/`: Rust allocations not yet
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

#![allow(clippy::print_stdout)]

mod common;
mod counting_alloc;

use std::path::Path;
use std::process::Command;

use timconv::store::SqliteStore;
use timconv::{ConversationManager, Message};

const N: usize = 100_000;

#[global_allocator]
static ALLOCATOR: counting_alloc::Counting = counting_alloc::Counting;

fn per(bytes: i64, n: usize) -> f64 {
    bytes as f64 / n as f64
}

fn mb(bytes: i64) -> f64 {
    bytes as f64 / 1e6
}

fn child(path: &Path, n: usize) {
    let rt = common::runtime();
    let (rss0, live0) = (common::statm().0 as i64, counting_alloc::live());
    let store = rt
        .block_on(SqliteStore::open(path))
        .expect("open the store");
    let (rss1, live1) = (common::statm().0 as i64, counting_alloc::live());
    counting_alloc::reset_peak(live1);
    let manager: ConversationManager = rt
        .block_on(
            ConversationManager::builder()
                .store(store)
                .self_user_id("me")
                .open(),
        )
        .expect("open the manager");
    let (rss2, live2) = (common::statm().0 as i64, counting_alloc::live());
    let live_peak = counting_alloc::peak();
    let rss_peak = counting_alloc::status_field("VmHWM") as i64;
    assert_eq!(manager.len(), n);
    rt.block_on(manager.shutdown()).expect("shut down");
    let (rss3, live3) = (common::statm().0 as i64, counting_alloc::live());

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
        .0
        .last_message
        .expect("a last message");
    let json = serde_json::to_string(&built).expect("encode");
    let before = counting_alloc::live();
    let copy = built.clone();
    let built_heap = counting_alloc::live() - before;
    let before = counting_alloc::live();
    let mut decoded: Message = serde_json::from_str(&json).expect("decode");
    let decoded_heap = counting_alloc::live() - before;
    assert_eq!(decoded, copy);
    let before = counting_alloc::live();
    decoded.extra = serde_json::Map::new();
    let extra_heap = before - counting_alloc::live();
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
