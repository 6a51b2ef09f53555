//! Resident memory per conversation (index + record, short last message).
//!
//! Not a criterion bench: it prints figures once. Each account size is measured in a fresh
//! child process (this binary run with `--child N`), so that memory freed by one size is not
//! reused by the next. Two measures of each phase, both relative to the process before the
//! account existed:
//!
//! - **live heap bytes**, counted by the global allocator of `benches/counting_alloc/`: bytes requested and not
//!   yet freed, including unused `Vec` / `HashMap` capacity, excluding allocator overhead;
//! - **RSS** (`/proc/self/statm`): touched pages, including allocator overhead and freed memory
//!   the allocator keeps. Coarse at 1k (a few pages are a large share of a small account).
//!
//! Phases:
//!
//! 1. `snapshot`: the `Vec<StoredConversation>` of the account, built in the benches' own code
//!    (records with their heap parts, plus the Vec's buffer);
//! 2. `store`: `MemoryStore::from_snapshot` (the Vec is consumed: records move into the store's
//!    `HashMap`, the Vec's buffer is freed);
//! 3. `manager`: `ConversationManager::open` over that store. The manager loads a copy of every
//!    record (`Store::load` clones them) and builds its index: row slots, ID map, ordered
//!    sets and counters. `manager - store` is therefore the manager's own cost per
//!    conversation: its copy of the record + the index (IDs are shared `Arc<str>`s, not
//!    copied). `index` is that minus the record as the snapshot holds it (by subtraction).
//!
//! Run with `cargo bench --bench memory`.

// Live heap bytes come from the counting global allocator in `benches/counting_alloc/`, the
// one place unsafe code is allowed (an `unsafe impl GlobalAlloc` forwarding to `System`).
#![allow(clippy::print_stdout)]

mod common;
mod counting_alloc;

use std::process::Command;

use timconv::{Conversation, ConversationManager, ConversationType, MemoryStore, Message};

const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];

#[global_allocator]
static ALLOCATOR: counting_alloc::Counting = counting_alloc::Counting;

fn per(bytes: i64, n: usize) -> f64 {
    bytes as f64 / n as f64
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn child(n: usize) {
    let rt = common::runtime();
    let (rss0, live0) = (common::statm().0, counting_alloc::live());
    let snapshot = common::snapshot(n);
    let (rss1, live1) = (common::statm().0, counting_alloc::live());
    let store = MemoryStore::from_snapshot(snapshot);
    let (rss2, live2) = (common::statm().0, counting_alloc::live());
    counting_alloc::reset_peak(live2);
    let manager: ConversationManager = rt
        .block_on(
            ConversationManager::builder()
                .store(store.clone())
                .self_user_id("me")
                .open(),
        )
        .expect("a memory store opens");
    let (rss3, live3) = (common::statm().0, counting_alloc::live());
    let live_peak = counting_alloc::peak();
    let rss_peak = counting_alloc::status_field("VmHWM");
    assert_eq!(manager.len(), n);

    let d = |a: u64, b: u64| a as i64 - b as i64;
    let row = |name: &str, live: i64, rss: i64| {
        println!(
            "  {name:<38} {:>8.0} B live {:>8.0} B RSS",
            per(live, n),
            per(rss, n)
        );
    };
    println!("n={n}: bytes per conversation");
    row(
        "snapshot (records + Vec buffer)",
        live1 - live0,
        d(rss1, rss0),
    );
    row("store (records + HashMap)", live2 - live0, d(rss2, rss0));
    row(
        "manager (record copy + index)",
        live3 - live2,
        d(rss3, rss2),
    );
    row(
        "  of which index (manager - snapshot)",
        (live3 - live2) - (live1 - live0),
        d(rss3, rss2) - d(rss1, rss0),
    );
    row(
        "whole account (store + manager)",
        live3 - live0,
        d(rss3, rss0),
    );
    println!(
        "  peak during open (above the store)     {:>8.0} B live {:>8.0} B RSS",
        per(live_peak - live2, n),
        per(d(rss_peak, rss2), n)
    );
    println!(
        "  process at the end: {:.1} MB live heap, {:.1} MB RSS; peak {:.1} MB live, {:.1} MB RSS",
        mb(live3.max(0) as u64),
        mb(rss3),
        mb(live_peak.max(0) as u64),
        mb(rss_peak)
    );
    drop(manager);
}

/// The heap parts of one plain record of the accounts (C2C, no unread, no mark, no group).
fn one_record() {
    let n = 100_000;
    let plain = (0..n)
        .find(|&i| {
            let (c, _) = common::conversation(i, n);
            c.id.kind() == ConversationType::C2c
                && c.unread_count == 0
                && c.marks.is_empty()
                && c.folders.is_empty()
                && !c.is_pinned
        })
        .expect("a plain conversation");
    let before = counting_alloc::live();
    let (record, _) = common::conversation(plain, n);
    let heap = counting_alloc::live() - before;
    let before = counting_alloc::live();
    let message = record.last_message.clone();
    let message_heap = counting_alloc::live() - before;
    let before = counting_alloc::live();
    let elements = message.as_ref().and_then(|m| m.elements.clone());
    let elements_heap = counting_alloc::live() - before;
    println!(
        "one plain record: {} B inline + {heap} B heap (its ID included); the last message's \
         heap {message_heap} B, of which its one text element {elements_heap} B",
        std::mem::size_of::<timconv::Conversation>(),
    );
    drop((record, message, elements));
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
        std::mem::size_of::<timconv::Conversation>(),
        std::mem::size_of::<Conversation>(),
        std::mem::size_of::<Message>(),
    );
    one_record();
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
