//! Values a user stores or sends: cursors (with their guarantees), marks, events and pages,
//! each there and back.

use std::collections::HashSet;
use std::sync::Arc;

use timconv::transport::Operation;
use timconv::{
    Conversation, ConversationFilter, ConversationManager, Cursor, ErrorCode, Event,
    FolderRemovalReason, MarkFlags, Page,
};

use crate::common::{TempDir, id, incoming, manager};

async fn with_conversations(n: u64) -> ConversationManager {
    let m = manager().await;
    for i in 1..=n {
        m.ingest_message(&id(&format!("c2c_u{i}")), incoming(&format!("m{i}"), i))
            .await
            .expect("ingest");
    }
    m
}

fn ids(page: &Page) -> Vec<String> {
    page.conversations
        .iter()
        .map(|c| c.id.to_string())
        .collect()
}

#[tokio::test]
async fn a_cursor_read_back_continues_the_walk_where_it_stood() {
    let m = with_conversations(5).await;
    let all = ConversationFilter::new();
    let first = m.list(&all, Cursor::START, 2).unwrap();
    let text = first.next_cursor.to_string();
    let json = serde_json::to_string(&first.next_cursor).unwrap();
    assert_eq!(json, format!("\"{text}\""));
    let from_text: Cursor = text.parse().unwrap();
    let from_json: Cursor = serde_json::from_str(&json).unwrap();
    assert_eq!(from_text, first.next_cursor);
    assert_eq!(from_json, first.next_cursor);
    let direct = m.list(&all, first.next_cursor, 2).unwrap();
    let resumed = m.list(&all, from_json, 2).unwrap();
    assert_eq!(ids(&direct), ids(&resumed));
    assert_eq!(direct.next_cursor, resumed.next_cursor);
    for cursor in [Cursor::START, Cursor::from_next_seq(42), Cursor::default()] {
        assert_eq!(cursor.to_string().parse::<Cursor>().unwrap(), cursor);
    }
}

#[tokio::test]
async fn an_altered_or_unknown_cursor_is_refused_with_6017() {
    let m = with_conversations(3).await;
    let page = m
        .list(&ConversationFilter::new(), Cursor::START, 1)
        .unwrap();
    let text = page.next_cursor.to_string();
    // Every single character changed is caught.
    for at in 0..text.len() {
        let mut bytes = text.clone().into_bytes();
        bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
        let altered = String::from_utf8(bytes).unwrap();
        if altered == text {
            continue;
        }
        let err = altered.parse::<Cursor>().expect_err(&altered);
        assert_eq!(err.code().as_i32(), 6017, "{altered}");
        assert!(matches!(err, timconv::Error::InvalidCursor(_)), "{err:?}");
        assert!(serde_json::from_str::<Cursor>(&format!("\"{altered}\"")).is_err());
    }
    for bad in [
        "",
        "tc1",
        "tc1.-.0000000000000000.-",
        "tc2.-.0000000000000000.-.0000000000000000",
        "not a cursor at all",
    ] {
        let err = bad.parse::<Cursor>().expect_err(bad);
        assert_eq!(err.code().as_i32(), 6017, "{bad:?}");
    }
    assert!(serde_json::from_str::<Cursor>("17").is_err());
    // A cursor in another format version is refused even with a valid check: build one by
    // hand from the public text form of this one.
    let fields = text.rsplit_once('.').unwrap().0.replacen("tc1", "tc9", 1);
    let forged = format!("{fields}.0000000000000000");
    assert_eq!(forged.parse::<Cursor>().unwrap_err().code().as_i32(), 6017);
}

#[tokio::test]
async fn a_cursor_of_another_filter_is_refused() {
    let m = with_conversations(4).await;
    m.mark(id("c2c_u1"), MarkFlags::STAR)
        .await
        .unwrap()
        .into_result()
        .unwrap();
    let all = ConversationFilter::new();
    let starred = ConversationFilter::new().mark(MarkFlags::STAR);
    let page = m.list(&all, Cursor::START, 1).unwrap();
    let err = m.list(&starred, page.next_cursor, 1).unwrap_err();
    assert_eq!(err.code().as_i32(), 6017);
    assert!(matches!(err, timconv::Error::InvalidCursor(_)));
    // Read back from text, the same.
    let back: Cursor = page.next_cursor.to_string().parse().unwrap();
    assert!(m.list(&starred, back, 1).is_err());
    // An equal filter built again is the same list.
    let again = ConversationFilter::new();
    assert!(m.list(&again, back, 1).is_ok());
    // The top and a C API next_seq carry no filter: accepted by every list.
    assert!(m.list(&starred, Cursor::START, 1).is_ok());
    assert!(
        m.list(&starred, Cursor::from_next_seq(page.next_seq()), 1)
            .is_ok()
    );
    // A filter that differs only by an absent versus a zero criterion is another list.
    let no_mark = ConversationFilter::new().mark(MarkFlags::empty());
    let p = m.list(&no_mark, Cursor::START, 1).unwrap();
    assert!(m.list(&all, p.next_cursor, 1).is_err());
    let no_folder = ConversationFilter::new().folder("");
    let p = m.list(&no_folder, Cursor::START, 1).unwrap();
    assert!(m.list(&all, p.next_cursor, 1).is_err());
}

#[tokio::test]
async fn a_stored_cursor_keeps_its_guarantees_across_a_restart() {
    let dir = TempDir::new("serde-cursor");
    let path = dir.path("c.db");
    let all = ConversationFilter::new();
    let (stored, seen_before) = {
        let m = ConversationManager::open(&path, "me").await.unwrap();
        for i in 1..=6 {
            m.ingest_message(&id(&format!("c2c_u{i}")), incoming(&format!("m{i}"), i))
                .await
                .unwrap();
        }
        m.pin(&id("c2c_u2")).await.unwrap();
        // Newer messages after the pin: unpinned, u2 falls below them.
        for i in 3..=6 {
            m.ingest_message(
                &id(&format!("c2c_u{i}")),
                incoming(&format!("n{i}"), 10 + i),
            )
            .await
            .unwrap();
        }
        let first = m.list(&all, Cursor::START, 3).unwrap();
        assert_eq!(ids(&first), ["c2c_u2", "c2c_u6", "c2c_u5"]);
        let stored = serde_json::to_string(&first.next_cursor).unwrap();
        m.shutdown().await.unwrap();
        (stored, ids(&first))
    };
    let m = ConversationManager::open(&path, "me").await.unwrap();
    // Unpinned after the walk began: it moves down below the cursor, and was returned already.
    m.unpin(&id("c2c_u2")).await.unwrap();
    let order: Vec<String> = m.conversations().iter().map(|c| c.id.to_string()).collect();
    assert_eq!(
        order,
        ["c2c_u6", "c2c_u5", "c2c_u4", "c2c_u3", "c2c_u2", "c2c_u1"]
    );
    let mut cursor: Cursor = serde_json::from_str(&stored).unwrap();
    let mut seen: Vec<String> = seen_before;
    loop {
        let page = m.list(&all, cursor, 2).unwrap();
        seen.extend(ids(&page));
        if page.is_finished {
            break;
        }
        cursor = page.next_cursor;
    }
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "nothing twice: {seen:?}");
    assert_eq!(seen.len(), 6, "nothing missed: {seen:?}");
    m.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_page_goes_there_and_back_in_the_c_api_form() {
    let m = with_conversations(3).await;
    let page = m
        .list(&ConversationFilter::new(), Cursor::START, 2)
        .unwrap();
    let json = serde_json::to_value(&page).unwrap();
    let back: Page = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back.conversations, page.conversations);
    assert_eq!(back.is_finished, page.is_finished);
    assert_eq!(back.next_seq(), page.next_seq());
    assert_eq!(back.next_cursor, Cursor::from_next_seq(page.next_seq()));
    assert_eq!(serde_json::to_value(&back).unwrap(), json);
    // The rest of the walk from the page read back.
    let rest = m
        .list(&ConversationFilter::new(), back.next_cursor, 10)
        .unwrap();
    assert_eq!(ids(&rest), ["c2c_u1"]);
    assert!(serde_json::from_str::<Page>(r#"{"conversation_list_result_next_seq":1}"#).is_err());
}

#[test]
fn marks_go_there_and_back_as_their_bits() {
    let marks = MarkFlags::STAR | MarkFlags::extension(63).unwrap();
    let json = serde_json::to_string(&marks).unwrap();
    assert_eq!(json, (1u64 | 1 << 63).to_string());
    assert_eq!(serde_json::from_str::<MarkFlags>(&json).unwrap(), marks);
    assert_eq!(serde_json::to_string(&MarkFlags::empty()).unwrap(), "0");
}

#[tokio::test]
async fn every_kind_of_event_goes_there_and_back() {
    let m = with_conversations(1).await;
    let conv: Arc<Conversation> = m.get(&id("c2c_u1")).unwrap();
    let ids = vec![id("c2c_u1"), id("group_g")];
    let events = vec![
        Event::Added(vec![Arc::clone(&conv)]),
        Event::Deleted(ids.clone()),
        Event::Updated(vec![conv]),
        Event::SyncStarted,
        Event::SyncFinished,
        Event::SyncFailed {
            code: ErrorCode::NetworkDisconnected,
            message: "offline".into(),
        },
        Event::OperationRejected {
            operation: Operation::Pin {
                conversation: id("c2c_u1"),
                pinned: true,
            },
            code: ErrorCode::TooManyPinned,
            message: "too many".into(),
        },
        Event::TotalUnreadChanged(7),
        Event::UnreadByFilterChanged {
            filter: ConversationFilter::new().mark(MarkFlags::STAR),
            count: 3,
        },
        Event::FolderCreated {
            name: "work".into(),
            conversations: ids.clone(),
        },
        Event::FolderDeleted {
            name: "work".into(),
        },
        Event::FolderRenamed {
            old_name: "a".into(),
            new_name: "b".into(),
        },
        Event::ConversationsAddedToFolder {
            name: "f".into(),
            conversations: ids.clone(),
        },
        Event::ConversationsRemovedFromFolder {
            name: "f".into(),
            conversations: ids.clone(),
            reason: FolderRemovalReason::Evicted,
        },
        Event::ConversationsMovedBetweenFolders {
            from: "a".into(),
            to: "b".into(),
            conversations: ids,
        },
    ];
    for event in events {
        let json = serde_json::to_string(&event).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event, "{json}");
    }
    let json = serde_json::to_value(Event::SyncFailed {
        code: ErrorCode::NetworkAckTimeout,
        message: "slow".into(),
    })
    .unwrap();
    assert_eq!(
        json,
        serde_json::json!({"event": "sync_failed", "data": {"code": 9520, "message": "slow"}})
    );
    assert!(
        serde_json::from_str::<Event>(r#"{"event":"sync_failed","data":{"code":1,"message":""}}"#)
            .is_err()
    );
    assert!(serde_json::from_str::<Event>(r#"{"event":"no_such_event"}"#).is_err());
    let reason: Result<FolderRemovalReason, _> = serde_json::from_str("2");
    assert!(reason.is_err());
}
