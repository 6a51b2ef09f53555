//! Synthetic accounts shared by the benches.
//!
//! An account is built directly as a [`Snapshot`] (no writer involved), deterministically from
//! the conversation count alone, so every bench and every run sees the same data:
//!
//! - 30% group conversations, 70% C2C (chosen by a hash of the position, not by stride, so
//!   that criteria are not correlated by accident);
//! - unique, increasing order keys; exactly 50 pinned conversations, spread over the list;
//! - `min(1000, n / 20)` decorated conversations (marks and/or conversation groups), spread
//!   evenly: 5% at 1k, 1% at 100k, 0.1% at 1M. Half are starred, a fifth carry extension mark
//!   32; each is in one of 20 groups, a third in a second one, and a quarter in `"work"`;
//! - 10% with 1–3 unread messages (with matching `unread_messages`, so the stored invariant
//!   `unread_count == unread_messages.len()` holds); 30% of the unread group conversations
//!   have @ info; 2% are set to `NotNotify`;
//! - a short text last message (`"see you tomorrow"`) and a short display name on each.
#![allow(dead_code)]

pub mod api_account;
pub mod plain_sqlite;

use std::sync::Arc;

use timconv::store::{Snapshot, UnreadEntry};
use timconv::{
    Conversation, ConversationFilter, ConversationId, ConversationManager, ConversationType,
    GroupAtInfo, GroupAtType, MarkFlags, MemoryStore, Message, ReceiveOption,
};

/// The account sizes of the DESIGN budgets.
pub const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];

/// Order keys start here (microseconds in 2020), below any key the writer allocates now.
pub const ORDER_BASE: u64 = 1_600_000_000_000_000;

/// Positions (server time / sequence) of generated messages stay below this; benches that
/// ingest new messages use positions above it, so that those count as unread.
pub const POSITION_CEILING: u64 = 10_000_000_000;

/// The 20 conversation-group names (SPEC limit: 20 groups).
pub const GROUPS: [&str; 20] = [
    "work", "family", "friends", "school", "sports", "music", "travel", "games", "books", "food",
    "movies", "pets", "health", "news", "tech", "art", "cars", "garden", "money", "misc",
];

const PINNED: usize = 50;
const MAX_DECORATED: usize = 1000;

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The ID of the conversation at position `i` of an account (same rule as [`conversation`]).
pub fn conversation_id(i: usize) -> ConversationId {
    let r = splitmix64(i as u64);
    if r % 100 < 30 {
        ConversationId::group(&format!("grp{i}")).expect("valid group id")
    } else {
        ConversationId::c2c(&format!("user{i}")).expect("valid user id")
    }
}

/// Positions `i` of the decorated conversations of an account of `n`.
pub fn decorated_positions(n: usize) -> impl Iterator<Item = usize> {
    let count = MAX_DECORATED.min(n / 20).max(1);
    let stride = n / count;
    (0..count).map(move |d| d * stride + 3)
}

/// The stored conversation at position `i` of an account of `n` (0 = oldest).
pub fn conversation(i: usize, n: usize) -> (Conversation, Vec<(String, u64)>) {
    let r = splitmix64(i as u64);
    let id = conversation_id(i);
    let is_group = id.kind() == ConversationType::Group;
    let mut c = Conversation::new(id);
    c.show_name = format!("Conversation {i}");
    c.order_key = ORDER_BASE + i as u64 + 1;

    // The last message: a short text at this conversation's newest position.
    let position = 1_000 + i as u64;
    let mut last = Message::text(format!("m{i}"), "see you tomorrow");
    last.server_time = Some(1_700_000_000 + i as u64);
    if is_group {
        last.seq = Some(position);
    } else {
        last.server_time = Some(position);
    }
    last.sender = Some(format!("user{}", i % 5_000));
    last.conv_id = Some(c.id.peer().to_owned());
    last.conv_type = Some(c.id.kind().as_u32());
    c.last_message = Some(last);

    // Unread: the newest 1-3 messages, the last one among them.
    let mut unread_messages = Vec::new();
    let unread = if (r >> 8) % 100 < 10 {
        1 + (r >> 16) % 3
    } else {
        0
    };
    for j in 0..unread {
        let at = position - (unread - 1 - j);
        let key = if j + 1 == unread {
            format!("m{i}")
        } else {
            format!("m{i}-{j}")
        };
        unread_messages.push((key, at));
    }
    c.unread_count = unread;
    let read = position - unread;
    if is_group {
        c.group_read_sequence = read;
        if unread > 0 && (r >> 24) % 100 < 30 {
            c.group_at_info.push(GroupAtInfo {
                seq: position,
                at_type: GroupAtType::AtMe,
            });
        }
    } else {
        c.c2c_read_timestamp = read;
    }
    if (r >> 32) % 100 < 2 {
        c.receive_option = ReceiveOption::NotNotify;
    }

    // Exactly 50 pinned, spread over the list.
    let pin_stride = (n / PINNED).max(1);
    c.is_pinned = i % pin_stride == 7 % pin_stride && i / pin_stride < PINNED;

    // Decorations on at most 1000 conversations.
    let dec_count = MAX_DECORATED.min(n / 20).max(1);
    let dec_stride = n / dec_count;
    if i % dec_stride == 3 % dec_stride && i / dec_stride < dec_count {
        let d = i / dec_stride;
        if d.is_multiple_of(2) {
            c.marks |= MarkFlags::STAR;
        }
        if d.is_multiple_of(5) {
            c.marks |= MarkFlags::extension(32).expect("32 is an extension bit");
        }
        if d.is_multiple_of(4) {
            c.folders.push(GROUPS[0].to_owned());
        }
        let first = GROUPS[1 + d % 19];
        c.folders.push(first.to_owned());
        if d.is_multiple_of(3) {
            let second = GROUPS[1 + (d + 7) % 19];
            if second != first {
                c.folders.push(second.to_owned());
            }
        }
    }

    (c, unread_messages)
}

/// The snapshot of an account of `n` conversations.
pub fn snapshot(n: usize) -> Snapshot {
    let mut snapshot = Snapshot::default();
    let mut next_id = 0;
    for i in 0..n {
        let (c, unread) = conversation(i, n);
        for (key, position) in unread {
            next_id += 1;
            snapshot
                .unread
                .push(UnreadEntry::new(next_id, c.id.clone(), key, position));
        }
        snapshot.conversations.push(Arc::new(c));
    }
    snapshot.folders = GROUPS.iter().map(|g| (*g).to_owned()).collect();
    snapshot.order_clock = ORDER_BASE + n as u64;
    snapshot
}

/// Opens a manager over a memory store holding an account of `n` conversations.
pub async fn open_account(n: usize) -> ConversationManager {
    let store = MemoryStore::from_snapshot(snapshot(n));
    ConversationManager::builder()
        .store(store)
        .self_user_id("me")
        .open()
        .await
        .expect("a memory store opens")
}

/// A current-thread runtime: the writer task runs on the bench thread, so a measured write
/// is its CPU cost without cross-thread wake-ups (less noise on a small shared machine).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The filters of the first-page bench, by name.
pub fn page_filters() -> Vec<(&'static str, ConversationFilter)> {
    vec![
        ("none", ConversationFilter::new()),
        (
            "type_group",
            ConversationFilter::new().conv_type(ConversationType::Group),
        ),
        ("mark_star", ConversationFilter::new().mark(MarkFlags::STAR)),
        ("group_work", ConversationFilter::new().folder("work")),
        ("has_unread", ConversationFilter::new().has_unread(true)),
        ("has_at_info", ConversationFilter::new().has_at_info(true)),
        (
            "combined",
            ConversationFilter::new()
                .conv_type(ConversationType::Group)
                .has_unread(true)
                .has_at_info(false),
        ),
        // No C2C conversation has @ info: the two cells this filter accepts are empty.
        (
            "combined_sparse",
            ConversationFilter::new()
                .conv_type(ConversationType::C2c)
                .has_at_info(true),
        ),
        // Few matches among the rows of a mark / group set: a page walks the whole set (or
        // the accepted cells, when smaller), which the decoration limit bounds, not n (25 / 500 /
        // 500 starred and 13 / 250 / 250 in "work" at 1k / 100k / 1M).
        (
            "mark_sparse",
            ConversationFilter::new()
                .mark(MarkFlags::STAR)
                .has_unread(true),
        ),
        (
            "group_sparse",
            ConversationFilter::new().folder("work").has_at_info(true),
        ),
    ]
}

/// `count` distinct filters (distinct by `Eq`/`Hash`), each naming a conversation group so
/// that subscribing one recounts only that group's members.
pub fn watched_filters(count: usize) -> Vec<ConversationFilter> {
    let types = [
        None,
        Some(ConversationType::C2c),
        Some(ConversationType::Group),
    ];
    let tri = [None, Some(true), Some(false)];
    let marks = [None, Some(MarkFlags::STAR)];
    let mut out = Vec::with_capacity(count);
    'all: for mark in marks {
        for at in tri {
            for unread in tri {
                for conv_type in types {
                    for group in GROUPS {
                        if out.len() == count {
                            break 'all;
                        }
                        let mut f = ConversationFilter::new().folder(group);
                        f.conv_type = conv_type;
                        f.has_unread = unread;
                        f.has_at_info = at;
                        f.mark = mark;
                        out.push(f);
                    }
                }
            }
        }
    }
    assert_eq!(out.len(), count, "at most 1080 distinct watched filters");
    out
}

/// Reads `/proc/self/statm`: (resident bytes, resident shared bytes). Linux only; zeros
/// elsewhere.
pub fn statm() -> (u64, u64) {
    let page = 4096;
    let text = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let fields: Vec<u64> = text
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    match fields.as_slice() {
        [_, resident, shared, ..] => (resident * page, shared * page),
        _ => (0, 0),
    }
}

/// A fresh directory for the benches' database files, unique to this process, under Cargo's
/// scratch directory for benches (`target/tmp`, on the same disk as the build: a real
/// filesystem, not a RAM disk, so that fsyncs cost what they cost). The caller removes it.
pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("timconv-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the bench scratch directory");
    dir
}

/// Writes the account of `n` conversations ([`snapshot`]) into a new SQLite file at `path`:
/// one [`Store::commit`](timconv::Store::commit) of one `ChangeSet` holding every record, the
/// 20 conversation groups and the order clock. The store is closed afterwards, so the WAL is
/// checkpointed into the main file and the file can be copied on its own.
pub async fn write_sqlite_account(path: &std::path::Path, n: usize) {
    use timconv::Store as _;
    use timconv::store::{ChangeSet, SqliteStore};

    let snapshot = snapshot(n);
    let mut change = ChangeSet::default();
    change.upserts = snapshot.conversations;
    change.unread_added = snapshot.unread;
    change.folders = Some(snapshot.folders);
    change.order_clock = snapshot.order_clock;
    let store = SqliteStore::open(path).await.expect("create the database");
    store.commit(&change).await.expect("write the account");
    store.close().await.expect("close the database");
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = std::path::PathBuf::from(wal);
    assert!(
        !wal.exists() || std::fs::metadata(&wal).map_or(0, |m| m.len()) == 0,
        "the WAL is checkpointed on close"
    );
}
