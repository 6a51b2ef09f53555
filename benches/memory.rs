//! Resident memory per conversation (index + record, short last message).
//!
//! Not a criterion bench: it prints figures once. Each account size is measured in a fresh
//! child process (this binary run with `--child N`), so that memory freed by one size is not
//! reused by the next. Two measures of each phase, both relative to the process before the
//! account existed:
//!
//! - **live heap bytes**, counted by the `#[global_allocator]` below: bytes requested and not
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

// The crate denies unsafe code in every target. This bench needs one exception: a counting
// global allocator (an `unsafe impl GlobalAlloc` that forwards to `System`) is the only way to
// read live heap bytes from inside the process, and it is confined to this file.
#![allow(unsafe_code)]
#![allow(clippy::print_stdout)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use timconv::store::StoredConversation;
use timconv::{Conversation, ConversationManager, ConversationType, MemoryStore, Message};

const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];

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

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn child(n: usize) {
    let rt = common::runtime();
    let (rss0, live0) = (common::statm().0, live());
    let snapshot = common::snapshot(n);
    let (rss1, live1) = (common::statm().0, live());
    let store = MemoryStore::from_snapshot(snapshot);
    let (rss2, live2) = (common::statm().0, live());
    PEAK.store(live2 as isize, Relaxed);
    let manager: ConversationManager = rt
        .block_on(
            ConversationManager::builder()
                .store(store.clone())
                .self_user_id("me")
                .open(),
        )
        .expect("a memory store opens");
    let (rss3, live3) = (common::statm().0, live());
    let live_peak = PEAK.load(Relaxed) as i64;
    let rss_peak = status_field("VmHWM");
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
            let c = common::conversation(i, n).conversation;
            c.id.kind() == ConversationType::C2c
                && c.unread_count == 0
                && c.marks.is_empty()
                && c.groups.is_empty()
                && !c.is_pinned
        })
        .expect("a plain conversation");
    let before = live();
    let record = common::conversation(plain, n);
    let heap = live() - before;
    let before = live();
    let message = record.conversation.last_message.clone();
    let message_heap = live() - before;
    let before = live();
    let elements = message.as_ref().and_then(|m| m.elements.clone());
    let elements_heap = live() - before;
    println!(
        "one plain record: {} B inline + {heap} B heap (its ID included); the last message's \
         heap {message_heap} B, of which its one text element {elements_heap} B",
        std::mem::size_of::<StoredConversation>(),
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
        std::mem::size_of::<StoredConversation>(),
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
