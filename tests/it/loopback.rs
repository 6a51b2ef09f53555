//! The loopback reference server: each operation's effect and rejections, idempotency,
//! deletes and floors, pull paging and bookmarks, events, and seeded faults.

use std::time::Duration;

use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use timconv::transport::loopback::{Faults, LoopbackServer, LoopbackTransport};
use timconv::transport::{
    Bookmark, FolderRename, OpId, OpOutcome, Operation, PendingOperation, PullPage, PullResponse,
    PushResponse, RemoteChange, RemoteConversation, ServerEvent, Transport, TransportError,
};
use timconv::{ConversationId, CustomData, ErrorCode, Limits, MarkFlags};

use crate::common::{id, incoming, outgoing};

type Events = BoxStream<'static, ServerEvent>;

fn pending(op_id: &str, op: Operation) -> PendingOperation {
    PendingOperation {
        id: OpId(op_id.into()),
        op,
    }
}

/// Pushes one operation and returns its outcome and the whole response.
async fn push(t: &LoopbackTransport, op_id: &str, op: Operation) -> (OpOutcome, PushResponse) {
    let response = t.push(vec![pending(op_id, op)]).await.expect("push");
    assert_eq!(response.results.len(), 1);
    (response.results[0].outcome.clone(), response)
}

/// Pushes one operation and returns its rejection code (`None`: applied).
async fn code(t: &LoopbackTransport, op_id: &str, op: Operation) -> Option<i32> {
    match push(t, op_id, op).await.0 {
        OpOutcome::Applied => None,
        OpOutcome::Rejected { code, .. } => Some(code),
    }
}

fn ids(list: &[&str]) -> Vec<ConversationId> {
    list.iter().map(|s| id(s)).collect()
}

fn pin(c: &str, pinned: bool) -> Operation {
    Operation::Pin {
        conversation: id(c),
        pinned,
    }
}

fn mark(cs: &[&str], bits: u64, enable: bool) -> Operation {
    Operation::Mark {
        conversations: ids(cs),
        bits,
        enable,
    }
}

fn custom(cs: &[&str], data: &str) -> Operation {
    Operation::SetCustomData {
        conversations: ids(cs),
        data: CustomData::from(data),
    }
}

fn delete(c: &str, clear_messages: bool, at: u64) -> Operation {
    Operation::Delete {
        conversation: id(c),
        clear_messages,
        floor: [at; 3],
    }
}

fn read(c: &str, position: u64) -> Operation {
    Operation::MarkRead {
        conversation: id(c),
        position,
    }
}

fn create_folder(name: &str, cs: &[&str]) -> Operation {
    Operation::CreateFolder {
        name: name.into(),
        conversations: ids(cs),
    }
}

fn add(name: &str, cs: &[&str]) -> Operation {
    Operation::AddToFolder {
        name: name.into(),
        conversations: ids(cs),
    }
}

fn remove(name: &str, cs: &[&str]) -> Operation {
    Operation::RemoveFromFolder {
        name: name.into(),
        conversations: ids(cs),
    }
}

fn rename(from: &str, to: &str) -> Operation {
    Operation::RenameFolder {
        from: from.into(),
        to: to.into(),
    }
}

fn delete_folder(name: &str) -> Operation {
    Operation::DeleteFolder { name: name.into() }
}

const BATCH: i32 = 51006;
const DECORATED: i32 = 51008;
const NO_GROUP: i32 = 51009;
const GROUPS: i32 = 51010;
const NAME: i32 = 51011;
const PINNED: i32 = 51012;
const INVALID_CONV: i32 = 6004;
const INVALID_PARAM: i32 = 6017;

/// A server with `me`'s conversations `c2c_a`, `c2c_b`, `c2c_c` each holding one incoming
/// message (at 10, 20, 30), and one device.
fn server_with(limits: Limits) -> (LoopbackServer, LoopbackTransport) {
    let server = LoopbackServer::with_limits(limits);
    for (i, c) in ["c2c_a", "c2c_b", "c2c_c"].iter().enumerate() {
        let at = 10 * (i as u64 + 1);
        server.deliver("me", &id(c), incoming(&format!("{c}-{at}"), at));
    }
    let t = server.transport("me", "phone");
    (server, t)
}

fn server() -> (LoopbackServer, LoopbackTransport) {
    server_with(Limits::default())
}

fn conv(server: &LoopbackServer, c: &str) -> RemoteConversation {
    server.state("me").conversations[&id(c)].clone()
}

fn page(response: PullResponse) -> PullPage {
    match response {
        PullResponse::Page(page) => page,
        PullResponse::TooFarBehind => panic!("unexpected TooFarBehind"),
    }
}

/// Pulls page after page from `since` until the end; returns every change and the last
/// bookmark, checking that no page passes the limit.
async fn pull_all(
    t: &LoopbackTransport,
    mut since: Option<Bookmark>,
    limit: usize,
) -> (Vec<RemoteChange>, Bookmark) {
    let mut changes = Vec::new();
    loop {
        let p = page(t.pull(since, limit).await.expect("pull"));
        assert!(p.changes.len() <= limit.max(1));
        changes.extend(p.changes);
        if !p.has_more {
            return (changes, p.bookmark);
        }
        since = Some(p.bookmark);
    }
}

async fn next_event(events: &mut Events) -> ServerEvent {
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event within 5 s")
        .expect("the stream is open")
}

fn no_event(events: &mut Events) -> bool {
    events.next().now_or_never().is_none()
}

fn message_id(event: &ServerEvent) -> Option<String> {
    match event {
        ServerEvent::Message { message, .. } => message.msg_id.clone(),
        _ => None,
    }
}

mod operations {
    use super::*;

    #[tokio::test]
    async fn pin_creates_unknown_refuses_deleted_and_caps() {
        let (server, t) = server_with(Limits::default().with_max_pinned(2));
        assert_eq!(code(&t, "1", pin("c2c_a", true)).await, None);
        assert!(conv(&server, "c2c_a").pinned);
        assert_eq!(code(&t, "2", pin("c2c_new", true)).await, None);
        let created = conv(&server, "c2c_new");
        assert!(created.pinned && created.messages.is_empty());
        // Two pinned: a third is refused, re-pinning a pinned one is fine.
        assert_eq!(code(&t, "3", pin("c2c_b", true)).await, Some(PINNED));
        assert!(!conv(&server, "c2c_b").pinned);
        assert_eq!(code(&t, "4", pin("c2c_a", true)).await, None);
        assert_eq!(code(&t, "5", pin("c2c_a", false)).await, None);
        assert_eq!(code(&t, "6", pin("c2c_b", true)).await, None);
        // A deleted conversation cannot be pinned back to life.
        assert_eq!(code(&t, "7", delete("c2c_c", false, 30)).await, None);
        assert_eq!(code(&t, "8", pin("c2c_c", true)).await, Some(INVALID_CONV));
        assert!(server.state("me").deleted.contains_key(&id("c2c_c")));
    }

    #[tokio::test]
    async fn mark_sets_and_clears_and_refuses_whole() {
        let (server, t) = server_with(Limits::default().with_max_batch(3).with_max_decorated(3));
        let ext = MarkFlags::extension(40).expect("extension bit").bits();
        assert_eq!(
            code(&t, "1", mark(&["c2c_a", "c2c_b"], 1 | ext, true)).await,
            None
        );
        assert_eq!(conv(&server, "c2c_a").marks, 1 | ext);
        assert_eq!(code(&t, "2", mark(&["c2c_a"], 1, false)).await, None);
        assert_eq!(conv(&server, "c2c_a").marks, ext);
        assert_eq!(conv(&server, "c2c_b").marks, 1 | ext);
        // An unknown conversation is created.
        assert_eq!(code(&t, "3", mark(&["c2c_x"], 2, true)).await, None);
        assert_eq!(conv(&server, "c2c_x").marks, 2);

        assert_eq!(code(&t, "4", mark(&[], 1, true)).await, Some(BATCH));
        let four = ["c2c_a", "c2c_b", "c2c_c", "c2c_d"];
        assert_eq!(code(&t, "5", mark(&four, 1, true)).await, Some(BATCH));
        assert_eq!(
            code(&t, "6", mark(&["c2c_c"], 1 << 4, true)).await,
            Some(INVALID_PARAM)
        );
        // Three decorated (a, b, x): a fourth is refused, the clearing of bits is not.
        assert_eq!(
            code(&t, "7", mark(&["c2c_c"], 1, true)).await,
            Some(DECORATED)
        );
        assert_eq!(code(&t, "8", mark(&["c2c_c"], 1, false)).await, None);
        assert_eq!(
            code(&t, "9", mark(&["c2c_a", "c2c_b"], 8, true)).await,
            None
        );
        // One deleted conversation refuses the whole batch.
        assert_eq!(code(&t, "10", delete("c2c_x", false, 0)).await, None);
        assert_eq!(
            code(&t, "11", mark(&["c2c_a", "c2c_x"], 4, true)).await,
            Some(INVALID_CONV)
        );
        assert_eq!(conv(&server, "c2c_a").marks, ext | 8);
    }

    #[tokio::test]
    async fn custom_data_limits() {
        let (server, t) = server_with(Limits::default().with_max_decorated(2));
        assert_eq!(code(&t, "1", custom(&["c2c_a", "c2c_b"], "x")).await, None);
        assert_eq!(conv(&server, "c2c_b").custom_data, CustomData::from("x"));
        let long = "y".repeat(257);
        assert_eq!(
            code(&t, "2", custom(&["c2c_a"], &long)).await,
            Some(INVALID_PARAM)
        );
        assert_eq!(code(&t, "3", custom(&[], "z")).await, Some(BATCH));
        assert_eq!(
            code(&t, "4", custom(&["c2c_c"], "z")).await,
            Some(DECORATED)
        );
        // Clearing un-decorates, which makes room.
        assert_eq!(code(&t, "5", custom(&["c2c_a"], "")).await, None);
        assert_eq!(code(&t, "6", custom(&["c2c_c"], "z")).await, None);
        assert_eq!(code(&t, "7", delete("c2c_c", false, 30)).await, None);
        assert_eq!(
            code(&t, "8", custom(&["c2c_c"], "w")).await,
            Some(INVALID_CONV)
        );
        assert_eq!(conv(&server, "c2c_a").custom_data, CustomData::default());
    }

    #[tokio::test]
    async fn mark_read_moves_up_only() {
        let (server, t) = server();
        server.deliver("me", &id("c2c_a"), incoming("a-11", 11));
        server.deliver("me", &id("c2c_a"), incoming("a-12", 12));
        let msgs = |s: &LoopbackServer| -> Vec<String> {
            conv(s, "c2c_a")
                .messages
                .iter()
                .filter_map(|m| m.msg_id.clone())
                .collect()
        };
        assert_eq!(msgs(&server), ["c2c_a-10", "a-11", "a-12"]);
        assert_eq!(code(&t, "1", read("c2c_a", 11)).await, None);
        assert_eq!(conv(&server, "c2c_a").read_position, 11);
        assert_eq!(msgs(&server), ["a-12"]);
        assert_eq!(code(&t, "2", read("c2c_a", 5)).await, None);
        assert_eq!(conv(&server, "c2c_a").read_position, 11);
        // All read: the last message stays.
        assert_eq!(code(&t, "3", read("c2c_a", 12)).await, None);
        assert_eq!(msgs(&server), ["a-12"]);
        // Unknown and deleted: applied, nothing happens, nothing is created.
        assert_eq!(code(&t, "4", read("c2c_nobody", 5)).await, None);
        assert_eq!(code(&t, "5", delete("c2c_b", false, 20)).await, None);
        assert_eq!(code(&t, "6", read("c2c_b", 50)).await, None);
        let state = server.state("me");
        assert!(!state.conversations.contains_key(&id("c2c_nobody")));
        assert_eq!(state.deleted[&id("c2c_b")], [20; 3]);
    }

    #[tokio::test]
    async fn groups_create_rename_delete() {
        let (server, t) = server_with(Limits::default().with_max_groups(2).with_max_batch(3));
        assert_eq!(code(&t, "1", delete("c2c_c", false, 30)).await, None);
        // Deleted members are skipped, unknown ones created; none at all is fine.
        assert_eq!(
            code(
                &t,
                "2",
                create_folder("work", &["c2c_a", "c2c_c", "c2c_zz"])
            )
            .await,
            None
        );
        assert_eq!(code(&t, "3", create_folder("home", &[])).await, None);
        let state = server.state("me");
        assert_eq!(state.folders, ["work", "home"]);
        assert_eq!(state.conversations[&id("c2c_a")].folders, ["work"]);
        assert_eq!(state.conversations[&id("c2c_zz")].folders, ["work"]);
        assert!(!state.conversations.contains_key(&id("c2c_c")));

        assert_eq!(code(&t, "4", create_folder("", &[])).await, Some(NAME));
        assert_eq!(
            code(&t, "5", create_folder(&"n".repeat(33), &[])).await,
            Some(NAME)
        );
        assert_eq!(
            code(&t, "6", create_folder("work", &[])).await,
            Some(INVALID_PARAM)
        );
        assert_eq!(
            code(&t, "7", create_folder("third", &[])).await,
            Some(GROUPS)
        );

        assert_eq!(code(&t, "8", rename("nope", "x")).await, Some(NO_GROUP));
        assert_eq!(code(&t, "9", rename("work", "")).await, Some(NAME));
        assert_eq!(
            code(&t, "10", rename("work", "home")).await,
            Some(INVALID_PARAM)
        );
        assert_eq!(code(&t, "11", rename("work", "work")).await, None);
        assert_eq!(code(&t, "12", rename("work", "job")).await, None);
        assert_eq!(conv(&server, "c2c_a").folders, ["job"]);
        assert_eq!(server.state("me").folders, ["job", "home"]);

        assert_eq!(code(&t, "13", add("home", &["c2c_a", "c2c_b"])).await, None);
        assert_eq!(conv(&server, "c2c_a").folders, ["job", "home"]);
        assert_eq!(code(&t, "14", delete_folder("nope")).await, Some(NO_GROUP));
        assert_eq!(code(&t, "15", delete_folder("job")).await, None);
        assert_eq!(conv(&server, "c2c_a").folders, ["home"]);
        assert_eq!(server.state("me").folders, ["home"]);
        assert_eq!(
            code(
                &t,
                "16",
                create_folder("big", &["c2c_a", "c2c_b", "c2c_c", "c2c_d"])
            )
            .await,
            Some(BATCH)
        );
    }

    #[tokio::test]
    async fn group_membership_add_remove() {
        let (server, t) = server_with(Limits::default().with_max_batch(2).with_max_decorated(2));
        assert_eq!(code(&t, "1", create_folder("g", &["c2c_a"])).await, None);
        assert_eq!(code(&t, "2", add("nope", &["c2c_b"])).await, Some(NO_GROUP));
        assert_eq!(
            code(&t, "3", remove("nope", &["c2c_b"])).await,
            Some(NO_GROUP)
        );
        assert_eq!(code(&t, "4", add("g", &[])).await, Some(BATCH));
        assert_eq!(
            code(&t, "5", remove("g", &["c2c_a", "c2c_b", "c2c_c"])).await,
            Some(BATCH)
        );
        assert_eq!(code(&t, "6", add("g", &["c2c_b"])).await, None);
        assert_eq!(conv(&server, "c2c_b").folders, ["g"]);
        // a and b are decorated: c would be a third.
        assert_eq!(code(&t, "7", add("g", &["c2c_c"])).await, Some(DECORATED));
        assert_eq!(code(&t, "8", remove("g", &["c2c_a", "c2c_c"])).await, None);
        assert!(conv(&server, "c2c_a").folders.is_empty());
        assert_eq!(code(&t, "9", add("g", &["c2c_c"])).await, None);
        assert_eq!(conv(&server, "c2c_c").folders, ["g"]);
    }
}

mod idempotency {
    use super::*;

    #[tokio::test]
    async fn a_repushed_id_is_applied_once_with_the_same_outcome() {
        let (server, t) = server_with(Limits::default().with_max_pinned(1));
        let (first, _) = push(&t, "g1", create_folder("g", &["c2c_a"])).await;
        assert_eq!(first, OpOutcome::Applied);
        // Applying it again would be "group exists" (6017): it is remembered instead.
        let (again, _) = push(&t, "g1", create_folder("g", &["c2c_a"])).await;
        assert_eq!(again, OpOutcome::Applied);

        assert_eq!(code(&t, "p1", pin("c2c_a", true)).await, None);
        assert_eq!(code(&t, "p2", pin("c2c_b", true)).await, Some(PINNED));
        assert_eq!(code(&t, "p3", pin("c2c_a", false)).await, None);
        // p2 would succeed now, but its outcome is remembered.
        assert_eq!(code(&t, "p2", pin("c2c_b", true)).await, Some(PINNED));
        assert!(!conv(&server, "c2c_b").pinned);

        // The same ID twice in one push.
        let response = t
            .push(vec![
                pending("m1", mark(&["c2c_c"], 1, true)),
                pending("m1", mark(&["c2c_c"], 1, true)),
            ])
            .await
            .expect("push");
        assert_eq!(response.results.len(), 2);
        assert!(
            response
                .results
                .iter()
                .all(|r| r.outcome == OpOutcome::Applied)
        );
        let applied: Vec<String> = server.applied("me").into_iter().map(|i| i.0).collect();
        assert_eq!(applied, ["g1", "p1", "p2", "p3", "m1"]);
    }

    #[tokio::test]
    async fn ids_are_per_user() {
        let server = LoopbackServer::new();
        let alice = server.transport("alice", "phone");
        let bob = server.transport("bob", "phone");
        assert_eq!(code(&alice, "x", create_folder("g", &[])).await, None);
        assert_eq!(code(&bob, "x", create_folder("h", &[])).await, None);
        assert_eq!(server.state("bob").folders, ["h"]);
        assert_eq!(server.applied("alice"), [OpId("x".into())]);
    }
}

mod deletes {
    use super::*;

    #[tokio::test]
    async fn delete_resets_roaming_state_and_leaves_a_tombstone() {
        let (server, t) = server();
        assert_eq!(code(&t, "1", pin("c2c_a", true)).await, None);
        assert_eq!(code(&t, "2", mark(&["c2c_a"], 1, true)).await, None);
        assert_eq!(code(&t, "3", custom(&["c2c_a"], "d")).await, None);
        assert_eq!(code(&t, "4", create_folder("g", &["c2c_a"])).await, None);
        let (outcome, response) = push(&t, "5", delete("c2c_a", false, 10)).await;
        assert_eq!(outcome, OpOutcome::Applied);
        assert_eq!(
            response.changes,
            [RemoteChange::Deleted {
                id: id("c2c_a"),
                floor: [10; 3],
                clear_messages: false
            }]
        );
        let state = server.state("me");
        assert!(!state.conversations.contains_key(&id("c2c_a")));
        assert_eq!(state.deleted[&id("c2c_a")], [10; 3]);

        // A stale message (at or before the floor) does not revive it; a newer one does,
        // with the roaming state as the delete left it.
        server.deliver("me", &id("c2c_a"), incoming("old", 9));
        server.deliver("me", &id("c2c_a"), incoming("same", 10));
        assert!(!server.state("me").conversations.contains_key(&id("c2c_a")));
        server.deliver("me", &id("c2c_a"), incoming("new", 11));
        let a = conv(&server, "c2c_a");
        assert!(!a.pinned && a.marks == 0 && a.custom_data.is_empty() && a.folders.is_empty());
        assert_eq!(a.read_position, 10);
        let texts: Vec<_> = a.messages.iter().filter_map(|m| m.msg_id.clone()).collect();
        assert_eq!(texts, ["new"]);
        assert!(!server.state("me").deleted.contains_key(&id("c2c_a")));
        // The stale messages stay out even now that it is back.
        server.deliver("me", &id("c2c_a"), incoming("older", 8));
        assert_eq!(conv(&server, "c2c_a").messages.len(), 1);
    }

    #[tokio::test]
    async fn a_newer_message_keeps_it_alive_and_the_floor_only_rises() {
        let (server, t) = server();
        server.deliver("me", &id("c2c_b"), incoming("b-25", 25));
        // The deleting device had seen up to 20 only.
        assert_eq!(code(&t, "1", pin("c2c_b", true)).await, None);
        let (_, response) = push(&t, "2", delete("c2c_b", true, 20)).await;
        let RemoteChange::Conversation(b) = &response.changes[0] else {
            panic!("b stays alive: {:?}", response.changes)
        };
        assert!(!b.pinned);
        assert_eq!(b.read_position, 20);
        assert_eq!(b.messages.len(), 1);
        assert_eq!(b.messages[0].msg_id.as_deref(), Some("b-25"));
        // A delete with a lower floor keeps the higher one.
        assert_eq!(code(&t, "3", delete("c2c_b", false, 25)).await, None);
        assert_eq!(code(&t, "4", delete("c2c_b", false, 5)).await, None);
        assert_eq!(server.state("me").deleted[&id("c2c_b")], [25; 3]);
        server.deliver("me", &id("c2c_b"), incoming("b-24", 24));
        assert!(!server.state("me").conversations.contains_key(&id("c2c_b")));
    }

    #[tokio::test]
    async fn clear_messages_is_reported_until_revived() {
        let (server, t) = server();
        assert_eq!(code(&t, "1", delete("c2c_a", true, 10)).await, None);
        let (_, response) = push(&t, "2", delete("c2c_a", false, 10)).await;
        assert_eq!(
            response.changes,
            [RemoteChange::Deleted {
                id: id("c2c_a"),
                floor: [10; 3],
                clear_messages: true
            }]
        );
        // An unknown conversation gets a tombstone too.
        let (_, response) = push(&t, "3", delete("c2c_ghost", false, 7)).await;
        assert_eq!(
            response.changes,
            [RemoteChange::Deleted {
                id: id("c2c_ghost"),
                floor: [7; 3],
                clear_messages: false
            }]
        );
        server.deliver("me", &id("c2c_ghost"), incoming("g", 7));
        assert!(
            !server
                .state("me")
                .conversations
                .contains_key(&id("c2c_ghost"))
        );
    }

    #[tokio::test]
    async fn duplicates_are_stored_once() {
        let (server, _t) = server();
        server.deliver("me", &id("c2c_a"), incoming("a-11", 11));
        server.deliver("me", &id("c2c_a"), incoming("a-11", 11));
        server.deliver("me", &id("c2c_a"), outgoing("mine", 12));
        let a = conv(&server, "c2c_a");
        let ids: Vec<_> = a.messages.iter().filter_map(|m| m.msg_id.clone()).collect();
        assert_eq!(ids, ["c2c_a-10", "a-11", "mine"]);
        assert_eq!(a.messages[2].is_from_self, Some(true));
    }
}

mod push_response {
    use super::*;

    #[tokio::test]
    async fn holds_the_current_state_of_what_was_named() {
        let (server, t) = server();
        assert_eq!(code(&t, "0", delete("c2c_c", false, 30)).await, None);
        let response = t
            .push(vec![
                pending("1", pin("c2c_a", true)),
                pending("2", mark(&["c2c_a", "c2c_c"], 1, true)), // rejected: c is deleted
                pending("3", read("c2c_unknown", 3)),
                pending("4", mark(&["c2c_a"], 2, true)),
            ])
            .await
            .expect("push");
        let codes: Vec<_> = response
            .results
            .iter()
            .map(|r| r.outcome.rejection_code())
            .collect();
        assert_eq!(
            codes,
            [None, Some(ErrorCode::InvalidConversation), None, None]
        );
        let state = server.state("me");
        assert_eq!(
            response.changes,
            [
                RemoteChange::Conversation(state.conversations[&id("c2c_a")].clone()),
                RemoteChange::Deleted {
                    id: id("c2c_c"),
                    floor: [30; 3],
                    clear_messages: false
                },
            ]
        );
        let RemoteChange::Conversation(a) = &response.changes[0] else {
            unreachable!()
        };
        assert!(a.pinned && a.marks == 2);
    }

    #[tokio::test]
    async fn group_operations_add_the_group_list_and_touched_members() {
        let (server, t) = server();
        let (_, response) = push(&t, "1", create_folder("g", &["c2c_a"])).await;
        assert_eq!(
            response.changes,
            [
                RemoteChange::Conversation(conv(&server, "c2c_a")),
                RemoteChange::Folders {
                    names: vec!["g".into()],
                    renamed: vec![]
                },
            ]
        );
        // Rejected group operations report the list too.
        let (_, response) = push(&t, "2", delete_folder("nope")).await;
        assert_eq!(
            response.changes,
            [RemoteChange::Folders {
                names: vec!["g".into()],
                renamed: vec![]
            }]
        );
        let (_, response) = push(&t, "3", rename("g", "h")).await;
        assert_eq!(
            response.changes,
            [
                RemoteChange::Conversation(conv(&server, "c2c_a")),
                // A push answer reports no renames (the device that pushed has made them).
                RemoteChange::Folders {
                    names: vec!["h".into()],
                    renamed: vec![]
                },
            ]
        );
        assert_eq!(conv(&server, "c2c_a").folders, ["h"]);
    }
}

mod pull {
    use super::*;

    /// Live conversations, tombstones and group lists of a list of changes.
    fn split(
        changes: &[RemoteChange],
    ) -> (
        Vec<RemoteConversation>,
        Vec<ConversationId>,
        Vec<Vec<String>>,
    ) {
        let (mut live, mut dead, mut groups) = (Vec::new(), Vec::new(), Vec::new());
        for c in changes {
            match c {
                RemoteChange::Conversation(c) => live.push(c.clone()),
                RemoteChange::Deleted { id, .. } => dead.push(id.clone()),
                RemoteChange::Folders { names, .. } => groups.push(names.clone()),
            }
        }
        (live, dead, groups)
    }

    async fn busy_server() -> (LoopbackServer, LoopbackTransport) {
        let (server, t) = server();
        for i in 0..5 {
            server.deliver(
                "me",
                &id(&format!("group_g{i}")),
                incoming(&format!("g{i}"), i),
            );
        }
        assert_eq!(code(&t, "1", pin("c2c_b", true)).await, None);
        assert_eq!(
            code(&t, "2", create_folder("work", &["c2c_a", "group_g1"])).await,
            None
        );
        assert_eq!(code(&t, "3", delete("c2c_c", false, 30)).await, None);
        assert_eq!(code(&t, "4", read("group_g3", 3)).await, None);
        (server, t)
    }

    #[tokio::test]
    async fn a_full_pull_in_pages_collects_exactly_the_state() {
        let (server, t) = busy_server().await;
        let state = server.state("me");
        for limit in [0, 1, 2, 3, 100] {
            let (changes, _) = pull_all(&t, None, limit).await;
            let (live, dead, groups) = split(&changes);
            // Later pages continue from a bookmark, as any pull does: they may report
            // tombstones newer than it, and those are real ones.
            assert!(
                dead.iter().all(|d| state.deleted.contains_key(d)),
                "limit {limit}"
            );
            if limit >= 100 {
                assert!(dead.is_empty(), "a single-page full pull has no tombstones");
            }
            assert_eq!(groups, [vec!["work".to_owned()]], "limit {limit}");
            assert_eq!(live.len(), state.conversations.len(), "limit {limit}");
            for c in live {
                assert_eq!(state.conversations[&c.id], c, "limit {limit}");
            }
        }
    }

    #[tokio::test]
    async fn the_group_list_comes_with_every_full_pull() {
        let server = LoopbackServer::new();
        let t = server.transport("new", "phone");
        let p = page(t.pull(None, 10).await.expect("pull"));
        assert_eq!(
            p.changes,
            [RemoteChange::Folders {
                names: vec![],
                renamed: vec![]
            }]
        );
        assert!(!p.has_more);
        // Nothing after it.
        let p = page(t.pull(Some(p.bookmark), 10).await.expect("pull"));
        assert!(p.changes.is_empty());
    }

    #[tokio::test]
    async fn bookmarks_continue_with_later_changes_only() {
        let (server, t) = busy_server().await;
        let (_, bookmark) = pull_all(&t, None, 2).await;
        let p = page(t.pull(Some(bookmark.clone()), 10).await.expect("pull"));
        assert!(p.changes.is_empty() && !p.has_more);
        assert_eq!(p.bookmark, bookmark);

        assert_eq!(code(&t, "5", mark(&["c2c_a"], 1, true)).await, None);
        server.deliver("me", &id("c2c_new"), incoming("n", 1));
        assert_eq!(code(&t, "6", delete("group_g4", false, 4)).await, None);
        assert_eq!(code(&t, "7", rename("work", "job")).await, None);
        // Changes that change nothing visible do not come back.
        assert_eq!(code(&t, "8", read("c2c_b", 0)).await, None);
        assert_eq!(code(&t, "9", pin("c2c_b", true)).await, None);

        for limit in 1..=3 {
            let (changes, end) = pull_all(&t, Some(bookmark.clone()), limit).await;
            let state = server.state("me");
            // a (marked), new, g4 (deleted), the group list (renamed), then a and g1 again
            // (members of the renamed group): each once with its latest state, in the order of
            // its last change, a step's group list before its conversations.
            assert_eq!(
                changes,
                [
                    RemoteChange::Conversation(state.conversations[&id("c2c_new")].clone()),
                    RemoteChange::Deleted {
                        id: id("group_g4"),
                        floor: [4; 3],
                        clear_messages: false
                    },
                    // The rename since the bookmark comes with the list.
                    RemoteChange::Folders {
                        names: vec!["job".into()],
                        renamed: vec![FolderRename {
                            from: "work".into(),
                            to: "job".into()
                        }]
                    },
                    RemoteChange::Conversation(state.conversations[&id("c2c_a")].clone()),
                    RemoteChange::Conversation(state.conversations[&id("group_g1")].clone()),
                ],
                "limit {limit}"
            );
            let p = page(t.pull(Some(end), limit).await.expect("pull"));
            assert!(p.changes.is_empty());
        }
        // A full pull starts from nothing: no renames to report.
        let (changes, _) = pull_all(&t, None, 10).await;
        assert!(changes.iter().any(|c| matches!(
            c,
            RemoteChange::Folders { names, renamed } if names == &["job"] && renamed.is_empty()
        )));
    }

    #[tokio::test]
    async fn forgotten_history_is_too_far_behind() {
        let (server, t) = busy_server().await;
        let (_, old) = pull_all(&t, None, 100).await;
        assert_eq!(code(&t, "5", pin("c2c_a", true)).await, None);
        let (_, current) = pull_all(&t, Some(old.clone()), 100).await;
        server.forget_history("me");
        assert_eq!(
            t.pull(Some(old), 100).await.expect("pull"),
            PullResponse::TooFarBehind
        );
        // Up to date: still served (the whole live state once more).
        let (changes, _) = pull_all(&t, Some(current), 100).await;
        assert!(
            changes
                .iter()
                .all(|c| !matches!(c, RemoteChange::Deleted { .. }))
        );
        // The tombstone is gone from the history, but stale messages still stay out.
        assert!(server.state("me").deleted.is_empty());
        server.deliver("me", &id("c2c_c"), incoming("late", 30));
        assert!(!server.state("me").conversations.contains_key(&id("c2c_c")));
        // A full pull in small pages is never sent behind the floor.
        let state = server.state("me");
        for limit in 1..=3 {
            let (changes, _) = pull_all(&t, None, limit).await;
            assert_eq!(split(&changes).0.len(), state.conversations.len());
        }
    }

    #[tokio::test]
    async fn malformed_or_unknown_bookmarks() {
        let (_server, t) = server();
        let err = t
            .pull(Some(Bookmark("yesterday".into())), 10)
            .await
            .expect_err("malformed");
        assert_eq!(err.code, ErrorCode::ServerInvalidParameters);
        assert!(!err.retryable);
        assert_eq!(
            t.pull(Some(Bookmark("999999".into())), 10)
                .await
                .expect("pull"),
            PullResponse::TooFarBehind
        );
    }
}

mod events {
    use super::*;

    #[tokio::test]
    async fn deliver_reaches_every_device_of_the_user_only() {
        let server = LoopbackServer::new();
        let phone = server.transport("me", "phone");
        let laptop = server.transport("me", "laptop");
        let other = server.transport("you", "phone");
        let _offline = server.transport("me", "tablet"); // never connects
        let mut p = phone.connect().await.expect("connect");
        let mut l = laptop.connect().await.expect("connect");
        let mut o = other.connect().await.expect("connect");
        server.deliver("me", &id("c2c_a"), incoming("1", 1));
        for events in [&mut p, &mut l] {
            assert_eq!(
                next_event(events).await,
                ServerEvent::Message {
                    conversation: id("c2c_a"),
                    message: incoming("1", 1)
                }
            );
        }
        assert!(no_event(&mut o));
        // A duplicate is not pushed again.
        server.deliver("me", &id("c2c_a"), incoming("1", 1));
        assert!(no_event(&mut p));
    }

    #[tokio::test]
    async fn a_push_tells_the_other_devices() {
        let server = LoopbackServer::new();
        let phone = server.transport("me", "phone");
        let laptop = server.transport("me", "laptop");
        let mut p = phone.connect().await.expect("connect");
        let mut l = laptop.connect().await.expect("connect");
        assert_eq!(code(&phone, "1", pin("c2c_a", true)).await, None);
        assert_eq!(next_event(&mut l).await, ServerEvent::Changed);
        assert!(no_event(&mut p));
        // Nothing changed: no event.
        assert_eq!(code(&phone, "1", pin("c2c_a", true)).await, None);
        assert_eq!(code(&phone, "2", pin("c2c_a", true)).await, None);
        assert!(no_event(&mut l));
    }

    #[tokio::test]
    async fn offline_fails_calls_and_ends_the_stream() {
        let server = LoopbackServer::new();
        let t = server.transport("me", "phone");
        let mut events = t.connect().await.expect("connect");
        t.set_online(false);
        assert_eq!(events.next().await, None);
        let disconnected =
            |e: TransportError| e.code == ErrorCode::NetworkDisconnected && e.retryable;
        assert!(disconnected(
            t.push(vec![pending("1", pin("c2c_a", true))])
                .await
                .expect_err("offline")
        ));
        assert!(disconnected(t.pull(None, 1).await.expect_err("offline")));
        assert!(disconnected(t.connect().await.err().expect("offline")));
        assert!(server.applied("me").is_empty());
        t.set_online(true);
        let mut events = t.connect().await.expect("connect");
        assert_eq!(code(&t, "1", pin("c2c_a", true)).await, None);
        server.deliver("me", &id("c2c_a"), incoming("m", 1));
        assert!(matches!(
            next_event(&mut events).await,
            ServerEvent::Message { .. }
        ));
    }

    #[tokio::test]
    async fn a_new_connect_ends_the_previous_stream() {
        let server = LoopbackServer::new();
        let t = server.transport("me", "phone");
        let mut first = t.connect().await.expect("connect");
        // Another handle on the same device shares the session.
        let mut second = server
            .transport("me", "phone")
            .connect()
            .await
            .expect("connect");
        assert_eq!(first.next().await, None);
        server.deliver("me", &id("c2c_a"), incoming("m", 1));
        assert!(matches!(
            next_event(&mut second).await,
            ServerEvent::Message { .. }
        ));
    }
}

mod faults {
    use super::*;

    /// Runs a fixed sequence of calls under `faults` and returns what each call returned.
    async fn run(faults: Faults) -> (Vec<Result<(), ErrorCode>>, Vec<OpId>) {
        let server = LoopbackServer::new();
        let t = server.transport("me", "phone");
        t.set_faults(Some(faults));
        let mut outcomes = Vec::new();
        for i in 0..120 {
            let result = if i % 3 == 0 {
                t.pull(None, 5).await.map(drop)
            } else {
                let op = mark(&[&format!("c2c_{}", i % 7)], 1 << (i % 4), i % 2 == 0);
                t.push(vec![pending(&i.to_string(), op)]).await.map(drop)
            };
            outcomes.push(result.map_err(|e| e.code));
        }
        (outcomes, server.applied("me"))
    }

    #[tokio::test]
    async fn the_same_seed_gives_the_same_faults() {
        let faults = |seed| {
            Faults::new(seed)
                .with_drop_request(0.2)
                .with_drop_response(0.2)
                .with_duplicate_request(0.2)
                .with_disconnect(0.05, 2)
                .with_max_delay(Duration::from_micros(200))
        };
        let a = run(faults(7)).await;
        let b = run(faults(7)).await;
        assert_eq!(a, b);
        let failures = a.0.iter().filter(|r| r.is_err()).count();
        assert!(failures > 10 && failures < 100, "{failures} failures");
        assert!(a.0.contains(&Err(ErrorCode::NetworkDisconnected)));
        assert!(a.0.contains(&Err(ErrorCode::NetworkAckTimeout)));
        let c = run(faults(8)).await;
        assert_ne!(a.0, c.0);
    }

    #[tokio::test]
    async fn a_dropped_response_was_applied_and_a_retry_is_not_applied_again() {
        let (server, t) = server();
        t.set_faults(Some(Faults::new(1).with_drop_response(1.0)));
        let err = t
            .push(vec![pending("1", pin("c2c_a", true))])
            .await
            .expect_err("response dropped");
        assert_eq!(err.code, ErrorCode::NetworkAckTimeout);
        assert!(err.retryable);
        assert!(conv(&server, "c2c_a").pinned);
        t.set_faults(None);
        let (outcome, response) = push(&t, "1", pin("c2c_a", true)).await;
        assert_eq!(outcome, OpOutcome::Applied);
        assert_eq!(
            response.changes,
            [RemoteChange::Conversation(conv(&server, "c2c_a"))]
        );
        assert_eq!(server.applied("me"), [OpId("1".into())]);
    }

    #[tokio::test]
    async fn dropped_and_duplicated_requests() {
        let (server, t) = server();
        t.set_faults(Some(Faults::new(1).with_drop_request(1.0)));
        assert!(
            t.push(vec![pending("1", pin("c2c_a", true))])
                .await
                .is_err()
        );
        assert!(server.applied("me").is_empty());
        assert!(!conv(&server, "c2c_a").pinned);
        t.set_faults(Some(Faults::new(1).with_duplicate_request(1.0)));
        assert_eq!(code(&t, "2", create_folder("g", &["c2c_a"])).await, None);
        assert_eq!(server.applied("me"), [OpId("2".into())]);
    }

    #[tokio::test]
    async fn a_disconnect_ends_the_stream_and_fails_calls() {
        let (_server, t) = server();
        let mut events = t.connect().await.expect("connect");
        t.set_faults(Some(Faults::new(3).with_disconnect(1.0, 0)));
        let err = t.pull(None, 1).await.expect_err("disconnected");
        assert_eq!(err.code, ErrorCode::NetworkDisconnected);
        assert_eq!(events.next().await, None);
        t.set_faults(None);
        assert!(t.pull(None, 1).await.is_ok());
        assert!(t.connect().await.is_ok());
    }

    async fn delivered_ids(faults: Faults, n: usize) -> Vec<String> {
        let server = LoopbackServer::new();
        let t = server.transport("me", "phone");
        let mut events = t.connect().await.expect("connect");
        t.set_faults(Some(faults));
        for i in 0..n {
            let at = i as u64 + 1;
            server.deliver("me", &id("c2c_a"), incoming(&at.to_string(), at));
        }
        t.set_faults(None); // releases a held event
        let mut got = Vec::new();
        while let Some(Some(event)) = events.next().now_or_never() {
            got.extend(message_id(&event));
        }
        got
    }

    #[tokio::test]
    async fn event_faults() {
        assert!(
            delivered_ids(Faults::new(1).with_drop_event(1.0), 3)
                .await
                .is_empty()
        );
        assert_eq!(
            delivered_ids(Faults::new(1).with_duplicate_event(1.0), 2).await,
            ["1", "1", "2", "2"]
        );
        assert_eq!(
            delivered_ids(Faults::new(1).with_reorder_event(1.0), 5).await,
            ["2", "1", "4", "3", "5"]
        );
        let chaos = delivered_ids(Faults::chaos(11), 200).await;
        assert_eq!(chaos, delivered_ids(Faults::chaos(11), 200).await);
        let in_order: Vec<String> = (1..=200).map(|i: u64| i.to_string()).collect();
        assert_ne!(chaos, in_order);
    }

    #[tokio::test]
    async fn messages_survive_a_flaky_stream() {
        let (server, t) = server();
        let mut events = t.connect().await.expect("connect");
        t.set_faults(Some(Faults::new(5).with_drop_event(1.0)));
        server.deliver("me", &id("c2c_a"), incoming("lost", 50));
        assert!(no_event(&mut events));
        // The server has it all the same: a pull finds it.
        let a = conv(&server, "c2c_a");
        assert_eq!(
            a.messages.last().and_then(|m| m.msg_id.as_deref()),
            Some("lost")
        );
    }
}

#[test]
fn handles_are_send_sync_and_debug() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    check::<LoopbackServer>();
    check::<LoopbackTransport>();
    let server = LoopbackServer::new();
    let t = server.transport("me", "phone");
    assert!(format!("{t:?}").contains("phone"));
    assert!(format!("{server:?}").contains("LoopbackServer"));
    let _shared: std::sync::Arc<dyn Transport> = std::sync::Arc::new(t);
}
