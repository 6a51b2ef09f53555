//! The message lifecycle: a later copy of a known message replaces it where it is shown, a
//! message being sent activates its conversation at once, messages that cannot be placed are
//! refused, and batches of messages land in one commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;
use timconv::model::lifecycle::{STATUS_FAILED, STATUS_REVOKED, STATUS_SENDING, STATUS_SENT};
use timconv::store::{ChangeSet, Snapshot};
use timconv::{
    ConversationFilter, ConversationManager, Cursor, Event, IngestOutcome, MemoryStore, Message,
    Store,
};

use crate::common::{id, incoming, manager, outgoing, published, updated_ids};

/// The IDs of the list, top first.
fn order(m: &ConversationManager) -> Vec<String> {
    m.conversations().iter().map(|c| c.id.to_string()).collect()
}

/// `message` as a conversation shows it: with its conversation keys filled in.
fn as_shown(conv: &timconv::ConversationId, mut message: Message) -> Message {
    message.conv_id = Some(conv.peer().to_owned());
    message.conv_type = Some(conv.kind().as_u32());
    message
}

/// The caller's own C2C message being sent: no server time yet, only its client time.
fn sending(msg_id: &str, client_time: u64) -> Message {
    Message::builder()
        .msg_id(msg_id)
        .client_time(client_time)
        .sender("me")
        .from_self()
        .status(STATUS_SENDING)
        .text("on its way")
        .build()
}

/// A store that counts its commits (over a memory store).
#[derive(Debug, Default)]
struct CountingStore {
    inner: MemoryStore,
    commits: Arc<AtomicUsize>,
}

impl Store for CountingStore {
    fn load(&self) -> BoxFuture<'_, timconv::Result<Snapshot>> {
        self.inner.load()
    }

    fn commit<'a>(&'a self, change: &'a ChangeSet) -> BoxFuture<'a, timconv::Result<()>> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        self.inner.commit(change)
    }

    fn close(&self) -> BoxFuture<'_, timconv::Result<()>> {
        self.inner.close()
    }
}

async fn counting_manager() -> (ConversationManager, Arc<AtomicUsize>) {
    let store = CountingStore::default();
    let commits = Arc::clone(&store.commits);
    let m = ConversationManager::builder()
        .store(store)
        .self_user_id("me")
        .open()
        .await
        .expect("opens");
    (m, commits)
}

mod later_copies {
    use super::*;

    #[tokio::test]
    async fn sending_sent_failed_replace_the_shown_copy_once_each() {
        let m = manager().await;
        let alice = id("c2c_alice");
        let bob = id("c2c_bob");
        m.ingest_message(&bob, incoming("b1", 50)).await.unwrap();
        let mut events = m.events();

        let outcome = m.ingest_message(&alice, sending("s1", 100)).await.unwrap();
        assert_eq!(outcome, IngestOutcome::Created);
        assert_eq!(order(&m), ["c2c_alice", "c2c_bob"], "activated at once");
        let before = m.get(&alice).unwrap();
        assert_eq!(before.unread_count, 0, "own messages never count");
        published(&mut events);

        // The server acknowledges it: its time and a sequence.
        let mut sent = sending("s1", 100);
        sent.status = Some(STATUS_SENT);
        sent.server_time = Some(101);
        sent.seq = Some(9);
        let outcome = m.ingest_message(&alice, sent.clone()).await.unwrap();
        assert_eq!(outcome, IngestOutcome::Replaced);
        let after = m.get(&alice).unwrap();
        assert_eq!(after.last_message, Some(as_shown(&alice, sent.clone())));
        assert_eq!(after.order_key, before.order_key, "no second activation");
        assert_eq!(order(&m), ["c2c_alice", "c2c_bob"], "no jump");
        let seen = published(&mut events);
        assert_eq!(updated_ids(&seen), ["c2c_alice"], "one Updated: {seen:?}");
        assert_eq!(seen.len(), 1, "{seen:?}");

        // A later failure report replaces it again.
        let mut failed = sent.clone();
        failed.status = Some(STATUS_FAILED);
        assert_eq!(
            m.ingest_message(&alice, failed.clone()).await.unwrap(),
            IngestOutcome::Replaced
        );
        assert_eq!(
            m.get(&alice).unwrap().last_message.as_ref().unwrap().status,
            Some(STATUS_FAILED)
        );
        assert_eq!(published(&mut events).len(), 1);

        // The very same copy again is a duplicate: nothing changes, nothing is published.
        assert_eq!(
            m.ingest_message(&alice, failed).await.unwrap(),
            IngestOutcome::Duplicate
        );
        assert!(published(&mut events).is_empty());
        assert_eq!(m.get(&alice).unwrap().order_key, before.order_key);
        assert_eq!(m.total_unread(), 1, "only bob's message counts");
    }

    #[tokio::test]
    async fn a_recall_and_an_edit_show_without_counting_again() {
        let m = manager().await;
        let team = id("group_team");
        let other = id("group_other");
        m.ingest_message(&team, incoming("t1", 5)).await.unwrap();
        m.ingest_message(&other, incoming("o1", 6)).await.unwrap();
        assert_eq!(
            (m.get(&team).unwrap().unread_count, m.total_unread()),
            (1, 2)
        );
        let key = m.get(&team).unwrap().order_key;
        let mut events = m.events();

        let mut recalled = incoming("t1", 5);
        recalled.status = Some(STATUS_REVOKED);
        assert_eq!(
            m.ingest_message(&team, recalled.clone()).await.unwrap(),
            IngestOutcome::Replaced
        );
        let conv = m.get(&team).unwrap();
        assert_eq!(conv.last_message, Some(as_shown(&team, recalled.clone())));
        assert_eq!(
            (conv.unread_count, m.total_unread()),
            (1, 2),
            "not counted again"
        );
        assert_eq!(conv.order_key, key);
        let seen = published(&mut events);
        assert_eq!(updated_ids(&seen), ["group_team"]);
        assert_eq!(seen.len(), 1, "one event, no unread change: {seen:?}");

        let mut edited = recalled.clone();
        edited.status = Some(STATUS_SENT);
        edited.elements = Message::text("", "edited text").elements;
        assert_eq!(
            m.ingest_message(&team, edited).await.unwrap(),
            IngestOutcome::Replaced
        );
        let conv = m.get(&team).unwrap();
        assert_eq!(
            conv.last_message.as_ref().unwrap().text_content(),
            Some("edited text")
        );
        assert_eq!((conv.unread_count, m.total_unread()), (1, 2));
        assert_eq!(order(&m), ["group_other", "group_team"], "no jump");
        assert_eq!(published(&mut events).len(), 1);
    }

    #[tokio::test]
    async fn an_older_message_delivered_again_changes_nothing() {
        let m = manager().await;
        let team = id("group_team");
        m.ingest_message(&team, incoming("t1", 1)).await.unwrap();
        m.ingest_message(&team, incoming("t2", 2)).await.unwrap();
        let mut events = m.events();
        assert_eq!(
            m.ingest_message(&team, incoming("t1", 1)).await.unwrap(),
            IngestOutcome::Duplicate
        );
        assert_eq!(m.get(&team).unwrap().unread_count, 2);
        assert!(published(&mut events).is_empty());
    }
}

mod sending {
    use super::*;

    #[tokio::test]
    async fn a_group_message_being_sent_activates_and_its_ack_replaces_it_in_place() {
        let m = manager().await;
        let team = id("group_team");
        let other = id("group_other");
        m.ingest_message(&team, incoming("t1", 3)).await.unwrap();
        m.ingest_message(&other, incoming("o1", 4)).await.unwrap();
        assert_eq!(order(&m), ["group_other", "group_team"]);

        // No sequence yet: it still moves its conversation up at once.
        let mut mine = sending("mine", 200);
        mine.seq = None;
        let mut events = m.events();
        assert_eq!(
            m.ingest_message(&team, mine.clone()).await.unwrap(),
            IngestOutcome::Updated
        );
        assert_eq!(order(&m), ["group_team", "group_other"]);
        let activated = m.get(&team).unwrap();
        assert_eq!(activated.last_message, Some(as_shown(&team, mine.clone())));
        assert_eq!(activated.unread_count, 1, "the peer's message still counts");
        assert_eq!(published(&mut events).len(), 1);

        let mut acked = mine.clone();
        acked.status = Some(STATUS_SENT);
        acked.seq = Some(5);
        acked.server_time = Some(201);
        assert_eq!(
            m.ingest_message(&team, acked.clone()).await.unwrap(),
            IngestOutcome::Replaced
        );
        let after = m.get(&team).unwrap();
        assert_eq!(after.order_key, activated.order_key, "no second activation");
        assert_eq!(after.last_message, Some(as_shown(&team, acked.clone())));
        assert_eq!(after.unread_count, 1);
        assert_eq!(order(&m), ["group_team", "group_other"], "no jump");
        let seen = published(&mut events);
        assert_eq!(updated_ids(&seen), ["group_team"], "{seen:?}");
        assert_eq!(seen.len(), 1, "{seen:?}");
    }

    #[tokio::test]
    async fn a_later_message_from_someone_else_wins_over_one_being_sent() {
        let m = manager().await;
        let team = id("group_team");
        let mut mine = sending("mine", 100);
        mine.seq = None;
        m.ingest_message(&team, mine).await.unwrap();
        let mut later = incoming("later", 7);
        later.server_time = Some(150);
        assert_eq!(
            m.ingest_message(&team, later.clone()).await.unwrap(),
            IngestOutcome::Updated
        );
        assert_eq!(
            m.get(&team).unwrap().last_message,
            Some(as_shown(&team, later))
        );
    }
}

mod positions {
    use super::*;

    #[tokio::test]
    async fn messages_without_a_position_are_refused_with_6017_and_change_nothing() {
        let m = manager().await;
        let mut events = m.events();
        let mut no_seq = incoming("g1", 5);
        no_seq.seq = None;
        let err = m
            .ingest_message(&id("group_team"), no_seq)
            .await
            .expect_err("a group message needs a sequence");
        assert_eq!(err.code().as_i32(), 6017);

        let no_time = Message::builder()
            .msg_id("c1")
            .sender("peer")
            .text("hi")
            .build();
        let err = m
            .ingest_message(&id("c2c_alice"), no_time)
            .await
            .expect_err("a C2C message needs a time");
        assert_eq!(err.code().as_i32(), 6017);

        // The caller's own message, but already sent: it needs a position like any other.
        let mut own_sent = outgoing("o1", 5);
        own_sent.seq = None;
        own_sent.status = Some(STATUS_SENT);
        let err = m
            .ingest_message(&id("group_team"), own_sent)
            .await
            .expect_err("only a message being sent goes without a position");
        assert_eq!(err.code().as_i32(), 6017);

        assert!(m.is_empty());
        assert!(published(&mut events).is_empty());

        // The caller's own message being sent is accepted without one.
        let mut mine = sending("mine", 0);
        mine.client_time = None;
        assert_eq!(
            m.ingest_message(&id("group_team"), mine).await.unwrap(),
            IngestOutcome::Created
        );
    }

    #[tokio::test]
    async fn a_c2c_message_without_server_time_is_placed_by_its_client_time() {
        let m = manager().await;
        let alice = id("c2c_alice");
        let m1 = Message::builder()
            .msg_id("c1")
            .client_time(30)
            .server_time(0)
            .sender("alice")
            .text("hi")
            .build();
        assert_eq!(
            m.ingest_message(&alice, m1).await.unwrap(),
            IngestOutcome::Created
        );
        assert_eq!(m.get(&alice).unwrap().unread_count, 1);
    }
}

mod batches {
    use super::*;

    #[tokio::test]
    async fn ingest_messages_is_one_commit_with_one_outcome_per_message() {
        let (m, commits) = counting_manager().await;
        let team = id("group_team");
        let alice = id("c2c_alice");
        let mut no_seq = incoming("bad", 4);
        no_seq.seq = None;
        let mut elsewhere = incoming("wrong", 5);
        elsewhere.conv_id = Some("someone_else".into());
        let mut events = m.events();
        let before = commits.load(Ordering::SeqCst);

        let results = m
            .ingest_messages([
                (team.clone(), incoming("t1", 1)),
                (team.clone(), no_seq),
                (alice.clone(), incoming("a1", 10)),
                (team.clone(), incoming("t2", 2)),
                (team.clone(), incoming("t2", 2)),
                (alice.clone(), elsewhere),
                (team.clone(), outgoing("t3", 3)),
            ])
            .await
            .unwrap();
        assert_eq!(commits.load(Ordering::SeqCst) - before, 1, "one commit");
        let shape: Vec<Result<IngestOutcome, i32>> = results
            .into_iter()
            .map(|r| r.map_err(|e| e.code().as_i32()))
            .collect();
        assert_eq!(
            shape,
            [
                Ok(IngestOutcome::Created),
                Err(6017),
                Ok(IngestOutcome::Created),
                Ok(IngestOutcome::Updated),
                Ok(IngestOutcome::Duplicate),
                Err(6017),
                Ok(IngestOutcome::Updated),
            ]
        );
        let conv = m.get(&team).unwrap();
        assert_eq!(conv.unread_count, 2);
        assert_eq!(
            conv.last_message.as_ref().unwrap().msg_id.as_deref(),
            Some("t3")
        );
        assert_eq!(m.total_unread(), 3);
        // One commit, so one Added for both new conversations.
        let seen = published(&mut events);
        let added: Vec<usize> = seen
            .iter()
            .filter_map(|e| match e {
                Event::Added(convs) => Some(convs.len()),
                _ => None,
            })
            .collect();
        assert_eq!(added, [2], "{seen:?}");
    }

    #[tokio::test]
    async fn a_batch_refused_entirely_changes_nothing() {
        let m = manager().await;
        let mut events = m.events();
        let mut no_seq = incoming("bad", 4);
        no_seq.seq = None;
        let results = m
            .ingest_messages([(id("group_team"), no_seq)])
            .await
            .unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].as_ref().unwrap_err().code().as_i32(), 6017);
        assert!(m.is_empty());
        assert!(published(&mut events).is_empty());
        let none = m.ingest_messages(Vec::new()).await.unwrap();
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn move_to_folder_is_one_commit_and_one_event() {
        let (m, commits) = counting_manager().await;
        let a = id("c2c_a");
        let b = id("c2c_b");
        let nobody = id("c2c_nobody");
        for (n, conv) in [&a, &b].into_iter().enumerate() {
            m.ingest_message(conv, incoming(&format!("x{n}"), n as u64 + 1))
                .await
                .unwrap();
        }
        m.create_folder("inbox", [&a, &b])
            .await
            .unwrap()
            .into_result()
            .unwrap();
        m.create_folder("done", Vec::<timconv::ConversationId>::new())
            .await
            .unwrap()
            .into_result()
            .unwrap();
        let mut events = m.events();
        let before = commits.load(Ordering::SeqCst);

        let outcome = m
            .move_to_folder([&a, &b, &nobody], "inbox", "done")
            .await
            .unwrap();
        assert_eq!(commits.load(Ordering::SeqCst) - before, 1);
        let codes: Vec<i32> = outcome.iter().map(|o| o.code()).collect();
        assert_eq!(codes, [0, 0, 6004]);
        for conv in [&a, &b] {
            assert_eq!(m.get(conv).unwrap().folders, ["done"]);
        }
        let seen = published(&mut events);
        let folder_events: Vec<&Event> = seen
            .iter()
            .filter(|e| !matches!(e, Event::Updated(_)))
            .collect();
        assert_eq!(
            folder_events,
            [&Event::ConversationsMovedBetweenFolders {
                from: "inbox".into(),
                to: "done".into(),
                conversations: vec![a.clone(), b.clone()],
            }]
        );
        assert!(
            m.list(
                &ConversationFilter::new().folder("inbox"),
                Cursor::START,
                10
            )
            .unwrap()
            .conversations
            .is_empty()
        );

        // A missing folder refuses the whole call, changing nothing.
        let err = m.move_to_folder(&a, "done", "nowhere").await.unwrap_err();
        assert_eq!(err.code().as_i32(), 51009);
        assert_eq!(m.get(&a).unwrap().folders, ["done"]);
        assert!(published(&mut events).is_empty());
    }
}
