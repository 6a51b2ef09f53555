//! Resident memory per conversation (index + record, short last message).
//!
//! Not a criterion bench: it prints figures once. Each account size is measured in a fresh
//! child process (this binary run with `--child N`), so that memory freed by one size is not
//! reused by the next. Phases, with the resident set size (RSS, `/proc/self/statm`) after each:
//!
//! 1. `snapshot`: the `Vec<StoredConversation>` of the account, built in the benches' own code
//!    (records with their heap parts, plus the Vec's buffer);
//! 2. `store`: `MemoryStore::from_snapshot` (the Vec is consumed: records move into the store's
//!    `HashMap`, the Vec's buffer is freed);
//! 3. `manager`: `ConversationManager::open` over that store. The manager loads a copy of every
//!    record (`Store::load` clones them) and builds its index: row slots, ID map, ordered
//!    sets and counters. `manager - store` is therefore the manager's own cost per
//!    conversation: index + its copy of the record (IDs are shared `Arc<str>`s, not copied).
//!
//! The crate sets `unsafe_code = "forbid"` for every target, so a counting
//! `#[global_allocator]` cannot be written here; RSS includes allocator overhead and any freed
//! memory the allocator keeps. `docs/PERFORMANCE.md` reports live allocated bytes measured
//! by a counting allocator outside the crate.
//!
//! Run with `cargo bench --bench memory`.
#![allow(clippy::print_stdout)]

mod common;

use std::process::Command;

use timconv::store::StoredConversation;
use timconv::{Conversation, ConversationManager, MemoryStore, Message};

const SIZES: [usize; 2] = [100_000, 1_000_000];

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

fn child(n: usize) {
    let rt = common::runtime();
    let (rss0, _) = common::statm();
    let snapshot = common::snapshot(n);
    let (rss1, _) = common::statm();
    let store = MemoryStore::from_snapshot(snapshot);
    let (rss2, _) = common::statm();
    let manager: ConversationManager = rt
        .block_on(
            ConversationManager::builder()
                .store(store.clone())
                .self_user_id("me")
                .open(),
        )
        .expect("a memory store opens");
    let (rss3, shared3) = common::statm();
    let peak = status_field("VmHWM");
    let anon = status_field("RssAnon");
    assert_eq!(manager.len(), n);
    let d = |a: u64, b: u64| a as i64 - b as i64;
    println!(
        "n={n} rss_base={rss0} snapshot/conv={:.0} store/conv={:.0} manager/conv={:.0} \
         total/conv={:.0} rss_final={rss3} rss_anon_final={anon} shared_final={shared3} \
         peak={peak}",
        per(d(rss1, rss0), n),
        per(d(rss2, rss0), n),
        per(d(rss3, rss2), n),
        per(d(rss3, rss0), n),
    );
    drop(manager);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        let n = args
            .get(at + 1)
            .and_then(|n| n.parse().ok())
            .expect("--child N");
        child(n);
        return;
    }
    println!(
        "sizes: StoredConversation {} B, Conversation {} B, Message {} B (inline parts)",
        std::mem::size_of::<StoredConversation>(),
        std::mem::size_of::<Conversation>(),
        std::mem::size_of::<Message>(),
    );
    let exe = std::env::current_exe().expect("own path");
    for n in SIZES {
        let out = Command::new(&exe)
            .args(["--child", &n.to_string()])
            .output()
            .expect("run a child");
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}
