//! Keyset paging (SPEC §4, DESIGN property 3): order, page sizes, `next_seq`, and walks over a
//! list that changes between pages.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use timconv::{
    CleanTarget, Conversation, ConversationFilter, ConversationId, ConversationManager,
    ConversationType, Cursor, Draft, MarkFlags, Message,
};

use crate::common::{
    check_consistent, id, incoming, invariant_filters, manager, outgoing, set_marks, set_pinned,
};

fn peers(m: &ConversationManager) -> Vec<String> {
    m.conversations()
        .iter()
        .map(|c| c.id.peer().to_owned())
        .collect()
}

fn page_peers(convs: &[Arc<Conversation>]) -> Vec<String> {
    convs.iter().map(|c| c.id.peer().to_owned()).collect()
}

/// Creates `c2c_<name>` for each name, in order, each with one message: the last is the most
/// recently active.
async fn create_in_order(m: &ConversationManager, names: &[&str]) {
    for (n, name) in names.iter().enumerate() {
        let pos = 1_000 + n as u64;
        m.ingest_message(
            &id(&format!("c2c_{name}")),
            incoming(&format!("m{name}"), pos),
        )
        .await
        .expect("ingest");
    }
}

/// SPEC §4: "1,2,3,4,5 with 2 and 3 pinned lists as 2,3,1,4,5". 1 is the most recently
/// active, 5 the oldest. Pinning activates (SPEC §3), so 2 comes before 3 when 2 is pinned
/// last.
#[tokio::test]
async fn spec_example_pinned_first() {
    let m = manager().await;
    create_in_order(&m, &["5", "4", "3", "2", "1"]).await;
    assert_eq!(peers(&m), ["1", "2", "3", "4", "5"]);
    m.pin(&id("c2c_3")).await.expect("pin");
    m.pin(&id("c2c_2")).await.expect("pin");
    assert_eq!(peers(&m), ["2", "3", "1", "4", "5"]);
    for size in 1..=6 {
        let walked = crate::common::walk(&m, &ConversationFilter::new(), size).expect("walk");
        assert_eq!(
            page_peers(&walked),
            ["2", "3", "1", "4", "5"],
            "pages of {size}"
        );
    }
    // The pinned bit (62) is part of the position; a new message keeps a pinned one pinned.
    let first = m
        .list(&ConversationFilter::new(), Cursor::START, 1)
        .expect("list");
    assert_ne!(first.next_seq() & (1 << 62), 0);
    m.ingest_message(&id("c2c_5"), incoming("new", 2_000))
        .await
        .expect("ingest");
    assert_eq!(peers(&m), ["2", "3", "5", "1", "4"]);
    m.ingest_message(&id("c2c_3"), incoming("new3", 2_001))
        .await
        .expect("ingest");
    assert_eq!(peers(&m), ["3", "2", "5", "1", "4"]);
}

/// Pinning activates: the last one pinned comes first among the pinned; unpinning does not
/// activate, the conversation goes back by its order key.
#[tokio::test]
async fn pin_order_and_unpin() {
    let m = manager().await;
    create_in_order(&m, &["5", "4", "3", "2", "1"]).await;
    m.pin(&id("c2c_2")).await.expect("pin");
    m.pin(&id("c2c_3")).await.expect("pin");
    assert_eq!(peers(&m), ["3", "2", "1", "4", "5"]);
    m.unpin(&id("c2c_3")).await.expect("unpin");
    // 3 was activated by its pin, so it is the newest unpinned one.
    assert_eq!(peers(&m), ["2", "3", "1", "4", "5"]);
    m.unpin(&id("c2c_2")).await.expect("unpin");
    // Both unpinned: by order key, 3 (pinned last) before 2.
    assert_eq!(peers(&m), ["3", "2", "1", "4", "5"]);
    assert!(m.conversations().iter().all(|c| !c.is_pinned));
}

#[tokio::test]
async fn empty_list_is_finished() {
    let m = manager().await;
    let page = m
        .list(&ConversationFilter::new(), Cursor::START, 10)
        .expect("list");
    assert!(page.is_finished);
    assert!(page.conversations.is_empty());
    assert_eq!(page.next_seq(), 0);
    // A filter that matches nothing in a non-empty list.
    create_in_order(&m, &["a", "b"]).await;
    let groups = ConversationFilter::new().conv_type(ConversationType::Group);
    let page = m.list(&groups, Cursor::START, 10).expect("list");
    assert!(page.is_finished && page.conversations.is_empty());
}

#[tokio::test]
async fn zero_count_is_invalid() {
    let m = manager().await;
    let err = m
        .list(&ConversationFilter::new(), Cursor::START, 0)
        .expect_err("count 0");
    assert_eq!(err.code().as_i32(), 6017);
}

/// Pages over 100 work; `u32::MAX` returns everything at once.
#[tokio::test]
async fn large_pages() {
    let m = manager().await;
    for n in 0..150u64 {
        m.ingest_message(
            &id(&format!("c2c_u{n}")),
            incoming(&format!("m{n}"), 10 + n),
        )
        .await
        .expect("ingest");
    }
    let all = ConversationFilter::new();
    let first = m.list(&all, Cursor::START, 101).expect("list");
    assert_eq!(first.conversations.len(), 101);
    assert!(!first.is_finished);
    let second = m.list(&all, first.next_cursor, 101).expect("list");
    assert_eq!(second.conversations.len(), 49);
    assert!(second.is_finished);
    let mut both = first.conversations.clone();
    both.extend(second.conversations);
    assert_eq!(both, m.conversations());

    let everything = m.list(&all, Cursor::START, u32::MAX).expect("list");
    assert!(everything.is_finished);
    assert_eq!(everything.conversations, m.conversations());
    let exact = m.list(&all, Cursor::START, 150).expect("list");
    assert!(exact.is_finished, "a page that ends at the end is the last");
}

/// `next_seq` is the position of the last conversation returned; the C-style cursor made from
/// it continues the walk where the typed one does; `next_seq = 0` is the top.
#[tokio::test]
async fn next_seq_semantics() {
    let m = manager().await;
    create_in_order(&m, &["a", "b", "c", "d", "e", "f"]).await;
    m.pin(&id("c2c_c")).await.expect("pin");
    let all = ConversationFilter::new();
    assert!(Cursor::from_next_seq(0).is_start());
    assert!(Cursor::START.is_start());
    assert_eq!(
        m.list(&all, Cursor::from_next_seq(0), 6).expect("list"),
        m.list(&all, Cursor::START, 6).expect("list")
    );

    let mut typed = Cursor::START;
    let mut c_style = Cursor::from_next_seq(0);
    let mut walked = Vec::new();
    for round in 0.. {
        assert!(round < 10, "the walk does not finish");
        let page = m.list(&all, typed, 4).expect("list");
        let same = m.list(&all, c_style, 4).expect("list");
        assert_eq!(page.conversations, same.conversations);
        assert_eq!(page.is_finished, same.is_finished);
        assert_eq!(page.next_seq(), same.next_seq());
        let last = page.conversations.last().expect("a non-empty page");
        assert_eq!(page.next_seq(), last.sort_key());
        assert!(!page.next_cursor.is_start());
        walked.extend(page.conversations.iter().cloned());
        if page.is_finished {
            break;
        }
        typed = page.next_cursor;
        c_style = Cursor::from_next_seq(page.next_seq());
    }
    assert_eq!(walked, m.conversations());
    assert_eq!(walked.len(), 6);
    // Past the end: nothing, finished.
    let end = Cursor::from_next_seq(walked.last().expect("six").sort_key());
    let page = m.list(&all, end, 4).expect("list");
    assert!(page.is_finished && page.conversations.is_empty());
}

/// A conversation returned in the pinned part and unpinned before the walk reaches the
/// unpinned part is not returned twice; nothing else is missed.
#[tokio::test]
async fn unpin_across_the_pinned_boundary() {
    let m = manager().await;
    create_in_order(&m, &["u3", "u2", "u1", "p2", "p1"]).await;
    m.pin(&id("c2c_p2")).await.expect("pin");
    m.pin(&id("c2c_p1")).await.expect("pin");
    assert_eq!(peers(&m), ["p1", "p2", "u1", "u2", "u3"]);
    for size in [1, 2, 3] {
        let all = ConversationFilter::new();
        let first = m.list(&all, Cursor::START, size).expect("list");
        let mut seen = page_peers(&first.conversations);
        assert_eq!(seen[0], "p1");
        // p1 leaves the pinned part; by its order key (its pin activated it) it is now the
        // newest unpinned conversation, below the cursor.
        m.unpin(&id("c2c_p1")).await.expect("unpin");
        let mut cursor = first.next_cursor;
        let mut finished = first.is_finished;
        while !finished {
            let page = m.list(&all, cursor, size).expect("list");
            seen.extend(page_peers(&page.conversations));
            cursor = page.next_cursor;
            finished = page.is_finished;
        }
        assert_eq!(seen, ["p1", "p2", "u1", "u2", "u3"], "pages of {size}");
        m.pin(&id("c2c_p1")).await.expect("pin again");
    }
}

/// A walk with a filter keeps the list order and pages the same way.
#[tokio::test]
async fn filtered_walk_keeps_order() {
    let m = manager().await;
    create_in_order(&m, &["a", "b", "c", "d", "e", "f", "g"]).await;
    let ids: Vec<ConversationId> = ["c2c_b", "c2c_d", "c2c_f", "c2c_g"]
        .iter()
        .map(|s| id(s))
        .collect();
    m.mark(&ids, MarkFlags::STAR)
        .await
        .expect("mark")
        .into_result()
        .expect("mark");
    m.pin(&id("c2c_b")).await.expect("pin");
    let starred = ConversationFilter::new().mark(MarkFlags::STAR);
    for size in 1..=5 {
        let walked = crate::common::walk(&m, &starred, size).expect("walk");
        assert_eq!(page_peers(&walked), ["b", "g", "f", "d"], "pages of {size}");
    }
    check_consistent(&m, &invariant_filters(), 2).expect("consistent");
}

// ---------------------------------------------------------------------------------------------
// Walks interleaved with random changes.

/// The pool: conversations 0..6 are C2C, 6..12 groups. Some exist at the start, the others
/// may be created during a walk.
const POOL: usize = 12;

fn pool_id(i: usize) -> ConversationId {
    if i < POOL / 2 {
        id(&format!("c2c_p{i}"))
    } else {
        id(&format!("group_q{i}"))
    }
}

/// The filters walks are tested over.
fn walk_filters() -> Vec<ConversationFilter> {
    vec![
        ConversationFilter::new(),
        ConversationFilter::new().conv_type(ConversationType::C2c),
        ConversationFilter::new().mark(MarkFlags::STAR),
        ConversationFilter::new().has_unread(true),
        ConversationFilter::new().folder("g"),
        ConversationFilter::new().mark(MarkFlags::empty()),
    ]
}

#[derive(Debug, Clone)]
struct Initial {
    conv: usize,
    pinned: bool,
    starred: bool,
    in_group: bool,
    unread: bool,
}

/// Which conversation a change is about: one of the pool, or one the walk has already
/// returned (`Returned(k)`: the k-th most recent, modulo their number), where the paging
/// guarantees are most at risk.
#[derive(Debug, Clone, Copy)]
enum Pick {
    Pool(usize),
    Returned(usize),
}

#[derive(Debug, Clone)]
enum Change {
    /// A new message: activates (or creates, or brings back) the conversation.
    Message {
        conv: Pick,
        incoming: bool,
    },
    Pin {
        conv: Pick,
        on: bool,
    },
    Star {
        conv: Pick,
        on: bool,
    },
    Group {
        conv: Pick,
        on: bool,
    },
    Delete {
        conv: Pick,
    },
    /// Deleted, then brought back by a new message.
    Recreate {
        conv: Pick,
    },
    Create {
        conv: Pick,
    },
    Draft {
        conv: Pick,
    },
    Clean {
        conv: Pick,
    },
}

fn initial() -> impl Strategy<Value = Initial> {
    (
        0..POOL,
        prop::bool::weighted(0.4),
        prop::bool::weighted(0.4),
        prop::bool::weighted(0.4),
        prop::bool::weighted(0.6),
    )
        .prop_map(|(conv, pinned, starred, in_group, unread)| Initial {
            conv,
            pinned,
            starred,
            in_group,
            unread,
        })
}

fn change() -> impl Strategy<Value = Change> {
    let conv = || {
        prop_oneof![
            2 => (0..POOL).prop_map(Pick::Pool),
            1 => (0..4usize).prop_map(Pick::Returned),
        ]
    };
    prop_oneof![
        4 => (conv(), any::<bool>()).prop_map(|(conv, incoming)| Change::Message { conv, incoming }),
        2 => conv().prop_map(|conv| Change::Pin { conv, on: true }),
        3 => conv().prop_map(|conv| Change::Pin { conv, on: false }),
        2 => (conv(), any::<bool>()).prop_map(|(conv, on)| Change::Star { conv, on }),
        1 => (conv(), any::<bool>()).prop_map(|(conv, on)| Change::Group { conv, on }),
        2 => conv().prop_map(|conv| Change::Delete { conv }),
        2 => conv().prop_map(|conv| Change::Recreate { conv }),
        1 => conv().prop_map(|conv| Change::Create { conv }),
        1 => conv().prop_map(|conv| Change::Draft { conv }),
        1 => conv().prop_map(|conv| Change::Clean { conv }),
    ]
}

/// What happens after each page: the next page's size and the changes made before it.
fn pages() -> impl Strategy<Value = Vec<(u32, Vec<Change>)>> {
    prop::collection::vec((1..=7u32, prop::collection::vec(change(), 0..3)), 1..30)
}

struct World {
    m: ConversationManager,
    /// Message positions only grow, so every message is the newest of its conversation.
    clock: u64,
    /// What the walk has returned so far, in order.
    returned: Vec<ConversationId>,
}

impl World {
    async fn message(&mut self, conv: &ConversationId, incoming_msg: bool) {
        self.clock += 1;
        let msg_id = format!("m{}", self.clock);
        let msg = if incoming_msg {
            incoming(&msg_id, self.clock)
        } else {
            outgoing(&msg_id, self.clock)
        };
        self.m.ingest_message(conv, msg).await.expect("ingest");
    }

    fn resolve(&self, pick: Pick) -> ConversationId {
        match pick {
            Pick::Returned(k) if !self.returned.is_empty() => {
                self.returned[self.returned.len() - 1 - k % self.returned.len()].clone()
            }
            Pick::Returned(k) | Pick::Pool(k) => pool_id(k % POOL),
        }
    }

    /// Applies a change.
    async fn apply(&mut self, change: &Change) {
        let m = self.m.clone();
        // Refusals (6004 for a deleted conversation, ...) are part of the game.
        let _refused = match *change {
            Change::Message { conv, incoming } => {
                self.message(&self.resolve(conv), incoming).await;
                Ok(())
            }
            Change::Pin { conv, on } => set_pinned(&m, &self.resolve(conv), on).await,
            Change::Star { conv, on } => {
                let ids = [self.resolve(conv)];
                set_marks(&m, &ids, MarkFlags::STAR, on).await.map(drop)
            }
            Change::Group { conv, on } => {
                let ids = [self.resolve(conv)];
                if on {
                    m.add_to_folder("g", &ids).await.map(drop)
                } else {
                    m.remove_from_folder("g", &ids).await.map(drop)
                }
            }
            Change::Delete { conv } => {
                m.delete(&self.resolve(conv), timconv::MessageHistory::Keep)
                    .await
            }
            Change::Recreate { conv } => {
                let id = self.resolve(conv);
                let deleted = m.delete(&id, timconv::MessageHistory::Keep).await;
                self.message(&id, true).await;
                deleted
            }
            Change::Create { conv } => m.create_conversation(&self.resolve(conv)).await.map(drop),
            Change::Draft { conv } => {
                let draft = Draft::new(Message::text("", "draft"), "", 1);
                m.set_draft(&self.resolve(conv), draft).await
            }
            Change::Clean { conv } => {
                let target = CleanTarget::Conversation(self.resolve(conv));
                m.clean_unread(target, timconv::ReadUpTo::Everything).await
            }
        };
    }
}

/// Sort key of every conversation matching `filter`.
fn positions(m: &ConversationManager, filter: &ConversationFilter) -> HashMap<ConversationId, u64> {
    m.conversations()
        .into_iter()
        .filter(|c| filter.matches(c))
        .map(|c| (c.id.clone(), c.sort_key()))
        .collect()
}

async fn walk_with_changes(
    initial: Vec<Initial>,
    filter: usize,
    pages: Vec<(u32, Vec<Change>)>,
) -> Result<(), TestCaseError> {
    let m = manager().await;
    m.create_folder("g", Vec::<ConversationId>::new())
        .await
        .expect("a group may start empty")
        .into_result()
        .expect("a group may start empty");
    let mut world = World {
        m: m.clone(),
        clock: 100,
        returned: Vec::new(),
    };
    for init in &initial {
        world.message(&pool_id(init.conv), init.unread).await;
        let ids = [pool_id(init.conv)];
        if init.pinned {
            m.pin(&ids[0]).await.expect("pin");
        }
        if init.starred {
            m.mark(&ids, MarkFlags::STAR)
                .await
                .expect("mark")
                .into_result()
                .expect("mark");
        }
        if init.in_group {
            m.add_to_folder("g", &ids)
                .await
                .expect("group")
                .into_result()
                .expect("group");
        }
    }
    let filter = walk_filters()[filter].clone();

    // Conversations that so far existed, matched and stayed in place throughout.
    let mut steady = positions(&m, &filter);
    let mut returned: HashSet<ConversationId> = HashSet::new();
    let mut cursor = Cursor::START;
    let mut sizes = pages
        .iter()
        .map(|(size, _)| *size)
        .chain(std::iter::repeat(3));
    let mut changes = pages.iter().map(|(_, c)| c.as_slice());
    for n in 0.. {
        prop_assert!(n < 1_000, "the walk does not finish");
        let size = sizes.next().expect("endless");
        let page = m.list(&filter, cursor, size).expect("list");
        prop_assert!(page.conversations.len() <= size as usize);
        for w in page.conversations.windows(2) {
            prop_assert!(w[0].sort_key() > w[1].sort_key(), "a page out of order");
        }
        for c in &page.conversations {
            prop_assert!(filter.matches(c), "{} does not match {filter:?}", c.id);
            prop_assert!(
                m.get(&c.id).as_ref() == Some(c),
                "a page shows a stale state"
            );
            prop_assert!(
                returned.insert(c.id.clone()),
                "{} returned twice (page {})",
                c.id,
                n
            );
            world.returned.push(c.id.clone());
        }
        if page.is_finished {
            break;
        }
        prop_assert!(
            !page.conversations.is_empty(),
            "an empty page that is not finished"
        );
        cursor = page.next_cursor;
        for change in changes.next().unwrap_or(&[]) {
            world.apply(change).await;
            let now = positions(&m, &filter);
            steady.retain(|id, key| now.get(id) == Some(key));
        }
    }
    let mut missed: Vec<_> = steady
        .keys()
        .filter(|id| !returned.contains(*id))
        .map(ToString::to_string)
        .collect();
    missed.sort();
    prop_assert!(missed.is_empty(), "steady conversations missed: {missed:?}");
    check_consistent(&m, &walk_filters(), 4).map_err(TestCaseError::fail)?;
    Ok(())
}

fn config() -> ProptestConfig {
    crate::common::proptest_config(512)
}

proptest! {
    #![proptest_config(config())]

    /// SPEC §4: a walk over a list that changes between pages returns no conversation twice,
    /// and misses none that existed throughout, matched its filter throughout and did not
    /// move (its sort key never changed).
    #[test]
    fn walks_under_change(
        initial in prop::collection::vec(initial(), 0..16),
        filter in 0..walk_filters().len(),
        pages in pages(),
    ) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .block_on(walk_with_changes(initial, filter, pages))?;
    }
}

/// SPEC §4: "returns no conversation twice". A pinned conversation already returned, deleted
/// and brought back by a new message (now unpinned, below the cursor) is not returned again.
#[tokio::test]
async fn deleted_and_recreated_during_a_walk_is_not_returned_twice() {
    let m = manager().await;
    create_in_order(&m, &["u2", "u1", "p2", "p1"]).await;
    m.pin(&id("c2c_p2")).await.expect("pin");
    m.pin(&id("c2c_p1")).await.expect("pin");
    let all = ConversationFilter::new();
    let first = m.list(&all, Cursor::START, 1).expect("list");
    let mut seen = page_peers(&first.conversations);
    assert_eq!(seen, ["p1"]);
    m.delete(&id("c2c_p1"), timconv::MessageHistory::Keep)
        .await
        .expect("delete");
    m.ingest_message(&id("c2c_p1"), incoming("back", 5_000))
        .await
        .expect("ingest");
    let mut cursor = first.next_cursor;
    loop {
        let page = m.list(&all, cursor, 1).expect("list");
        seen.extend(page_peers(&page.conversations));
        if page.is_finished {
            break;
        }
        cursor = page.next_cursor;
    }
    assert_eq!(seen, ["p1", "p2", "u1", "u2"]);
}
