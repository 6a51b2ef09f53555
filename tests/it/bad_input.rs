//! Bad input: every invalid input of the SPEC gives its §10 code, changes nothing and emits
//! no event.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::future::LocalBoxFuture;
use timconv::{
    CleanTarget, Conversation, ConversationFilter, ConversationId, ConversationManager,
    ConversationOutcome, ConversationType, Cursor, Event, EventStream, Limits, MarkFlags, Message,
    Profile, ReceiveOption,
};

use crate::common::{id, incoming, manager, manager_with, set_marks};

/// Everything a refused call must leave as it was.
#[derive(Debug, PartialEq)]
struct State {
    conversations: Vec<Arc<Conversation>>,
    folders: Vec<String>,
    total_unread: u64,
    watched_filters: usize,
}

impl State {
    fn of(m: &ConversationManager) -> Self {
        Self {
            conversations: m.conversations(),
            folders: m.folders(),
            total_unread: m.total_unread(),
            watched_filters: m.watched_filters(),
        }
    }
}

/// One bad call: a name for messages, the call (not yet started), the expected SPEC §10 code.
type Case<'a> = (String, LocalBoxFuture<'a, timconv::Result<()>>, i32);

fn case<'a, T: 'a>(
    name: impl Into<String>,
    code: i32,
    call: impl Future<Output = timconv::Result<T>> + 'a,
) -> Case<'a> {
    (
        name.into(),
        Box::pin(async move { call.await.map(drop) }),
        code,
    )
}

static MARKERS: AtomicUsize = AtomicUsize::new(0);

/// Performs a known-good write and checks that its event is the first one `events` sees, so
/// that nothing was emitted between the subscription and now.
async fn assert_no_event_since(m: &ConversationManager, events: &mut EventStream, what: &str) {
    let marker = id(&format!(
        "c2c_marker_{}",
        MARKERS.fetch_add(1, Ordering::Relaxed)
    ));
    m.create_conversation(&marker)
        .await
        .expect("the marker write succeeds");
    let first = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap_or_else(|_| panic!("{what}: no event within 5 s, not even the marker's"))
        .expect("the event stream is open")
        .expect("the consumer did not lag");
    match &first {
        Event::Added(added) if added.len() == 1 && added[0].id == marker => {}
        other => panic!("{what}: emitted {other:?} before the marker"),
    }
}

/// Runs each case in turn: it must fail with its code, change nothing and emit nothing.
async fn assert_refused(m: &ConversationManager, cases: Vec<Case<'_>>) {
    assert!(!cases.is_empty());
    for (name, call, code) in cases {
        let before = State::of(m);
        let mut events = m.events();
        match call.await {
            Ok(()) => panic!("{name}: accepted, expected code {code}"),
            Err(err) => assert_eq!(err.code().as_i32(), code, "{name}: {err}"),
        }
        assert_eq!(State::of(m), before, "{name}: the state changed");
        assert_no_event_since(m, &mut events, &name).await;
    }
}

fn codes(outcomes: &[ConversationOutcome]) -> Vec<i32> {
    outcomes.iter().map(ConversationOutcome::code).collect()
}

fn ids_of(outcomes: &[ConversationOutcome]) -> Vec<ConversationId> {
    outcomes.iter().map(|o| o.id.clone()).collect()
}

/// Creates conversations `c2c_{prefix}{i}` for `i` in `range`, returning their IDs.
async fn create_many(
    m: &ConversationManager,
    prefix: &str,
    range: std::ops::Range<usize>,
) -> Vec<ConversationId> {
    let mut ids = Vec::with_capacity(range.len());
    for i in range {
        let c = id(&format!("c2c_{prefix}{i}"));
        m.create_conversation(&c).await.expect("create");
        ids.push(c);
    }
    ids
}

/// A manager with a few conversations: unread, pinned, marked, grouped, with custom data.
async fn populated(limits: Limits) -> ConversationManager {
    let m = manager_with(limits).await;
    m.ingest_message(&id("c2c_alice"), incoming("a1", 10))
        .await
        .expect("ingest");
    m.ingest_message(&id("group_team"), incoming("t1", 3))
        .await
        .expect("ingest");
    m.create_conversation(&id("c2c_bob")).await.expect("create");
    m.pin(&id("c2c_bob")).await.expect("pin");
    m.mark(&[id("c2c_alice")], MarkFlags::STAR)
        .await
        .expect("mark")
        .into_result()
        .expect("mark");
    m.create_folder("work", &[id("group_team")])
        .await
        .expect("group")
        .into_result()
        .expect("group");
    m.set_custom_data(&[id("c2c_bob")], "data")
        .await
        .expect("custom data")
        .into_result()
        .expect("custom data");
    assert_eq!(m.total_unread(), 2);
    m
}

fn reserved_marks() -> Vec<(String, MarkFlags)> {
    vec![
        ("1<<4".into(), MarkFlags::from_bits_retain(1 << 4)),
        ("1<<31".into(), MarkFlags::from_bits_retain(1 << 31)),
        (
            "STAR|1<<4".into(),
            MarkFlags::STAR | MarkFlags::from_bits_retain(1 << 4),
        ),
        (
            "1<<40|1<<20".into(),
            MarkFlags::from_bits_retain((1 << 40) | (1 << 20)),
        ),
    ]
}

#[test]
fn malformed_conversation_ids_are_6017() {
    for bad in [
        "", "c2c_", "group_", "bob", "C2C_x", "GROUP_x", "system_x", "c2c", "group", " c2c_x",
    ] {
        let err = bad
            .parse::<ConversationId>()
            .expect_err(&format!("{bad:?} must be refused"));
        assert_eq!(err.code().as_i32(), 6017, "{bad:?}: {err}");
        assert!(
            serde_json::from_value::<ConversationId>(serde_json::json!(bad)).is_err(),
            "{bad:?} as JSON"
        );
    }
    for (kind, peer) in [
        (ConversationType::System, "x"),
        (ConversationType::System, ""),
        (ConversationType::C2c, ""),
        (ConversationType::Group, ""),
    ] {
        let err = ConversationId::new(kind, peer).expect_err("refused");
        assert_eq!(err.code().as_i32(), 6017, "{kind:?} {peer:?}");
    }
    assert_eq!(
        ConversationId::c2c("").expect_err("empty").code().as_i32(),
        6017
    );
    assert_eq!(
        ConversationId::group("")
            .expect_err("empty")
            .code()
            .as_i32(),
        6017
    );
    // The clean-unread target names: only "c2c", "group", "" and full IDs.
    for bad in ["bob", "C2C", "c2c_", "system"] {
        let err = CleanTarget::parse(bad).expect_err(bad);
        assert_eq!(err.code().as_i32(), 6017, "{bad:?}");
    }
    // Records with type 0 or the deprecated system type cannot be held.
    for t in [0, 3, 9] {
        let json = serde_json::json!({"conv_id": "x", "conv_type": t});
        assert!(
            serde_json::from_value::<Conversation>(json).is_err(),
            "type {t}"
        );
    }
}

#[tokio::test]
async fn invalid_reads_are_6017_and_change_nothing() {
    let m = populated(Limits::default()).await;
    let all = ConversationFilter::new();
    let filters: Vec<(String, ConversationFilter)> = reserved_marks()
        .into_iter()
        .map(|(name, marks)| (name, ConversationFilter::new().mark(marks)))
        .collect();
    let mut cases = vec![
        case("list count 0", 6017, async {
            m.list(&all, Cursor::START, 0)
        }),
        case("list count 0 after a cursor", 6017, async {
            let first = m.list(&all, Cursor::START, 1)?;
            m.list(&all, first.next_cursor, 0)
        }),
    ];
    for (name, filter) in &filters {
        cases.push(case(format!("list filter {name}"), 6017, async {
            m.list(filter, Cursor::START, 10)
        }));
        cases.push(case(format!("unread_by_filter {name}"), 6017, async {
            m.unread_by_filter(filter)
        }));
        cases.push(case(format!("watch_unread {name}"), 6017, async {
            m.watch_unread(filter)
        }));
    }
    assert_refused(&m, cases).await;
    assert_eq!(m.watched_filters(), 0);
}

#[tokio::test]
async fn reserved_and_empty_marks_are_6017() {
    let m = populated(Limits::default()).await;
    let targets = [id("c2c_alice"), id("group_team")];
    let nobody = [id("c2c_nobody")];
    let mut cases = Vec::new();
    for (name, marks) in reserved_marks() {
        for enable in [true, false] {
            cases.push(case(
                format!("mark {name} enable={enable}"),
                6017,
                set_marks(&m, &targets, marks, enable),
            ));
        }
    }
    for enable in [true, false] {
        cases.push(case(
            format!("mark no flags enable={enable}"),
            6017,
            set_marks(&m, &targets, MarkFlags::empty(), enable),
        ));
    }
    // Invalid marks are refused before the batch or the conversations are looked at.
    cases.push(case(
        "mark reserved on a missing conversation",
        6017,
        set_marks(&m, &nobody, MarkFlags::from_bits_retain(1 << 4), true),
    ));
    assert_refused(&m, cases).await;

    // Every reserved bit alone.
    for n in 4..32 {
        let err = m
            .mark(&targets, MarkFlags::from_bits_retain(1 << n))
            .await
            .expect_err("reserved");
        assert_eq!(err.code().as_i32(), 6017, "bit {n}");
    }
    // The allowed bits around them are accepted.
    for marks in [
        MarkFlags::HIDE,
        MarkFlags::extension(32).expect("32"),
        MarkFlags::extension(63).expect("63"),
    ] {
        let outcomes = m.mark(&targets, marks).await.expect("allowed");
        assert_eq!(codes(&outcomes), [0, 0]);
    }
}

#[tokio::test]
async fn custom_data_over_256_bytes_is_6017() {
    let m = populated(Limits::default()).await;
    let targets = [id("c2c_alice"), id("c2c_bob")];
    let ascii = "x".repeat(257);
    let multibyte = format!("{}a", "é".repeat(128)); // 257 bytes, 129 chars
    let raw = vec![0xffu8; 257];
    assert_refused(
        &m,
        vec![
            case(
                "257 ASCII bytes",
                6017,
                m.set_custom_data(&targets, ascii.as_str()),
            ),
            case(
                "257 bytes of UTF-8",
                6017,
                m.set_custom_data(&targets, multibyte.as_str()),
            ),
            case(
                "257 raw bytes",
                6017,
                m.set_custom_data(&targets, raw.clone()),
            ),
            case(
                "1000 bytes",
                6017,
                m.set_custom_data(&targets, vec![b'a'; 1000]),
            ),
        ],
    )
    .await;
    let outcomes = m
        .set_custom_data(&targets, vec![b'y'; 256])
        .await
        .expect("256 bytes is allowed");
    assert_eq!(codes(&outcomes), [0, 0]);
}

#[tokio::test]
async fn group_name_length_is_51011() {
    let m = populated(Limits::default()).await;
    let team = [id("group_team")];
    let alice = [id("c2c_alice")];
    let long = "n".repeat(33);
    let wide = "é".repeat(17); // 34 bytes, 17 chars
    let mut cases = Vec::new();
    for (label, bad) in [
        ("empty", ""),
        ("33 bytes", long.as_str()),
        ("34 bytes", &wide),
    ] {
        cases.push(case(
            format!("create {label}"),
            51011,
            m.create_folder(bad, &alice),
        ));
        cases.push(case(
            format!("rename from {label}"),
            51011,
            m.rename_folder(bad, "other"),
        ));
        cases.push(case(
            format!("rename to {label}"),
            51011,
            m.rename_folder("work", bad),
        ));
        cases.push(case(
            format!("add to {label}"),
            51011,
            m.add_to_folder(bad, &alice),
        ));
        cases.push(case(
            format!("remove from {label}"),
            51011,
            m.remove_from_folder(bad, &team),
        ));
        cases.push(case(format!("delete {label}"), 51011, m.delete_folder(bad)));
    }
    // The name is checked before the batch and before the group is looked up.
    cases.push(case(
        "create empty name, empty batch",
        51011,
        m.create_folder("", &[]),
    ));
    cases.push(case(
        "add to 33 bytes, empty batch",
        51011,
        m.add_to_folder(&long, &[]),
    ));
    assert_refused(&m, cases).await;

    let max = "m".repeat(32);
    m.create_folder(&max, &alice)
        .await
        .expect("32 bytes is allowed")
        .into_result()
        .expect("32 bytes is allowed");
    m.rename_folder(&max, &"é".repeat(16))
        .await
        .expect("32 bytes of UTF-8 is allowed");
}

#[tokio::test]
async fn twenty_first_group_is_51010() {
    let m = populated(Limits::default()).await;
    let alice = [id("c2c_alice")];
    // "work" exists already: 19 more make 20.
    for i in 1..20 {
        m.create_folder(&format!("g{i}"), &alice)
            .await
            .expect("within 20")
            .into_result()
            .expect("within 20");
    }
    assert_eq!(m.folders().len(), 20);
    assert_refused(
        &m,
        vec![
            case("21st group", 51010, m.create_folder("g21", &alice)),
            case(
                "21st group of another conversation",
                51010,
                m.create_folder("g22", &[id("c2c_bob")]),
            ),
        ],
    )
    .await;
    m.delete_folder("g1").await.expect("delete");
    m.create_folder("g21", &alice)
        .await
        .expect("room for one again")
        .into_result()
        .expect("room for one again");
    assert_eq!(m.folders().len(), 20);
}

#[tokio::test]
async fn too_many_groups_follows_limits() {
    let m = manager_with(Limits::default().with_max_groups(2)).await;
    let a = id("c2c_a");
    m.create_conversation(&a).await.expect("create");
    m.create_folder("one", std::slice::from_ref(&a))
        .await
        .expect("1")
        .into_result()
        .expect("1");
    m.create_folder("two", std::slice::from_ref(&a))
        .await
        .expect("2")
        .into_result()
        .expect("2");
    assert_refused(
        &m,
        vec![case(
            "third of two",
            51010,
            m.create_folder("three", std::slice::from_ref(&a)),
        )],
    )
    .await;
}

#[tokio::test]
async fn unknown_group_is_51009() {
    let m = populated(Limits::default()).await;
    let alice = [id("c2c_alice")];
    assert_refused(
        &m,
        vec![
            case("delete", 51009, m.delete_folder("nope")),
            case("rename", 51009, m.rename_folder("nope", "fresh")),
            case("rename to itself", 51009, m.rename_folder("nope", "nope")),
            case("add", 51009, m.add_to_folder("nope", &alice)),
            case("remove", 51009, m.remove_from_folder("nope", &alice)),
            case(
                "add missing conversation",
                51009,
                m.add_to_folder("nope", &[id("c2c_nobody")]),
            ),
            case("names are case-sensitive", 51009, m.delete_folder("Work")),
        ],
    )
    .await;
    m.delete_folder("work").await.expect("delete");
    assert_refused(
        &m,
        vec![
            case("delete twice", 51009, m.delete_folder("work")),
            case("add after delete", 51009, m.add_to_folder("work", &alice)),
        ],
    )
    .await;
}

#[tokio::test]
async fn duplicate_group_name_is_6017() {
    let m = populated(Limits::default()).await;
    m.create_folder("home", &[id("c2c_alice")])
        .await
        .expect("create")
        .into_result()
        .expect("create");
    assert_refused(
        &m,
        vec![
            case(
                "create existing",
                6017,
                m.create_folder("work", &[id("c2c_alice")]),
            ),
            case(
                "create existing with a missing conversation",
                6017,
                m.create_folder("work", &[id("c2c_nobody")]),
            ),
            case(
                "rename onto existing",
                6017,
                m.rename_folder("home", "work"),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn batch_of_0_or_101_is_51006() {
    let m = populated(Limits::default()).await;
    let many = create_many(&m, "batch", 0..101).await;
    m.create_folder("big", &many[..100])
        .await
        .expect("100 is allowed")
        .into_result()
        .expect("100 is allowed");
    let none: [ConversationId; 0] = [];
    let mut cases = Vec::new();
    for (label, ids) in [("0", &none[..]), ("101", &many[..])] {
        cases.push(case(
            format!("mark {label}"),
            51006,
            m.mark(ids, MarkFlags::STAR),
        ));
        cases.push(case(
            format!("set_custom_data {label}"),
            51006,
            m.set_custom_data(ids, "x"),
        ));
        cases.push(case(
            format!("delete_many {label}"),
            51006,
            m.delete_many(ids, timconv::MessageHistory::Keep),
        ));
        if label == "101" {
            // A folder may be created empty; only too many is refused.
            cases.push(case(
                format!("create_folder {label}"),
                51006,
                m.create_folder("fresh", ids),
            ));
        }
        cases.push(case(
            format!("add_to_folder {label}"),
            51006,
            m.add_to_folder("work", ids),
        ));
        cases.push(case(
            format!("remove_from_folder {label}"),
            51006,
            m.remove_from_folder("big", ids),
        ));
    }
    assert_refused(&m, cases).await;

    // 100 is accepted by every batch call.
    let hundred = &many[1..];
    for outcomes in [
        m.mark(hundred, MarkFlags::FOLD).await,
        m.set_custom_data(hundred, "x").await,
        m.add_to_folder("work", hundred).await,
        m.remove_from_folder("big", hundred).await,
        m.delete_many(hundred, timconv::MessageHistory::Keep).await,
    ] {
        let outcomes = outcomes.expect("100 is allowed");
        assert_eq!(outcomes.len(), 100);
        assert!(outcomes.iter().all(ConversationOutcome::is_ok));
    }
}

#[tokio::test]
async fn pin_over_the_limit_is_51012() {
    let m = manager_with(Limits::default().with_max_pinned(2)).await;
    let ids = create_many(&m, "p", 0..3).await;
    m.pin(&ids[0]).await.expect("1st");
    m.pin(&ids[1]).await.expect("2nd");
    assert_refused(&m, vec![case("3rd of 2", 51012, m.pin(&ids[2]))]).await;
    // Pinning a pinned conversation at the limit changes nothing and succeeds.
    m.pin(&ids[1]).await.expect("already pinned");
    m.unpin(&ids[0]).await.expect("unpin");
    m.pin(&ids[2]).await.expect("room again");
    // Deleting a pinned conversation frees its place too.
    assert_refused(&m, vec![case("3rd of 2 again", 51012, m.pin(&ids[0]))]).await;
    m.delete(&ids[1], timconv::MessageHistory::Keep)
        .await
        .expect("delete");
    m.pin(&ids[0]).await.expect("room after delete");
}

#[tokio::test]
async fn fifty_first_pin_is_51012_at_the_default_limit() {
    let m = manager().await;
    assert_eq!(m.limits().max_pinned, 50);
    let ids = create_many(&m, "pin", 0..51).await;
    for c in &ids[..50] {
        m.pin(c).await.expect("within 50");
    }
    assert_eq!(m.conversations().iter().filter(|c| c.is_pinned).count(), 50);
    assert_refused(&m, vec![case("51st pin", 51012, m.pin(&ids[50]))]).await;
    m.unpin(&ids[0]).await.expect("unpin");
    m.pin(&ids[50]).await.expect("room for one again");
    assert_eq!(m.conversations().iter().filter(|c| c.is_pinned).count(), 50);
}

#[tokio::test]
async fn decoration_limit_refuses_per_conversation_with_51008() {
    let m = manager_with(Limits::default().with_max_decorated(5)).await;
    let ids = create_many(&m, "d", 0..10).await;
    // Four decorated, one way each (and one with two).
    m.mark(&ids[0..2], MarkFlags::STAR)
        .await
        .expect("mark")
        .into_result()
        .expect("mark");
    m.set_custom_data(&ids[2..3], "cd")
        .await
        .expect("data")
        .into_result()
        .expect("data");
    m.create_folder("work", &ids[3..4])
        .await
        .expect("group")
        .into_result()
        .expect("group");
    m.set_custom_data(&ids[0..1], "more")
        .await
        .expect("data")
        .into_result()
        .expect("data");

    // A batch with room for one: the first new one succeeds, the next is refused, and an
    // already decorated one still succeeds.
    let mut events = m.events();
    let before_6 = m.get(&ids[5]).expect("exists");
    let batch = [ids[4].clone(), ids[5].clone(), ids[1].clone()];
    let outcomes = m
        .mark(&batch, MarkFlags::FOLD)
        .await
        .expect("the batch is accepted");
    assert_eq!(ids_of(&outcomes), batch);
    assert_eq!(codes(&outcomes), [0, 51008, 0]);
    assert_eq!(
        m.get(&ids[4]).map(|c| c.marks),
        Some(MarkFlags::FOLD),
        "the 5th is marked"
    );
    assert_eq!(
        m.get(&ids[1]).map(|c| c.marks),
        Some(MarkFlags::STAR | MarkFlags::FOLD)
    );
    assert_eq!(
        m.get(&ids[5]),
        Some(before_6),
        "the refused one is untouched"
    );
    let event = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event")
        .expect("open")
        .expect("not lagged");
    match event {
        Event::Updated(updated) => {
            let mut updated: Vec<_> = updated.into_iter().map(|c| c.id.clone()).collect();
            updated.sort();
            let mut expected = vec![ids[4].clone(), ids[1].clone()];
            expected.sort();
            assert_eq!(updated, expected);
        }
        other => panic!("expected the update of the accepted ones, got {other:?}"),
    }
    assert_no_event_since(&m, &mut events, "after the partial batch").await;

    // At the limit: every kind of decoration is refused for an undecorated conversation,
    // allowed for a decorated one.
    let fresh = ids[6].clone();
    let decorated = ids[2].clone();
    let both = [fresh.clone(), decorated.clone()];
    for (what, outcomes) in [
        ("mark", m.mark(&both, MarkFlags::HIDE).await),
        ("custom data", m.set_custom_data(&both, "z").await),
        ("add to group", m.add_to_folder("work", &both).await),
        ("create group", m.create_folder("second", &both).await),
    ] {
        let outcomes = outcomes.unwrap_or_else(|e| panic!("{what}: batch refused: {e}"));
        assert_eq!(codes(&outcomes), [51008, 0], "{what}");
    }
    assert!(!m.get(&fresh).expect("exists").is_decorated());

    // A batch where every conversation is refused changes nothing and emits nothing.
    let before = State::of(&m);
    let mut events = m.events();
    let outcomes = m
        .mark(&ids[6..10], MarkFlags::STAR)
        .await
        .expect("accepted");
    assert_eq!(codes(&outcomes), [51008; 4]);
    assert_eq!(State::of(&m), before);
    assert_no_event_since(&m, &mut events, "all refused").await;

    // Changes that add no decoration pass at the limit.
    let outcomes = m
        .unmark(std::slice::from_ref(&fresh), MarkFlags::STAR)
        .await
        .expect("clearing");
    assert_eq!(codes(&outcomes), [0]);
    let outcomes = m
        .set_custom_data(std::slice::from_ref(&fresh), "")
        .await
        .expect("clearing");
    assert_eq!(codes(&outcomes), [0]);

    // Undecorating one frees a place.
    let outcomes = m
        .unmark(std::slice::from_ref(&ids[4]), MarkFlags::FOLD)
        .await
        .expect("clear");
    assert_eq!(codes(&outcomes), [0]);
    let outcomes = m
        .mark(std::slice::from_ref(&fresh), MarkFlags::STAR)
        .await
        .expect("mark");
    assert_eq!(codes(&outcomes), [0]);
}

#[tokio::test]
async fn thousand_and_first_decorated_is_51008_at_the_default_limit() {
    let m = manager().await;
    assert_eq!(m.limits().max_decorated, 1000);
    let ids = create_many(&m, "k", 0..1001).await;
    // Decorate 1000, in the three ways.
    for (i, chunk) in ids[..1000].chunks(100).enumerate() {
        let outcomes = match i % 3 {
            0 => m.mark(chunk, MarkFlags::STAR).await,
            1 => m.set_custom_data(chunk, "cd").await,
            _ => m.create_folder(&format!("folder{i}"), chunk).await,
        }
        .expect("batch accepted");
        assert_eq!(outcomes.len(), 100);
        assert!(outcomes.iter().all(ConversationOutcome::is_ok), "chunk {i}");
    }
    let last = ids[1000].clone();
    let before = State::of(&m);
    let mut events = m.events();
    for (what, outcomes) in [
        (
            "mark",
            m.mark(std::slice::from_ref(&last), MarkFlags::STAR).await,
        ),
        (
            "custom data",
            m.set_custom_data(std::slice::from_ref(&last), "cd").await,
        ),
        (
            "add to group",
            m.add_to_folder("folder2", std::slice::from_ref(&last))
                .await,
        ),
    ] {
        let outcomes = outcomes.unwrap_or_else(|e| panic!("{what}: batch refused: {e}"));
        assert_eq!(codes(&outcomes), [51008], "{what}");
    }
    assert_eq!(State::of(&m), before);
    assert_no_event_since(&m, &mut events, "1001st").await;

    // The others in the same batch still succeed.
    let outcomes = m
        .mark(
            &[ids[0].clone(), last.clone(), ids[500].clone()],
            MarkFlags::HIDE,
        )
        .await
        .expect("accepted");
    assert_eq!(codes(&outcomes), [0, 51008, 0]);
}

#[tokio::test]
async fn unknown_receive_option_is_6017() {
    let m = populated(Limits::default()).await;
    assert_refused(
        &m,
        vec![
            case(
                "option 5",
                6017,
                m.set_receive_option(&id("c2c_alice"), ReceiveOption::Unknown(5)),
            ),
            case(
                "option u32::MAX",
                6017,
                m.set_receive_option(&id("group_team"), ReceiveOption::Unknown(u32::MAX)),
            ),
            case(
                "option 5 on a missing conversation",
                6017,
                m.set_receive_option(&id("c2c_nobody"), ReceiveOption::Unknown(5)),
            ),
        ],
    )
    .await;
    // ReceiveOption::from_u32 of a known number is not Unknown, so it is accepted.
    m.set_receive_option(&id("c2c_alice"), ReceiveOption::from_u32(4))
        .await
        .expect("known option");
}

#[tokio::test]
async fn missing_conversation_is_6004() {
    let m = populated(Limits::default()).await;
    let gone = id("c2c_gone");
    m.ingest_message(&gone, incoming("g1", 5))
        .await
        .expect("ingest");
    m.delete(&gone, timconv::MessageHistory::Keep)
        .await
        .expect("delete");
    let mut cases = Vec::new();
    for missing in [id("c2c_nobody"), id("group_nobody"), gone] {
        let name = missing.to_string();
        let m = &m;
        cases.extend([
            case(format!("pin {name}"), 6004, {
                let missing = missing.clone();
                async move { m.pin(&missing).await }
            }),
            case(format!("unpin {name}"), 6004, {
                let missing = missing.clone();
                async move { m.unpin(&missing).await }
            }),
            case(format!("cancel_draft {name}"), 6004, {
                let missing = missing.clone();
                async move { m.cancel_draft(&missing).await }
            }),
            case(format!("delete {name}"), 6004, {
                let missing = missing.clone();
                async move { m.delete(&missing, timconv::MessageHistory::Keep).await }
            }),
            case(format!("delete clearing messages {name}"), 6004, {
                let missing = missing.clone();
                async move { m.delete(&missing, timconv::MessageHistory::Clear).await }
            }),
            case(format!("clean_unread {name}"), 6004, {
                let missing = missing.clone();
                async move { m.clean_unread(missing, timconv::ReadUpTo::Everything).await }
            }),
            case(format!("clean_unread by text {name}"), 6004, {
                let text = missing.to_string();
                async move {
                    m.clean_unread(
                        CleanTarget::parse(&text)?,
                        timconv::ReadUpTo::Positions {
                            timestamp: Some(100),
                            sequence: Some(100),
                        },
                    )
                    .await
                }
            }),
            case(format!("set_profile {name}"), 6004, {
                let missing = missing.clone();
                async move { m.set_profile(&missing, Profile::new().show_name("x")).await }
            }),
        ]);
    }
    assert_refused(&m, cases).await;
    assert!(m.get(&id("c2c_gone")).is_none());
}

#[tokio::test]
async fn missing_conversation_in_a_batch_is_6004_for_that_item() {
    let m = populated(Limits::default()).await;
    let here = id("c2c_alice");
    let missing = id("c2c_nobody");
    let pair = [here.clone(), missing.clone()];

    for (what, outcomes) in [
        ("mark", m.mark(&pair, MarkFlags::FOLD).await),
        ("set_custom_data", m.set_custom_data(&pair, "cd").await),
        ("add_to_folder", m.add_to_folder("work", &pair).await),
        (
            "remove_from_folder",
            m.remove_from_folder("work", &pair).await,
        ),
        ("create_folder", m.create_folder("new", &pair).await),
        (
            "delete_many",
            m.delete_many(&pair, timconv::MessageHistory::Keep).await,
        ),
    ] {
        let outcomes = outcomes.unwrap_or_else(|e| panic!("{what}: batch refused: {e}"));
        assert_eq!(ids_of(&outcomes), pair, "{what}");
        assert_eq!(codes(&outcomes), [0, 6004], "{what}");
        assert!(m.get(&missing).is_none(), "{what} created {missing}");
    }
    assert!(m.get(&here).is_none(), "deleted by delete_many");

    // Repeated IDs give one result each.
    let outcomes = m
        .mark(
            &[missing.clone(), missing.clone(), id("c2c_bob")],
            MarkFlags::STAR,
        )
        .await
        .expect("accepted");
    assert_eq!(codes(&outcomes), [6004, 0]);

    // A batch in which every conversation is missing changes nothing and emits nothing.
    let only_missing = [missing.clone(), id("group_nobody")];
    let before = State::of(&m);
    let mut events = m.events();
    for (what, outcomes) in [
        ("mark", m.mark(&only_missing, MarkFlags::FOLD).await),
        (
            "set_custom_data",
            m.set_custom_data(&only_missing, "cd").await,
        ),
        (
            "add_to_folder",
            m.add_to_folder("work", &only_missing).await,
        ),
        (
            "remove_from_folder",
            m.remove_from_folder("work", &only_missing).await,
        ),
        (
            "delete_many",
            m.delete_many(&only_missing, timconv::MessageHistory::Clear)
                .await,
        ),
    ] {
        let outcomes = outcomes.unwrap_or_else(|e| panic!("{what}: batch refused: {e}"));
        assert_eq!(codes(&outcomes), [6004, 6004], "{what}");
    }
    assert_eq!(State::of(&m), before);
    assert_no_event_since(&m, &mut events, "all missing").await;
}

#[tokio::test]
async fn message_of_another_conversation_is_6017() {
    let m = populated(Limits::default()).await;
    let bob = id("c2c_bob");
    let team = id("group_team");
    let with = |conv_id: Option<&str>, conv_type: Option<u32>| {
        let mut msg: Message = incoming("x1", 50);
        msg.conv_id = conv_id.map(str::to_owned);
        msg.conv_type = conv_type;
        msg
    };
    assert_refused(
        &m,
        vec![
            case(
                "other user",
                6017,
                m.ingest_message(&bob, with(Some("alice"), None)),
            ),
            case(
                "other user, right type",
                6017,
                m.ingest_message(&bob, with(Some("alice"), Some(1))),
            ),
            case(
                "right user, group type",
                6017,
                m.ingest_message(&bob, with(Some("bob"), Some(2))),
            ),
            case(
                "type only, wrong",
                6017,
                m.ingest_message(&bob, with(None, Some(2))),
            ),
            case(
                "full ID instead of raw",
                6017,
                m.ingest_message(&bob, with(Some("c2c_bob"), Some(1))),
            ),
            case(
                "group message naming another group",
                6017,
                m.ingest_message(&team, with(Some("other"), Some(2))),
            ),
            case(
                "group message with C2C type",
                6017,
                m.ingest_message(&team, with(Some("team"), Some(1))),
            ),
            case(
                "to a conversation that does not exist",
                6017,
                m.ingest_message(&id("c2c_new"), with(Some("old"), None)),
            ),
        ],
    )
    .await;
    assert!(m.get(&id("c2c_new")).is_none());
    // The same message naming its own conversation is accepted.
    m.ingest_message(&bob, with(Some("bob"), Some(1)))
        .await
        .expect("its own conversation");
}

#[tokio::test]
async fn calls_after_shutdown_are_6013() {
    let m = populated(Limits::default()).await;
    m.shutdown().await.expect("shutdown");
    let before = State::of(&m);
    let alice = id("c2c_alice");
    let batch = [alice.clone()];
    let late = id("c2c_late");
    let cases = vec![
        case("pin", 6013, m.unpin(&alice)),
        case("mark", 6013, m.mark(&batch, MarkFlags::FOLD)),
        case("create", 6013, m.create_conversation(&late)),
        case("shutdown twice", 6013, m.shutdown()),
    ];
    for (name, call, code) in cases {
        let err = call.await.expect_err(&name);
        assert_eq!(err.code().as_i32(), code, "{name}: {err}");
    }
    assert_eq!(State::of(&m), before, "reads still answer the last state");
}

/// The next event, within 5 s.
async fn next_event(events: &mut EventStream) -> Event {
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event within 5 s")
        .expect("the event stream is open")
        .expect("the consumer did not lag")
}

#[tokio::test]
async fn partial_batches_report_only_accepted_conversations_in_group_events() {
    let m = manager_with(Limits::default().with_max_decorated(2)).await;
    let ids = create_many(&m, "e", 0..3).await;
    let missing = id("c2c_nobody");
    m.mark(&ids[0..1], MarkFlags::STAR)
        .await
        .expect("mark")
        .into_result()
        .expect("mark");

    // ids[1] takes the last place, ids[2] is over the limit, `missing` does not exist.
    let batch = [
        ids[1].clone(),
        ids[2].clone(),
        missing.clone(),
        ids[0].clone(),
    ];
    let mut events = m.events();
    let outcomes = m.create_folder("g", &batch).await.expect("accepted");
    assert_eq!(codes(&outcomes), [0, 51008, 6004, 0]);
    let mut created = None;
    for _ in 0..2 {
        if let Event::FolderCreated {
            name,
            conversations,
        } = next_event(&mut events).await
        {
            created = Some((name, conversations));
        }
    }
    assert_eq!(
        created,
        Some(("g".to_owned(), vec![ids[1].clone(), ids[0].clone()]))
    );
    assert_no_event_since(&m, &mut events, "after create_folder").await;

    m.create_folder("h", &ids[0..1])
        .await
        .expect("create")
        .into_result()
        .expect("create");
    let mut events = m.events();
    let outcomes = m.add_to_folder("h", &batch).await.expect("accepted");
    assert_eq!(codes(&outcomes), [0, 51008, 6004, 0]);
    let mut added = None;
    for _ in 0..2 {
        if let Event::ConversationsAddedToFolder {
            name,
            conversations,
        } = next_event(&mut events).await
        {
            added = Some((name, conversations));
        }
    }
    assert_eq!(added, Some(("h".to_owned(), vec![ids[1].clone()])));
    assert_no_event_since(&m, &mut events, "after add_to_folder").await;
    assert_eq!(m.get(&ids[2]).map(|c| c.folders.clone()), Some(Vec::new()));

    // Deleting a decorated conversation frees its place.
    let outcomes = m
        .delete_many(&[ids[1].clone(), missing], timconv::MessageHistory::Keep)
        .await;
    assert_eq!(codes(&outcomes.expect("accepted")), [0, 6004]);
    let outcomes = m
        .set_custom_data(&ids[2..3], "now it fits")
        .await
        .expect("accepted");
    assert_eq!(codes(&outcomes), [0]);
}

// The harness itself: each check can fail.

#[tokio::test]
#[should_panic(expected = "accepted, expected code 6017")]
async fn harness_catches_an_accepted_call() {
    let m = manager().await;
    let c = id("c2c_ok");
    assert_refused(&m, vec![case("good call", 6017, m.create_conversation(&c))]).await;
}

#[tokio::test]
#[should_panic(expected = "the state changed")]
async fn harness_catches_a_change() {
    let m = manager().await;
    let c = id("c2c_changed");
    let call = async {
        m.create_conversation(&c).await?;
        Err::<(), _>(some_error())
    };
    assert_refused(&m, vec![case("changes then fails", 6017, call)]).await;
}

#[tokio::test]
#[should_panic(expected = "before the marker")]
async fn harness_catches_a_stray_event() {
    let m = manager().await;
    let mut events = m.events();
    m.create_conversation(&id("c2c_stray"))
        .await
        .expect("create");
    assert_no_event_since(&m, &mut events, "stray").await;
}

fn some_error() -> timconv::Error {
    "bob".parse::<ConversationId>().expect_err("invalid")
}
