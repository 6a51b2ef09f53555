//! One conformance suite for every store backend (DESIGN "Store contract"): the same tests,
//! written once as generic functions over a [`Backend`], run against [`MemoryStore`] (the
//! reference) and [`SqliteStore`] (a file), so that both promise the same.
//!
//! A backend is a place holding data and a way to open a store on it again, as if the process
//! restarted: the same `MemoryStore` (its clones share data), or the same SQLite file opened
//! anew. Each test closes the previous store (a manager's `shutdown`, or `Store::close`) before
//! opening the next one.
//!
//! The suite tests the trait directly (load, commit, exact round trips, big change sets) and
//! through a manager (every field, unread bookkeeping, tombstones, groups, the order clock and
//! the counters survive a restart; many concurrent writes are all durable).

// The tests are generic functions that a macro instantiates per backend; clippy does not see
// them as tests, so it would hold them to library rules.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;

use timconv::store::{
    ChangeSet, KeptSettings, Snapshot, Store, SyncChange, SyncRecord, Tombstone, UnreadEntry,
};
use timconv::{
    CleanTarget, Conversation, ConversationFilter, ConversationId, ConversationManager, Cursor,
    CustomData, Draft, GroupAtInfo, GroupAtType, GroupType, IngestOutcome, MarkFlags, MemoryStore,
    Message, Profile, ReceiveOption, SqliteStore,
};

use crate::common::{
    TempDir, UnreadWatchers, check_consistent, id, incoming, invariant_filters, outgoing,
};

/// A store backend under test.
trait Backend: Sized {
    /// The store it opens.
    type Store: Store;

    /// A new, empty place for data.
    async fn fresh() -> Self;

    /// A store on this place's data: empty the first time, afterwards what the previous store
    /// committed, as after a restart. The previous store must be closed.
    async fn open(&self) -> Self::Store;
}

/// The in-memory reference: reopening is a clone sharing the same data.
struct MemoryBackend(MemoryStore);

impl Backend for MemoryBackend {
    type Store = MemoryStore;

    async fn fresh() -> Self {
        MemoryBackend(MemoryStore::new())
    }

    async fn open(&self) -> MemoryStore {
        self.0.clone()
    }
}

/// A SQLite file in a temporary directory: reopening opens the same path.
struct SqliteBackend {
    _dir: TempDir,
    path: PathBuf,
}

impl Backend for SqliteBackend {
    type Store = SqliteStore;

    async fn fresh() -> Self {
        let dir = TempDir::new("conformance");
        let path = dir.path("conversations.db");
        SqliteBackend { _dir: dir, path }
    }

    async fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.path)
            .await
            .expect("the store file opens")
    }
}

/// Instantiates each named generic test for one backend.
macro_rules! suite {
    ($backend:ty; $($test:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$test::<$backend>().await;
            }
        )+
    };
}

/// Instantiates the whole suite once per backend: `conformance::memory_store::*` and
/// `conformance::sqlite_store::*`.
macro_rules! for_each_backend {
    ($($test:ident),+ $(,)?) => {
        mod memory_store {
            suite!(super::MemoryBackend; $($test),+);
        }
        mod sqlite_store {
            suite!(super::SqliteBackend; $($test),+);
        }
    };
}

for_each_backend!(
    store_loads_empty,
    store_commit_then_load_is_exact,
    store_delete_and_recreate_in_one_change,
    store_folder_list_is_kept_whole,
    store_order_clock_is_never_lowered,
    store_sync_data_round_trips,
    store_unread_entries_come_and_go_one_by_one,
    store_kept_settings_round_trip,
    store_two_thousand_conversations_in_one_change,
    every_field_survives_a_restart,
    unread_bookkeeping_survives_a_restart,
    tombstones_survive_a_restart,
    groups_survive_a_restart,
    order_clock_survives_a_restart,
    counters_equal_a_recount_after_restart,
    unread_watches_after_restart_start_at_the_recount,
    many_concurrent_writes_are_all_durable,
);

// ---------------------------------------------------------------------------------------------
// Helpers.

/// The @-all marker of `message_group_at_user_array`.
const AT_ALL: &str = "__kImSDK_MesssageAtALL__";

/// A manager on the backend's store, logged in as `me`.
async fn open_manager<B: Backend>(backend: &B) -> ConversationManager {
    ConversationManager::builder()
        .self_user_id("me")
        .store(backend.open().await)
        .open()
        .await
        .expect("the manager opens")
}

/// Shuts `manager` down and opens a new one on the same data.
async fn restart<B: Backend>(backend: &B, manager: ConversationManager) -> ConversationManager {
    manager.shutdown().await.expect("shutdown succeeds");
    drop(manager);
    open_manager(backend).await
}

/// A store on the backend's data, used as the manager uses one: loaded first, then committed
/// to.
async fn reopen<B: Backend>(backend: &B) -> B::Store {
    let store = backend.open().await;
    store.load().await.expect("load succeeds");
    store
}

/// Closes `store` and loads from a new one on the same data.
async fn reload<B: Backend>(backend: &B, store: B::Store) -> Snapshot {
    store.close().await.expect("close succeeds");
    drop(store);
    let again = backend.open().await;
    let snapshot = again.load().await.expect("load succeeds");
    again.close().await.expect("close succeeds");
    snapshot
}

/// A snapshot as sets (the order of a load is not part of the contract): conversations,
/// tombstones and kept settings by ID, unread entries by ID, then the folder list in order,
/// the clock and the sync data.
#[derive(Debug, PartialEq)]
struct Normalized {
    conversations: BTreeMap<String, Conversation>,
    tombstones: BTreeMap<String, Tombstone>,
    unread: BTreeMap<u64, UnreadEntry>,
    settings: BTreeMap<String, KeptSettings>,
    folders: Vec<String>,
    order_clock: u64,
}

fn normalize(snapshot: Snapshot) -> Normalized {
    let counts = (
        snapshot.conversations.len(),
        snapshot.tombstones.len(),
        snapshot.unread.len(),
        snapshot.settings.len(),
    );
    let n = Normalized {
        conversations: snapshot
            .conversations
            .into_iter()
            .map(|c| (c.id.to_string(), Conversation::clone(&c)))
            .collect(),
        tombstones: snapshot
            .tombstones
            .into_iter()
            .map(|t| (t.id.to_string(), t))
            .collect(),
        unread: snapshot.unread.into_iter().map(|u| (u.id, u)).collect(),
        settings: snapshot
            .settings
            .into_iter()
            .map(|s| (s.id.to_string(), s))
            .collect(),
        folders: snapshot.folders,
        order_clock: snapshot.order_clock,
    };
    assert_eq!(
        counts,
        (
            n.conversations.len(),
            n.tombstones.len(),
            n.unread.len(),
            n.settings.len()
        ),
        "something was loaded twice"
    );
    n
}

/// What a test expects a store to hold.
#[derive(Default)]
struct Expected {
    conversations: Vec<Stored>,
    tombstones: Vec<Tombstone>,
    settings: Vec<KeptSettings>,
    folders: Vec<String>,
    order_clock: u64,
}

/// A record and the unread entries behind its count.
#[derive(Clone)]
struct Stored {
    conversation: Conversation,
    unread: Vec<UnreadEntry>,
}

/// Asserts that `snapshot` holds exactly what `expected` says.
fn assert_snapshot(snapshot: Snapshot, expected: &Expected) {
    let got = normalize(snapshot);
    let want_convs: BTreeMap<_, _> = expected
        .conversations
        .iter()
        .map(|s| (s.conversation.id.to_string(), s.conversation.clone()))
        .collect();
    assert_eq!(
        got.conversations.keys().collect::<Vec<_>>(),
        want_convs.keys().collect::<Vec<_>>(),
        "the loaded conversations are not the committed ones"
    );
    for (key, want) in &want_convs {
        assert_eq!(&got.conversations[key], want, "{key} did not round-trip");
    }
    let want_unread: BTreeMap<_, _> = expected
        .conversations
        .iter()
        .flat_map(|s| s.unread.iter().map(|u| (u.id, u.clone())))
        .collect();
    assert_eq!(got.unread, want_unread, "unread entries did not round-trip");
    let want_tombs: BTreeMap<_, _> = expected
        .tombstones
        .iter()
        .map(|t| (t.id.to_string(), t.clone()))
        .collect();
    assert_eq!(got.tombstones, want_tombs, "tombstones did not round-trip");
    let want_settings: BTreeMap<_, _> = expected
        .settings
        .iter()
        .map(|s| (s.id.to_string(), s.clone()))
        .collect();
    assert_eq!(
        got.settings, want_settings,
        "kept settings did not round-trip"
    );
    assert_eq!(got.folders, expected.folders, "the folder list changed");
    assert_eq!(
        got.order_clock, expected.order_clock,
        "the order clock changed"
    );
}

/// A change writing `stored` (records and their new unread entries) and `tombstones`.
fn writing(stored: &[Stored], tombstones: &[Tombstone], order_clock: u64) -> ChangeSet {
    let mut change = ChangeSet::default();
    change.upserts = stored
        .iter()
        .map(|s| Arc::new(s.conversation.clone()))
        .collect();
    change.unread_added = stored.iter().flat_map(|s| s.unread.clone()).collect();
    change.deletes = tombstones.to_vec();
    change.order_clock = order_clock;
    change
}

fn folders(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn ext(bit: u32) -> MarkFlags {
    MarkFlags::extension(bit).expect("an extension bit")
}

/// 256 bytes, every byte value once: not UTF-8, and exactly the default size limit.
fn all_bytes() -> Vec<u8> {
    (0..=255u8).collect()
}

/// A message with typed keys at their extremes and unknown keys of every JSON shape, which
/// must all come back exactly.
fn rich_message(msg_id: &str, position: u64) -> Message {
    let mut m = incoming(msg_id, position);
    m.rand = Some(u64::MAX);
    m.client_time = Some(u64::MAX - 1);
    m.status = Some(2);
    m.extra.insert(
        "message_cloud_custom_str".into(),
        json!("unknown ✓ \"quoted\""),
    );
    m.extra.insert(
        "message_future_object".into(),
        json!({
            "nested": {"deep": [1, {"k": null}, [true, false, []]], "big": u64::MAX},
            "min": i64::MIN,
            "half": 0.5,
            "empty": {},
        }),
    );
    m.extra
        .insert("message_big_unsigned".into(), json!(u64::MAX));
    // A known key of an unexpected type is kept as it came.
    m.extra
        .insert("message_is_read".into(), json!("not a boolean"));
    m.extra.insert("message_priority".into(), Value::Null);
    m
}

/// A group message mentioning `users`.
fn mentioning(msg_id: &str, seq: u64, users: &[&str]) -> Message {
    let mut m = incoming(msg_id, seq);
    m.group_at_users = Some(users.iter().map(|u| (*u).to_owned()).collect());
    m
}

/// Stored records covering every field at unusual values, including ones the manager refuses
/// to produce (an unknown receive option) but a store must keep.
fn rich_records() -> Vec<Stored> {
    let mut rich = Conversation::new(id("c2c_rich"));
    rich.show_name = "Alice ✨ 'quote' \"double\" \u{0} nul".into();
    rich.face_url = "https://example.com/a.png?size=large&x=1".into();
    rich.order_key = (1 << 62) - 1;
    rich.last_message = Some(rich_message("m2", 1_700_000_002));
    rich.draft = Some(Box::new(Draft::new(
        Message::text("", "a draft ✍"),
        "user define",
        1_551_271_429,
    )));
    rich.receive_option = ReceiveOption::Unknown(9);
    rich.is_pinned = true;
    rich.marks =
        MarkFlags::STAR | MarkFlags::UNREAD | MarkFlags::FOLD | MarkFlags::HIDE | ext(32) | ext(63);
    rich.custom_data = CustomData::new(all_bytes());
    rich.folders = vec!["zeta".into(), "alpha".into()];
    rich.c2c_read_timestamp = 1_700_000_000;
    rich.group_read_sequence = u64::MAX;
    rich.unread_count = 2;
    let rich = Stored {
        unread: vec![
            UnreadEntry::new(1, rich.id.clone(), "m1".into(), 1_700_000_001),
            UnreadEntry::new(2, rich.id.clone(), "m2".into(), 1_700_000_002),
        ],
        conversation: rich,
    };

    let mut group = Conversation::new(id("group_room"));
    group.show_name = "Room".into();
    group.order_key = 42;
    group.group_type = Some(GroupType::Unknown(u32::MAX));
    group.group_at_info = vec![
        GroupAtInfo {
            seq: 5,
            at_type: GroupAtType::AtMe,
        },
        GroupAtInfo {
            seq: 6,
            at_type: GroupAtType::AtAll,
        },
        GroupAtInfo {
            seq: 7,
            at_type: GroupAtType::AtAllAtMe,
        },
        GroupAtInfo {
            seq: 8,
            at_type: GroupAtType::Unknown(42),
        },
    ];
    group.group_read_sequence = 4;
    group.c2c_read_timestamp = 3;
    group.unread_count = 3;
    group.last_message = Some(mentioning("", 8, &[AT_ALL, "me"]));
    group.custom_data = CustomData::from("text data");
    group.folders = vec!["alpha".into()];
    let group = Stored {
        unread: (6..=8)
            .map(|seq| UnreadEntry::new(seq, group.id.clone(), format!("#{seq}:1:{seq}"), seq))
            .collect(),
        conversation: group,
    };

    // Every known receive option and group type, one each.
    let options = [
        ReceiveOption::Receive,
        ReceiveOption::NotReceive,
        ReceiveOption::NotNotify,
        ReceiveOption::NotNotifyExceptAt,
        ReceiveOption::NotReceiveExceptAt,
    ];
    let types = [
        GroupType::Public,
        GroupType::Private,
        GroupType::ChatRoom,
        GroupType::BChatRoom,
        GroupType::AvChatRoom,
        GroupType::Community,
    ];
    let mut records = vec![rich, group];
    for (n, option) in options.into_iter().enumerate() {
        let mut c = Conversation::new(id(&format!("c2c_option{n}")));
        c.receive_option = option;
        c.order_key = 100 + n as u64;
        records.push(Stored {
            conversation: c,
            unread: Vec::new(),
        });
    }
    for (n, group_type) in types.into_iter().enumerate() {
        let mut c = Conversation::new(id(&format!("group_type{n}")));
        c.group_type = Some(group_type);
        c.order_key = 200 + n as u64;
        records.push(Stored {
            conversation: c,
            unread: Vec::new(),
        });
    }
    // All defaults: no message, order key 0, nothing set.
    records.push(Stored {
        conversation: Conversation::new(id("c2c_plain")),
        unread: Vec::new(),
    });
    records
}

/// A plain conversation for bulk tests, in `groups`, with one unread entry (its ID is the
/// order key).
fn bulk_record(name: &str, order_key: u64, groups: &[&str]) -> Stored {
    let mut c = Conversation::new(id(name));
    c.order_key = order_key;
    c.show_name = format!("{name} shown");
    c.last_message = Some(incoming(name, order_key));
    c.marks = MarkFlags::from_bits_retain(order_key << 32);
    c.folders = groups.iter().map(|g| (*g).to_owned()).collect();
    c.unread_count = 1;
    Stored {
        unread: vec![UnreadEntry::new(
            order_key,
            c.id.clone(),
            name.to_owned(),
            order_key,
        )],
        conversation: c,
    }
}

fn get(m: &ConversationManager, full: &str) -> Arc<Conversation> {
    m.get(&id(full)).unwrap_or_else(|| panic!("{full} exists"))
}

fn ids(m: &ConversationManager) -> Vec<String> {
    m.conversations().iter().map(|c| c.id.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// The store trait itself.

async fn store_loads_empty<B: Backend>() {
    let backend = B::fresh().await;
    let store = backend.open().await;
    assert_eq!(store.load().await.expect("load"), Snapshot::default());
    assert_eq!(reload(&backend, store).await, Snapshot::default());
}

async fn store_commit_then_load_is_exact<B: Backend>() {
    let backend = B::fresh().await;
    let store = backend.open().await;
    let records = rich_records();
    let tombstones = vec![
        Tombstone::new(id("c2c_gone"), [u64::MAX, 1_700_000_000, 0], true),
        Tombstone::new(id("group_gone"), [0, 0, 0], false),
    ];
    let mut change = writing(&records, &tombstones, 1 << 61);
    change.folders = Some(folders(&["zeta", "alpha"]));
    store.commit(&change).await.expect("commit");
    let mut expected = Expected {
        conversations: records.clone(),
        tombstones: tombstones.clone(),
        folders: folders(&["zeta", "alpha"]),
        order_clock: 1 << 61,
        ..Expected::default()
    };
    assert_snapshot(store.load().await.expect("load"), &expected);
    assert_snapshot(reload(&backend, store).await, &expected);

    // Every field changed (and optional ones cleared) in place survives too; the unread
    // entries go.
    let store = reopen(&backend).await;
    let mut changed = records.clone();
    let mut removed = Vec::new();
    for s in &mut changed {
        let c = &mut s.conversation;
        c.show_name.push_str(" renamed");
        c.face_url.clear();
        c.order_key ^= 1;
        c.last_message = None;
        c.draft = None;
        c.receive_option = ReceiveOption::NotNotify;
        c.group_type = None;
        c.group_at_info.clear();
        c.is_pinned = !c.is_pinned;
        c.marks = MarkFlags::from_bits_retain(c.marks.bits() ^ (MarkFlags::STAR | ext(40)).bits());
        c.custom_data = CustomData::new(vec![0xfe; 3]);
        c.folders.reverse();
        c.c2c_read_timestamp += 1;
        c.group_read_sequence = 0;
        c.unread_count = 0;
        removed.append(&mut s.unread);
    }
    let mut change = writing(&changed, &[], (1 << 61) + 1);
    change.unread_removed = removed;
    store.commit(&change).await.expect("commit the changes");
    expected.conversations = changed;
    expected.order_clock = (1 << 61) + 1;
    assert_snapshot(reload(&backend, store).await, &expected);
}

async fn store_delete_and_recreate_in_one_change<B: Backend>() {
    let backend = B::fresh().await;
    let store = backend.open().await;
    let old_a = bulk_record("c2c_a", 10, &["x"]);
    let old_b = bulk_record("c2c_b", 11, &["x", "y"]);
    let mut first = writing(&[old_a.clone(), old_b.clone()], &[], 11);
    first.folders = Some(folders(&["x", "y"]));
    store.commit(&first).await.expect("first commit");

    // `a` is deleted and comes back in the same change, in another folder, with a new unread
    // entry; `b` is deleted. Their old unread entries go with them.
    let tomb_a = Tombstone::new(id("c2c_a"), [10, 10, 10], false);
    let tomb_b = Tombstone::new(id("c2c_b"), [11, 11, 11], true);
    let new_a = bulk_record("c2c_a", 12, &["y"]);
    let mut second = writing(
        std::slice::from_ref(&new_a),
        &[tomb_a.clone(), tomb_b.clone()],
        12,
    );
    second.unread_removed = [&old_a, &old_b]
        .iter()
        .flat_map(|s| s.unread.clone())
        .collect();
    store.commit(&second).await.expect("second commit");
    let mut expected = Expected {
        conversations: vec![new_a.clone()],
        tombstones: vec![tomb_a.clone(), tomb_b.clone()],
        folders: folders(&["x", "y"]),
        order_clock: 12,
        ..Expected::default()
    };
    assert_snapshot(store.load().await.expect("load"), &expected);
    assert_snapshot(reload(&backend, store).await, &expected);
    let store = reopen(&backend).await;

    // `b` comes back without folders: nothing of its old state may come back with it. A
    // later delete replaces the tombstone.
    let new_b = Stored {
        conversation: Conversation::new(id("c2c_b")),
        unread: Vec::new(),
    };
    let tomb_a2 = Tombstone::new(id("c2c_a"), [12, 12, 12], true);
    let mut third = writing(
        std::slice::from_ref(&new_b),
        std::slice::from_ref(&tomb_a2),
        12,
    );
    third.unread_removed = new_a.unread.clone();
    store.commit(&third).await.expect("third commit");
    expected.conversations = vec![new_b];
    expected.tombstones = vec![tomb_a2, tomb_b];
    assert_snapshot(reload(&backend, store).await, &expected);
}

/// The folder list is stored whole when a change carries it, and kept when it does not.
async fn store_folder_list_is_kept_whole<B: Backend>() {
    let backend = B::fresh().await;
    let store = backend.open().await;
    let mut change = ChangeSet::default();
    change.folders = Some(folders(&["a", "b", "c"]));
    store.commit(&change).await.expect("create");
    change.folders = Some(folders(&["c", "d", "a"]));
    store.commit(&change).await.expect("change");
    assert_eq!(store.load().await.expect("load").folders, ["c", "d", "a"]);
    store
        .commit(&ChangeSet::default())
        .await
        .expect("a change without folders");
    assert_eq!(reload(&backend, store).await.folders, ["c", "d", "a"]);
    let store = reopen(&backend).await;
    change.folders = Some(Vec::new());
    store.commit(&change).await.expect("empty the list");
    assert!(reload(&backend, store).await.folders.is_empty());
}

/// Sync data is opaque to a store: records put by key (a put replaces), removed by key, and a
/// state value kept until the next one.
async fn store_sync_data_round_trips<B: Backend>() {
    let backend = B::fresh().await;
    let store = backend.open().await;
    let mut change = ChangeSet::default();
    let mut sync = SyncChange::default();
    sync.put = vec![
        SyncRecord::new(7, vec![1, 0xff, 0]),
        SyncRecord::new(3, b"three".to_vec()),
        SyncRecord::new(u64::MAX, Vec::new()),
        SyncRecord::new(12, vec![0x80; 600]),
    ];
    sync.state = Some(b"state one".to_vec());
    change.sync = sync;
    store.commit(&change).await.expect("commit");
    let snapshot = reload(&backend, store).await;
    let keys: Vec<u64> = snapshot.sync_records.iter().map(|r| r.key).collect();
    assert_eq!(keys, [3, 7, 12, u64::MAX], "by increasing key");
    assert_eq!(snapshot.sync_records[1].value, [1, 0xff, 0]);
    assert_eq!(snapshot.sync_state.as_deref(), Some(&b"state one"[..]));

    let store = reopen(&backend).await;
    let mut change = ChangeSet::default();
    let mut sync = SyncChange::default();
    sync.remove = vec![3, 12];
    sync.put = vec![SyncRecord::new(7, b"seven".to_vec())];
    sync.state = Some(b"state two".to_vec());
    change.sync = sync;
    store.commit(&change).await.expect("commit");
    let snapshot = reload(&backend, store).await;
    let records: Vec<(u64, Vec<u8>)> = snapshot
        .sync_records
        .iter()
        .map(|r| (r.key, r.value.clone()))
        .collect();
    assert_eq!(records, [(7, b"seven".to_vec()), (u64::MAX, Vec::new())]);
    assert_eq!(snapshot.sync_state.as_deref(), Some(&b"state two"[..]));

    // A change without a state keeps the stored one.
    let store = reopen(&backend).await;
    store.commit(&ChangeSet::default()).await.expect("commit");
    let snapshot = reload(&backend, store).await;
    assert_eq!(snapshot.sync_state.as_deref(), Some(&b"state two"[..]));
}

/// Unread entries are added and removed one by one, across many commits, without touching the
/// others of the same conversation.
async fn store_unread_entries_come_and_go_one_by_one<B: Backend>() {
    let backend = B::fresh().await;
    let store = backend.open().await;
    let room = id("group_room");
    let mut conversation = Conversation::new(room.clone());
    conversation.unread_count = 1_000;
    let all: Vec<UnreadEntry> = (1..=1_000)
        .map(|n| UnreadEntry::new(n, room.clone(), format!("m{n}"), n * 10))
        .collect();
    for chunk in all.chunks(100) {
        let mut change = writing(
            &[Stored {
                conversation: conversation.clone(),
                unread: chunk.to_vec(),
            }],
            &[],
            1,
        );
        change.upserts.clear();
        store.commit(&change).await.expect("add entries");
    }
    let mut change = writing(
        &[Stored {
            conversation: conversation.clone(),
            unread: Vec::new(),
        }],
        &[],
        1,
    );
    change.unread_removed = all.iter().filter(|u| u.id % 3 == 0).cloned().collect();
    store.commit(&change).await.expect("remove a third");
    let kept: Vec<UnreadEntry> = all.into_iter().filter(|u| u.id % 3 != 0).collect();
    let snapshot = reload(&backend, store).await;
    let got: BTreeMap<u64, UnreadEntry> = snapshot.unread.into_iter().map(|u| (u.id, u)).collect();
    assert_eq!(got.len(), kept.len());
    for u in kept {
        assert_eq!(got.get(&u.id), Some(&u));
    }
}

/// Kept settings are stored and released by conversation.
async fn store_kept_settings_round_trip<B: Backend>() {
    let backend = B::fresh().await;
    let store = backend.open().await;
    let muted = KeptSettings::new(id("group_muted"), ReceiveOption::NotNotify, None);
    let av = KeptSettings::new(
        id("group_av"),
        ReceiveOption::Unknown(77),
        Some(GroupType::AvChatRoom),
    );
    let odd = KeptSettings::new(
        id("c2c_odd"),
        ReceiveOption::Receive,
        Some(GroupType::Unknown(u32::MAX)),
    );
    let mut change = ChangeSet::default();
    change.settings_kept = vec![muted.clone(), av.clone(), odd.clone()];
    store.commit(&change).await.expect("keep");
    let mut expected = Expected {
        settings: vec![muted.clone(), av.clone(), odd],
        ..Expected::default()
    };
    assert_snapshot(reload(&backend, store).await, &expected);

    let store = reopen(&backend).await;
    let louder = KeptSettings::new(id("group_muted"), ReceiveOption::Receive, None);
    let mut change = ChangeSet::default();
    change.settings_kept = vec![louder.clone()];
    change.settings_released = vec![id("c2c_odd")];
    store.commit(&change).await.expect("replace and release");
    expected.settings = vec![louder, av];
    assert_snapshot(reload(&backend, store).await, &expected);
}

async fn store_order_clock_is_never_lowered<B: Backend>() {
    let backend = B::fresh().await;
    let store = backend.open().await;
    let at = |clock: u64| writing(&[bulk_record("c2c_a", 1, &[])], &[], clock);
    store.commit(&at(1_000_000)).await.expect("commit");
    let mut lower = at(10);
    lower.unread_added.clear();
    store.commit(&lower).await.expect("commit a lower clock");
    assert_eq!(store.load().await.expect("load").order_clock, 1_000_000);
    assert_eq!(reload(&backend, store).await.order_clock, 1_000_000);
    let store = reopen(&backend).await;
    let mut higher = at((1 << 62) - 1);
    higher.unread_added.clear();
    store.commit(&higher).await.expect("commit");
    assert_eq!(reload(&backend, store).await.order_clock, (1 << 62) - 1);
}

async fn store_two_thousand_conversations_in_one_change<B: Backend>() {
    // More rows than one multi-row statement holds (SQLite binds at most 32,766 values), each
    // with two memberships and an unread entry.
    const N: u64 = 2_000;
    let backend = B::fresh().await;
    let store = backend.open().await;
    let first: Vec<_> = (0..N)
        .map(|n| bulk_record(&format!("c2c_u{n}"), n + 1, &["g1", "g2"]))
        .collect();
    let mut change = writing(&first, &[], N);
    change.folders = Some(folders(&["g1", "g2"]));
    store.commit(&change).await.expect("commit 2,000");
    let mut expected = Expected {
        conversations: first.clone(),
        folders: folders(&["g1", "g2"]),
        order_clock: N,
        ..Expected::default()
    };
    assert_snapshot(reload(&backend, store).await, &expected);

    // One change deleting those 2,000 and creating 2,000 others.
    let store = reopen(&backend).await;
    let tombstones: Vec<_> = (0..N)
        .map(|n| Tombstone::new(id(&format!("c2c_u{n}")), [n + 1; 3], n % 2 == 0))
        .collect();
    let second: Vec<_> = (0..N)
        .map(|n| bulk_record(&format!("group_g{n}"), N + n + 1, &["g2", "g1"]))
        .collect();
    let mut change = writing(&second, &tombstones, 2 * N);
    change.unread_removed = first.iter().flat_map(|s| s.unread.clone()).collect();
    store.commit(&change).await.expect("replace 2,000");
    expected.conversations = second.clone();
    expected.tombstones = tombstones;
    expected.order_clock = 2 * N;
    assert_snapshot(reload(&backend, store).await, &expected);

    // And 2,000 updates in place, each trading its unread entry for a new one.
    let store = reopen(&backend).await;
    let third: Vec<_> = (0..N)
        .map(|n| bulk_record(&format!("group_g{n}"), 3 * N + n + 1, &["g1"]))
        .collect();
    let mut change = writing(&third, &[], 4 * N);
    change.unread_removed = second.iter().flat_map(|s| s.unread.clone()).collect();
    store.commit(&change).await.expect("update 2,000");
    expected.conversations = third;
    expected.order_clock = 4 * N;
    assert_snapshot(reload(&backend, store).await, &expected);
}

// ---------------------------------------------------------------------------------------------
// Through the manager: what an app relies on across a restart.

async fn every_field_survives_a_restart<B: Backend>() {
    let backend = B::fresh().await;
    let m = open_manager(&backend).await;

    // Every receive option, each on a conversation with unread.
    let options = [
        ReceiveOption::Receive,
        ReceiveOption::NotReceive,
        ReceiveOption::NotNotify,
        ReceiveOption::NotNotifyExceptAt,
        ReceiveOption::NotReceiveExceptAt,
    ];
    for (n, option) in options.into_iter().enumerate() {
        let c = id(&format!("c2c_opt{n}"));
        m.ingest_message(&c, incoming(&format!("o{n}"), 100 + n as u64))
            .await
            .unwrap();
        m.set_receive_option(&c, option).await.unwrap();
    }

    // A group with a profile (an unknown group type), @ info and unread.
    let room = id("group_room");
    m.ingest_message(&room, mentioning("g1", 5, &["me"]))
        .await
        .unwrap();
    m.ingest_message(&room, mentioning("g2", 6, &[AT_ALL]))
        .await
        .unwrap();
    m.ingest_message(&room, mentioning("g3", 7, &[AT_ALL, "me"]))
        .await
        .unwrap();
    m.set_profile(
        &room,
        Profile::new()
            .show_name("Room ✨ 'q' \"dq\"")
            .face_url("https://example.com/room.png?s=1&t=2"),
    )
    .await
    .unwrap();
    m.set_group_type(&room, GroupType::Unknown(77))
        .await
        .unwrap();
    let av = id("group_av");
    m.ingest_message(&av, incoming("av1", 3)).await.unwrap();
    m.set_group_type(&av, GroupType::AvChatRoom).await.unwrap();

    // A last message with unknown keys, pinned, marked, with custom data and groups.
    let rich = id("c2c_rich");
    m.ingest_message(&rich, incoming("r1", 1_700_000_001))
        .await
        .unwrap();
    m.ingest_message(&rich, rich_message("r2", 1_700_000_002))
        .await
        .unwrap();
    m.pin(&rich).await.unwrap();
    m.mark(
        std::slice::from_ref(&rich),
        MarkFlags::STAR | ext(32) | ext(63),
    )
    .await
    .unwrap()
    .into_result()
    .unwrap();
    m.set_custom_data(std::slice::from_ref(&rich), all_bytes())
        .await
        .unwrap()
        .into_result()
        .unwrap();
    let texted = id("c2c_texted");
    m.ingest_message(&texted, outgoing("t1", 50)).await.unwrap();
    m.set_custom_data(std::slice::from_ref(&texted), "text ✓")
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.mark(
        std::slice::from_ref(&texted),
        MarkFlags::FOLD | MarkFlags::HIDE,
    )
    .await
    .unwrap()
    .into_result()
    .unwrap();

    // Group membership in joining order: rich joins work then family, texted the reverse.
    m.create_folder("work", std::slice::from_ref(&rich))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.create_folder("family", &[texted.clone(), rich.clone()])
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.add_to_folder("work", std::slice::from_ref(&texted))
        .await
        .unwrap()
        .into_result()
        .unwrap();

    // Read positions, with unread left after them.
    let c2c_read = id("c2c_read");
    for n in 0..4 {
        m.ingest_message(&c2c_read, incoming(&format!("c{n}"), 200 + n))
            .await
            .unwrap();
    }
    m.clean_unread(
        c2c_read.clone(),
        timconv::ReadUpTo::Positions {
            timestamp: Some(201),
            sequence: None,
        },
    )
    .await
    .unwrap();
    let group_read = id("group_read");
    for n in 0..3 {
        m.ingest_message(&group_read, incoming(&format!("s{n}"), 10 + n))
            .await
            .unwrap();
    }
    m.clean_unread(
        group_read.clone(),
        timconv::ReadUpTo::Positions {
            timestamp: None,
            sequence: Some(11),
        },
    )
    .await
    .unwrap();

    // A draft.
    let drafted = id("c2c_drafted");
    let draft = Draft::new(
        Message::text("", "half-written ✍"),
        "this is userdefine",
        1_551_271_429,
    );
    m.set_draft(&drafted, draft.clone()).await.unwrap();
    // An empty conversation.
    m.create_conversation(&id("c2c_empty")).await.unwrap();

    check_consistent(&m, &invariant_filters(), 3).expect("consistent before the restart");
    let before = m.conversations();
    let filters = invariant_filters();
    let counts: Vec<u64> = filters
        .iter()
        .map(|f| m.unread_by_filter(f).unwrap())
        .collect();
    let total = m.total_unread();

    let m = restart(&backend, m).await;
    assert_eq!(
        m.conversations(),
        before,
        "every field and the list order survive"
    );
    assert_eq!(m.folders(), ["work", "family"]);
    assert_eq!(m.total_unread(), total);
    for (f, count) in filters.iter().zip(&counts) {
        assert_eq!(m.unread_by_filter(f).unwrap(), *count, "{f:?}");
    }
    check_consistent(&m, &invariant_filters(), 3).expect("consistent after the restart");

    // The values themselves, so that the comparison above compared something.
    for (n, option) in options.into_iter().enumerate() {
        let c = get(&m, &format!("c2c_opt{n}"));
        assert_eq!(c.receive_option, option);
        assert_eq!(c.unread_count, 1);
    }
    let r = get(&m, "group_room");
    assert_eq!(r.show_name, "Room ✨ 'q' \"dq\"");
    assert_eq!(r.face_url, "https://example.com/room.png?s=1&t=2");
    assert_eq!(r.group_type, Some(GroupType::Unknown(77)));
    let at_types: Vec<_> = r.group_at_info.iter().map(|a| (a.seq, a.at_type)).collect();
    assert_eq!(
        at_types,
        [
            (5, GroupAtType::AtMe),
            (6, GroupAtType::AtAll),
            (7, GroupAtType::AtAllAtMe)
        ]
    );
    assert_eq!(r.unread_count, 3);
    assert_eq!(get(&m, "group_av").group_type, Some(GroupType::AvChatRoom));
    let c = get(&m, "c2c_rich");
    assert!(c.is_pinned);
    assert_eq!(c.marks.bits(), 1 | 1 << 32 | 1 << 63);
    assert_eq!(c.custom_data.as_bytes(), all_bytes());
    assert_eq!(c.folders, ["work", "family"]);
    assert_eq!(c.unread_count, 2);
    let last = c.last_message.clone().expect("a last message");
    assert_eq!(
        last,
        as_ingested(rich_message("r2", 1_700_000_002), "rich", 1)
    );
    assert_eq!(last.extra["message_big_unsigned"], json!(u64::MAX));
    assert_eq!(
        last.extra["message_future_object"]["nested"]["big"],
        json!(u64::MAX)
    );
    assert_eq!(last.rand, Some(u64::MAX));
    let t = get(&m, "c2c_texted");
    assert_eq!(t.custom_data.as_str(), Some("text ✓"));
    assert_eq!(t.marks, MarkFlags::FOLD | MarkFlags::HIDE);
    assert_eq!(t.folders, ["family", "work"]);
    let c = get(&m, "c2c_read");
    assert_eq!((c.c2c_read_timestamp, c.unread_count), (201, 2));
    let g = get(&m, "group_read");
    assert_eq!((g.group_read_sequence, g.unread_count), (11, 1));
    assert_eq!(get(&m, "c2c_drafted").draft.as_deref(), Some(&draft));
    assert_eq!(ids(&m)[0], "c2c_rich", "pinned first");
    assert_eq!(ids(&m)[1], "c2c_empty", "then the newest");

    // Change or clear every field, restart again: updates in place survive too.
    m.unpin(&rich).await.unwrap();
    m.unmark(std::slice::from_ref(&rich), ext(63))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.set_custom_data(std::slice::from_ref(&texted), "")
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.remove_from_folder("work", std::slice::from_ref(&rich))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.set_receive_option(&id("c2c_opt1"), ReceiveOption::Receive)
        .await
        .unwrap();
    m.set_group_type(&room, GroupType::Public).await.unwrap();
    m.cancel_draft(&drafted).await.unwrap();
    m.clean_unread(CleanTarget::All, timconv::ReadUpTo::Everything)
        .await
        .unwrap();
    m.ingest_message(&id("c2c_opt3"), incoming("o3b", 300))
        .await
        .unwrap();
    let before = m.conversations();
    let m = restart(&backend, m).await;
    assert_eq!(m.conversations(), before);
    assert_eq!(get(&m, "c2c_rich").marks.bits(), 1 | 1 << 32);
    assert!(get(&m, "c2c_drafted").draft.is_none());
    assert!(get(&m, "c2c_texted").custom_data.is_empty());
    assert!(get(&m, "group_room").group_at_info.is_empty());
    assert_eq!(m.total_unread(), 1);
    check_consistent(&m, &invariant_filters(), 4).expect("consistent after the second restart");
    m.shutdown().await.unwrap();
}

/// `message` as `ingest_message` stores it: with its conversation's peer and type filled in.
fn as_ingested(mut message: Message, peer: &str, kind: u32) -> Message {
    message.conv_id = Some(peer.to_owned());
    message.conv_type = Some(kind);
    message
}

async fn unread_bookkeeping_survives_a_restart<B: Backend>() {
    let backend = B::fresh().await;
    let m = open_manager(&backend).await;
    let a = id("c2c_a");
    let g = id("group_g");
    m.ingest_message(&a, incoming("x", 10)).await.unwrap();
    m.ingest_message(&a, incoming("y", 20)).await.unwrap();
    m.ingest_message(&a, incoming("z", 30)).await.unwrap();
    // Group messages without an ID are told apart by (sequence, random, time).
    let mut anonymous = incoming("", 5);
    anonymous.msg_id = None;
    m.ingest_message(&g, anonymous.clone()).await.unwrap();
    m.ingest_message(&g, mentioning("g6", 6, &["me"]))
        .await
        .unwrap();
    assert_eq!(m.total_unread(), 5);

    let m = restart(&backend, m).await;
    assert_eq!(m.total_unread(), 5);
    // Redelivered messages that are not the last one still count once.
    assert_eq!(
        m.ingest_message(&a, incoming("x", 10)).await.unwrap(),
        IngestOutcome::Duplicate
    );
    assert_eq!(
        m.ingest_message(&a, incoming("y", 20)).await.unwrap(),
        IngestOutcome::Duplicate
    );
    assert_eq!(
        m.ingest_message(&g, anonymous.clone()).await.unwrap(),
        IngestOutcome::Duplicate
    );
    assert_eq!(get(&m, "c2c_a").unread_count, 3);
    assert_eq!(m.total_unread(), 5);

    // Cleaning up to a position removes exactly the messages at or before it.
    m.clean_unread(
        a.clone(),
        timconv::ReadUpTo::Positions {
            timestamp: Some(20),
            sequence: None,
        },
    )
    .await
    .unwrap();
    m.clean_unread(
        g.clone(),
        timconv::ReadUpTo::Positions {
            timestamp: None,
            sequence: Some(5),
        },
    )
    .await
    .unwrap();
    assert_eq!(get(&m, "c2c_a").unread_count, 1);
    assert_eq!(get(&m, "group_g").unread_count, 1);
    assert_eq!(get(&m, "group_g").group_at_info.len(), 1);

    let m = restart(&backend, m).await;
    assert_eq!(get(&m, "c2c_a").unread_count, 1);
    assert_eq!(get(&m, "c2c_a").c2c_read_timestamp, 20);
    assert_eq!(get(&m, "group_g").group_read_sequence, 5);
    assert_eq!(m.total_unread(), 2);
    // A message at or before the read position does not count; a new one does.
    m.ingest_message(&a, incoming("w", 15)).await.unwrap();
    assert_eq!(get(&m, "c2c_a").unread_count, 1);
    m.ingest_message(&a, incoming("v", 40)).await.unwrap();
    assert_eq!(get(&m, "c2c_a").unread_count, 2);
    // Cleaning everything still works after the restart, @ info too.
    m.clean_unread(CleanTarget::All, timconv::ReadUpTo::Everything)
        .await
        .unwrap();
    assert_eq!(m.total_unread(), 0);

    let m = restart(&backend, m).await;
    assert_eq!(m.total_unread(), 0);
    assert!(get(&m, "group_g").group_at_info.is_empty());
    assert_eq!(get(&m, "c2c_a").c2c_read_timestamp, 40);
    assert_eq!(get(&m, "group_g").group_read_sequence, 6);
    // Still a duplicate (it is the last message), still no unread.
    assert_eq!(
        m.ingest_message(&a, incoming("v", 40)).await.unwrap(),
        IngestOutcome::Duplicate
    );
    assert_eq!(m.total_unread(), 0);
    m.shutdown().await.unwrap();
}

async fn tombstones_survive_a_restart<B: Backend>() {
    let backend = B::fresh().await;
    let m = open_manager(&backend).await;
    let a = id("c2c_a");
    let g = id("group_g");
    m.ingest_message(&a, incoming("a1", 100)).await.unwrap();
    m.ingest_message(&g, incoming("g1", 7)).await.unwrap();
    m.create_folder("folder", std::slice::from_ref(&a))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.delete(&a, timconv::MessageHistory::Clear).await.unwrap();
    m.delete(&g, timconv::MessageHistory::Keep).await.unwrap();
    assert!(m.is_empty());

    let m = restart(&backend, m).await;
    assert!(m.is_empty(), "deleted conversations stay deleted");
    // Stale state does not bring them back.
    assert_eq!(
        m.ingest_message(&a, incoming("a0", 99)).await.unwrap(),
        IngestOutcome::Stale
    );
    assert_eq!(
        m.ingest_message(&a, incoming("a1", 100)).await.unwrap(),
        IngestOutcome::Stale
    );
    assert_eq!(
        m.ingest_message(&g, incoming("g0", 6)).await.unwrap(),
        IngestOutcome::Stale
    );
    assert!(m.is_empty());
    assert_eq!(m.total_unread(), 0);
    // A newer message does; it comes back outside its old group.
    assert_eq!(
        m.ingest_message(&a, incoming("a2", 101)).await.unwrap(),
        IngestOutcome::Created
    );
    assert!(get(&m, "c2c_a").folders.is_empty());
    assert_eq!(get(&m, "c2c_a").unread_count, 1);

    // The tombstone outlives the conversation coming back, across another restart.
    let m = restart(&backend, m).await;
    assert_eq!(
        m.ingest_message(&a, incoming("a0", 99)).await.unwrap(),
        IngestOutcome::Stale
    );
    assert_eq!(
        m.ingest_message(&g, incoming("g1", 7)).await.unwrap(),
        IngestOutcome::Stale
    );
    assert_eq!(ids(&m), ["c2c_a"]);
    assert!(get(&m, "c2c_a").folders.is_empty());
    assert_eq!(m.total_unread(), 1);
    // A later delete raises the floor.
    m.delete(&a, timconv::MessageHistory::Keep).await.unwrap();
    let m = restart(&backend, m).await;
    assert_eq!(
        m.ingest_message(&a, incoming("a2", 101)).await.unwrap(),
        IngestOutcome::Stale
    );
    assert!(m.is_empty());
    assert_eq!(
        m.ingest_message(&g, incoming("g8", 8)).await.unwrap(),
        IngestOutcome::Created
    );
    m.shutdown().await.unwrap();
}

async fn groups_survive_a_restart<B: Backend>() {
    let backend = B::fresh().await;
    let m = open_manager(&backend).await;
    let (a, b, c) = (id("c2c_a"), id("c2c_b"), id("group_c"));
    for (n, conv) in [&a, &b, &c].into_iter().enumerate() {
        m.ingest_message(conv, incoming(&format!("m{n}"), 10 + n as u64))
            .await
            .unwrap();
    }
    m.create_folder("one", &[a.clone(), b.clone()])
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.create_folder("two", &[b.clone(), c.clone()])
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.create_folder("three", &[c.clone(), a.clone()])
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.create_folder("empty", Vec::<ConversationId>::new())
        .await
        .unwrap()
        .into_result()
        .unwrap();

    let m = restart(&backend, m).await;
    assert_eq!(m.folders(), ["one", "two", "three", "empty"]);
    assert_eq!(get(&m, "c2c_a").folders, ["one", "three"]);
    assert_eq!(get(&m, "c2c_b").folders, ["one", "two"]);
    assert_eq!(get(&m, "group_c").folders, ["two", "three"]);

    m.rename_folder("two", "deux").await.unwrap();
    m.delete_folder("one").await.unwrap();
    m.remove_from_folder("three", std::slice::from_ref(&c))
        .await
        .unwrap()
        .into_result()
        .unwrap();

    let m = restart(&backend, m).await;
    assert_eq!(m.folders(), ["deux", "three", "empty"]);
    assert_eq!(get(&m, "c2c_a").folders, ["three"]);
    assert_eq!(get(&m, "c2c_b").folders, ["deux"]);
    assert_eq!(get(&m, "group_c").folders, ["deux"]);
    let walked = |name: &str| -> Vec<String> {
        m.list(&ConversationFilter::new().folder(name), Cursor::START, 10)
            .unwrap()
            .conversations
            .iter()
            .map(|c| c.id.to_string())
            .collect()
    };
    assert_eq!(walked("deux"), ["group_c", "c2c_b"]);
    assert_eq!(walked("three"), ["c2c_a"]);
    assert!(walked("one").is_empty());

    // New groups go to the end, also after the reopen; a freed name can be taken again.
    m.create_folder("one", std::slice::from_ref(&c))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.rename_folder("deux", "two").await.unwrap();
    let m = restart(&backend, m).await;
    assert_eq!(m.folders(), ["two", "three", "empty", "one"]);
    assert_eq!(get(&m, "group_c").folders, ["two", "one"]);
    check_consistent(&m, &invariant_filters(), 2).expect("consistent");
    m.shutdown().await.unwrap();
}

async fn order_clock_survives_a_restart<B: Backend>() {
    let backend = B::fresh().await;
    let m = open_manager(&backend).await;
    for n in 0..5 {
        m.ingest_message(&id(&format!("c2c_u{n}")), incoming(&format!("m{n}"), n + 1))
            .await
            .unwrap();
    }
    m.set_draft(&id("c2c_top"), Draft::default()).await.unwrap();
    let highest = m.conversations().iter().map(|c| c.order_key).max();
    let highest = highest.expect("conversations");
    // The highest key belonged to a deleted conversation: it is never reused.
    m.delete(&id("c2c_top"), timconv::MessageHistory::Keep)
        .await
        .unwrap();
    let order = ids(&m);

    let m = restart(&backend, m).await;
    assert_eq!(ids(&m), order, "the list order survives");
    let fresh = m.create_conversation(&id("c2c_new")).await.unwrap();
    assert!(fresh.order_key > highest);
    m.ingest_message(&id("c2c_u0"), incoming("again", 100))
        .await
        .unwrap();
    assert!(get(&m, "c2c_u0").order_key > fresh.order_key);
    assert_eq!(ids(&m)[..2], ["c2c_u0", "c2c_new"]);
    m.shutdown().await.unwrap();

    // A clock ahead of the wall clock (it was moved back since) is honoured after a restart:
    // new keys stay above every key allocated before.
    let ahead = now_micros() + 10_000_000_000_000;
    let store = reopen(&backend).await;
    let mut change = writing(&[bulk_record("c2c_low", 1, &[])], &[], ahead);
    change.unread_added.clear();
    store.commit(&change).await.expect("commit a clock ahead");
    store.close().await.expect("close");
    drop(store);
    let m = open_manager(&backend).await;
    let next = m.create_conversation(&id("c2c_next")).await.unwrap();
    assert!(
        next.order_key > ahead,
        "key {} not above the stored clock {ahead}",
        next.order_key
    );
    let m = restart(&backend, m).await;
    let after = m.create_conversation(&id("c2c_after")).await.unwrap();
    assert!(after.order_key > next.order_key);
    m.shutdown().await.unwrap();
}

/// A varied state for the counter tests: receive options, audio-video rooms, pins, marks,
/// groups, @ info, partly read and deleted conversations. Returns the conversations' IDs.
async fn build_counter_state(m: &ConversationManager) -> Vec<ConversationId> {
    m.create_folder("a", Vec::<ConversationId>::new())
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.create_folder("b", Vec::<ConversationId>::new())
        .await
        .unwrap()
        .into_result()
        .unwrap();
    let options = [
        ReceiveOption::Receive,
        ReceiveOption::NotReceive,
        ReceiveOption::NotNotify,
        ReceiveOption::NotNotifyExceptAt,
        ReceiveOption::NotReceiveExceptAt,
    ];
    let mut all = Vec::new();
    for n in 0..40_u64 {
        let conv: ConversationId = if n % 3 == 0 {
            id(&format!("group_g{n}"))
        } else {
            id(&format!("c2c_u{n}"))
        };
        for k in 0..(n % 4) {
            let msg = if n % 6 == 0 {
                mentioning(&format!("m{n}-{k}"), 10 + k, &["me"])
            } else {
                incoming(&format!("m{n}-{k}"), 10 + k)
            };
            m.ingest_message(&conv, msg).await.unwrap();
        }
        if m.get(&conv).is_none() {
            m.create_conversation(&conv).await.unwrap();
        }
        m.set_receive_option(&conv, options[n as usize % options.len()])
            .await
            .unwrap();
        if n % 9 == 0 {
            m.set_group_type(&conv, GroupType::AvChatRoom)
                .await
                .unwrap();
        }
        if n % 5 == 0 {
            m.pin(&conv).await.unwrap();
        }
        if n % 4 == 1 {
            let marks = [MarkFlags::STAR, MarkFlags::FOLD, ext(32)][n as usize % 3];
            m.mark(std::slice::from_ref(&conv), marks)
                .await
                .unwrap()
                .into_result()
                .unwrap();
        }
        if n % 7 == 2 {
            m.add_to_folder(["a", "b"][n as usize % 2], std::slice::from_ref(&conv))
                .await
                .unwrap()
                .into_result()
                .unwrap();
        }
        all.push(conv);
    }
    m.clean_unread(
        all[3].clone(),
        timconv::ReadUpTo::Positions {
            timestamp: Some(11),
            sequence: Some(11),
        },
    )
    .await
    .unwrap();
    m.delete(&all[7], timconv::MessageHistory::Keep)
        .await
        .unwrap();
    all
}

async fn counters_equal_a_recount_after_restart<B: Backend>() {
    let backend = B::fresh().await;
    let m = open_manager(&backend).await;
    let filters = invariant_filters();
    let all = build_counter_state(&m).await;
    check_consistent(&m, &filters, 6).expect("consistent before the restart");
    let total = m.total_unread();
    assert!(total > 0);
    let counts: Vec<u64> = filters
        .iter()
        .map(|f| m.unread_by_filter(f).unwrap())
        .collect();

    let m = restart(&backend, m).await;
    assert_eq!(m.total_unread(), total);
    for (f, count) in filters.iter().zip(&counts) {
        assert_eq!(m.unread_by_filter(f).unwrap(), *count, "{f:?}");
    }
    check_consistent(&m, &filters, 6).expect("consistent after the restart");
    m.ingest_message(&all[1], incoming("after", 1_000))
        .await
        .unwrap();
    m.clean_unread(CleanTarget::AllGroups, timconv::ReadUpTo::Everything)
        .await
        .unwrap();
    check_consistent(&m, &filters, 6).expect("consistent after more writes");
    m.shutdown().await.unwrap();
}

async fn unread_watches_after_restart_start_at_the_recount<B: Backend>() {
    let backend = B::fresh().await;
    let m = open_manager(&backend).await;
    let filters = invariant_filters();
    let all = build_counter_state(&m).await;
    let total = m.total_unread();
    assert!(total > 0);

    let m = restart(&backend, m).await;
    // A watch yields the current value first (SPEC §6), also right after opening.
    let first = m.watch_total_unread().next().await;
    assert_eq!(
        first,
        Some(total),
        "the total watch of a reopened manager starts at {first:?}, total_unread() is {total}"
    );
    let mut watchers = UnreadWatchers::new(&m, &filters);
    watchers.check(&m).expect("watchers start at the recount");
    m.ingest_message(&all[1], incoming("after", 1_000))
        .await
        .unwrap();
    m.clean_unread(CleanTarget::AllGroups, timconv::ReadUpTo::Everything)
        .await
        .unwrap();
    watchers
        .check(&m)
        .expect("watchers follow after the restart");
    m.shutdown().await.unwrap();
}

async fn many_concurrent_writes_are_all_durable<B: Backend>() {
    const N: usize = 2_000;
    let backend = B::fresh().await;
    let m = open_manager(&backend).await;
    let convs: Vec<ConversationId> = (0..N).map(|n| id(&format!("c2c_u{n}"))).collect();
    let results = futures::future::join_all(
        convs
            .iter()
            .enumerate()
            .map(|(n, conv)| m.ingest_message(conv, incoming(&format!("m{n}"), n as u64 + 1))),
    )
    .await;
    for (n, result) in results.into_iter().enumerate() {
        assert_eq!(
            result.unwrap_or_else(|e| panic!("ingest {n} failed: {e}")),
            IngestOutcome::Created
        );
    }
    assert_eq!(m.len(), N);
    let m = restart(&backend, m).await;
    assert_eq!(m.len(), N);
    assert_eq!(m.total_unread(), N as u64);
    for (n, conv) in convs.iter().enumerate() {
        let c = m.get(conv).unwrap_or_else(|| panic!("{conv} is durable"));
        let last = c.last_message.clone().expect("its message");
        assert_eq!(last.msg_id.as_deref(), Some(format!("m{n}").as_str()));
        assert_eq!(c.unread_count, 1);
    }
    check_consistent(&m, &invariant_filters(), 500).expect("consistent");
    m.shutdown().await.unwrap();
}
