//! What each operation does, domain by domain, through the public API.

use std::time::Duration;

use futures::StreamExt;
use timconv::{
    CleanTarget, ConversationFilter, ConversationId, ConversationManager, Cursor, Draft, Event,
    EventStream, FolderRemovalReason, GroupAtType, GroupType, IngestOutcome, MarkFlags,
    MemoryStore, Message, Profile, ReceiveOption,
};

use crate::common::{id, incoming, manager, outgoing};

/// The next event, failing the test if none comes soon.
async fn next_event(events: &mut EventStream) -> Event {
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event within 5 s")
        .expect("the stream is open")
        .expect("not lagged")
}

/// Whether an event is waiting right now.
fn has_event(events: &mut EventStream) -> bool {
    futures::FutureExt::now_or_never(events.next()).is_some()
}

fn order(m: &ConversationManager) -> Vec<String> {
    m.conversations()
        .iter()
        .map(|c| c.id.peer().to_owned())
        .collect()
}

fn get(m: &ConversationManager, full: &str) -> std::sync::Arc<timconv::Conversation> {
    m.get(&id(full)).expect("conversation exists")
}

mod messages {
    use super::*;

    #[tokio::test]
    async fn a_message_creates_and_activates_its_conversation() {
        let m = manager().await;
        assert_eq!(
            m.ingest_message(&id("c2c_a"), incoming("1", 10))
                .await
                .unwrap(),
            IngestOutcome::Created
        );
        m.ingest_message(&id("c2c_b"), incoming("2", 11))
            .await
            .unwrap();
        assert_eq!(order(&m), ["b", "a"]);
        m.ingest_message(&id("c2c_a"), incoming("3", 12))
            .await
            .unwrap();
        assert_eq!(order(&m), ["a", "b"]);
        let a = get(&m, "c2c_a");
        assert_eq!(a.unread_count, 2);
        assert_eq!(
            a.last_message
                .as_ref()
                .and_then(|m| m.msg_id.clone())
                .as_deref(),
            Some("3")
        );
        assert!(get(&m, "c2c_a").order_key > get(&m, "c2c_b").order_key);
    }

    #[tokio::test]
    async fn own_duplicate_and_excluded_messages_add_no_unread() {
        let m = manager().await;
        let a = id("c2c_a");
        m.ingest_message(&a, outgoing("mine", 5)).await.unwrap();
        assert_eq!(get(&m, "c2c_a").unread_count, 0);
        m.ingest_message(&a, incoming("x", 6)).await.unwrap();
        assert_eq!(
            m.ingest_message(&a, incoming("x", 6)).await.unwrap(),
            IngestOutcome::Duplicate
        );
        let mut excluded = incoming("y", 7);
        excluded.excluded_from_unread = Some(true);
        m.ingest_message(&a, excluded).await.unwrap();
        let conv = get(&m, "c2c_a");
        assert_eq!(conv.unread_count, 1);
        assert_eq!(
            conv.last_message
                .as_ref()
                .and_then(|m| m.msg_id.clone())
                .as_deref(),
            Some("y")
        );
        assert_eq!(m.total_unread(), 1);
    }

    #[tokio::test]
    async fn a_duplicate_of_an_older_unread_message_counts_once() {
        let m = manager().await;
        let g = id("group_g");
        for (msg, seq) in [("1", 1), ("2", 2), ("3", 3)] {
            m.ingest_message(&g, incoming(msg, seq)).await.unwrap();
        }
        assert_eq!(
            m.ingest_message(&g, incoming("2", 2)).await.unwrap(),
            IngestOutcome::Duplicate
        );
        assert_eq!(get(&m, "group_g").unread_count, 3);
    }

    #[tokio::test]
    async fn a_late_older_message_counts_but_does_not_become_last_or_reorder() {
        let m = manager().await;
        m.ingest_message(&id("group_g"), incoming("5", 5))
            .await
            .unwrap();
        m.ingest_message(&id("c2c_b"), incoming("b", 100))
            .await
            .unwrap();
        m.ingest_message(&id("group_g"), incoming("4", 4))
            .await
            .unwrap();
        let g = get(&m, "group_g");
        assert_eq!(g.unread_count, 2);
        assert_eq!(g.last_message.as_ref().and_then(|m| m.seq), Some(5));
        assert_eq!(order(&m), ["b", "g"]);
    }

    #[tokio::test]
    async fn group_mentions_add_at_info() {
        let m = manager().await;
        let g = id("group_g");
        let mut at_me = incoming("1", 1);
        at_me.group_at_users = Some(vec!["me".into()]);
        let mut at_all = incoming("2", 2);
        at_all.group_at_users = Some(vec!["__kImSDK_MesssageAtALL__".into()]);
        let mut both = incoming("3", 3);
        both.group_at_users = Some(vec!["__kImSDK_MesssageAtALL__".into(), "me".into()]);
        let mut other = incoming("4", 4);
        other.group_at_users = Some(vec!["someone-else".into()]);
        for msg in [at_me, at_all, both, other] {
            m.ingest_message(&g, msg).await.unwrap();
        }
        let kinds: Vec<_> = get(&m, "group_g")
            .group_at_info
            .iter()
            .map(|a| (a.seq, a.at_type))
            .collect();
        assert_eq!(
            kinds,
            [
                (1, GroupAtType::AtMe),
                (2, GroupAtType::AtAll),
                (3, GroupAtType::AtAllAtMe)
            ]
        );
        let with_at = ConversationFilter::new().has_at_info(true);
        assert_eq!(
            m.list(&with_at, Cursor::START, 10)
                .unwrap()
                .conversations
                .len(),
            1
        );
        m.clean_unread(
            g.clone(),
            timconv::ReadUpTo::Positions {
                timestamp: None,
                sequence: Some(2),
            },
        )
        .await
        .unwrap();
        assert_eq!(get(&m, "group_g").group_at_info.len(), 1);
    }

    #[tokio::test]
    async fn a_message_naming_another_conversation_is_refused() {
        let m = manager().await;
        let mut msg = incoming("1", 1);
        msg.conv_id = Some("b".into());
        let err = m.ingest_message(&id("c2c_a"), msg).await.unwrap_err();
        assert_eq!(err.code().as_i32(), 6017);
        assert!(m.is_empty());
    }

    #[tokio::test]
    async fn create_gets_or_creates_and_get_never_creates() {
        let m = manager().await;
        assert!(m.get(&id("c2c_a")).is_none());
        assert!(m.get_many(&[id("c2c_a"), id("group_b")]).is_empty());
        let created = m.create_conversation(&id("c2c_a")).await.unwrap();
        assert_eq!(created.unread_count, 0);
        let again = m.create_conversation(&id("c2c_a")).await.unwrap();
        assert_eq!(created, again);
        let found = m.get_many(&[id("group_b"), id("c2c_a"), id("c2c_a")]);
        assert_eq!(found.len(), 1);
    }

    #[tokio::test]
    async fn profile_sets_display_fields_and_av_chat_rooms_never_count() {
        let m = manager().await;
        let g = id("group_live");
        m.ingest_message(&g, incoming("1", 1)).await.unwrap();
        assert_eq!(m.total_unread(), 1);
        m.set_profile(&g, Profile::new().show_name("Live"))
            .await
            .unwrap();
        m.set_group_type(&g, GroupType::AvChatRoom).await.unwrap();
        let conv = get(&m, "group_live");
        assert_eq!((conv.show_name.as_str(), conv.unread_count), ("Live", 1));
        assert_eq!(m.total_unread(), 0);
    }
}

mod pin {
    use super::*;

    #[tokio::test]
    async fn pinned_come_first_and_unpinning_restores_the_natural_place() {
        let m = manager().await;
        for (n, name) in ["5", "4", "3", "2", "1"].iter().enumerate() {
            m.ingest_message(&id(&format!("c2c_{name}")), incoming(name, n as u64 + 1))
                .await
                .unwrap();
        }
        assert_eq!(order(&m), ["1", "2", "3", "4", "5"]);
        m.pin(&id("c2c_3")).await.unwrap();
        m.pin(&id("c2c_2")).await.unwrap();
        // Pinning activates: the latest pinned comes first among the pinned.
        assert_eq!(order(&m), ["2", "3", "1", "4", "5"]);
        m.unpin(&id("c2c_2")).await.unwrap();
        assert_eq!(order(&m), ["3", "2", "1", "4", "5"]);
        assert!(!get(&m, "c2c_2").is_pinned);
    }

    #[tokio::test]
    async fn repeating_a_pin_is_a_silent_no_op() {
        let m = manager().await;
        let a = id("c2c_a");
        m.ingest_message(&a, incoming("1", 1)).await.unwrap();
        m.pin(&a).await.unwrap();
        let key = get(&m, "c2c_a").order_key;
        let mut events = m.events();
        m.pin(&a).await.unwrap();
        m.pin(&id("c2c_a")).await.unwrap();
        assert!(!has_event(&mut events));
        assert_eq!(get(&m, "c2c_a").order_key, key);
    }
}

mod drafts {
    use super::*;

    #[tokio::test]
    async fn setting_activates_cancelling_does_not() {
        let m = manager().await;
        m.ingest_message(&id("c2c_a"), incoming("1", 1))
            .await
            .unwrap();
        m.ingest_message(&id("c2c_b"), incoming("2", 2))
            .await
            .unwrap();
        let draft = Draft::new(Message::text("", "typing"), "ud", 99);
        m.set_draft(&id("c2c_a"), draft.clone()).await.unwrap();
        assert_eq!(order(&m), ["a", "b"]);
        let a = get(&m, "c2c_a");
        assert_eq!(a.draft.as_deref(), Some(&draft));
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["conv_is_has_draft"], true);
        assert_eq!(json["conv_draft"]["draft_user_define"], "ud");
        m.cancel_draft(&id("c2c_a")).await.unwrap();
        let a2 = get(&m, "c2c_a");
        assert!(a2.draft.is_none());
        assert_eq!(a2.order_key, a.order_key);
        assert_eq!(
            serde_json::to_value(&a2).unwrap()["conv_is_has_draft"],
            false
        );
    }

    #[tokio::test]
    async fn a_draft_can_start_a_new_conversation() {
        let m = manager().await;
        m.set_draft(&id("c2c_new"), Draft::default()).await.unwrap();
        assert!(get(&m, "c2c_new").draft.is_some());
    }
}

mod marks_and_custom_data {
    use super::*;

    #[tokio::test]
    async fn marks_are_only_recorded() {
        let m = manager().await;
        let a = id("c2c_a");
        m.ingest_message(&a, incoming("1", 1)).await.unwrap();
        let ext = MarkFlags::extension(40).unwrap();
        let all = MarkFlags::UNREAD | MarkFlags::FOLD | MarkFlags::HIDE | ext;
        let out = m.mark(std::slice::from_ref(&a), all).await.unwrap();
        assert!(out.iter().all(|o| o.is_ok()));
        let conv = get(&m, "c2c_a");
        assert_eq!(conv.marks, all);
        assert_eq!(conv.unread_count, 1);
        assert_eq!(m.total_unread(), 1);
        assert_eq!(m.conversations().len(), 1);
        m.unmark(std::slice::from_ref(&a), MarkFlags::FOLD | ext)
            .await
            .unwrap()
            .into_result()
            .unwrap();
        assert_eq!(get(&m, "c2c_a").marks, MarkFlags::UNREAD | MarkFlags::HIDE);
    }

    #[tokio::test]
    async fn batch_results_come_one_per_distinct_conversation() {
        let m = manager().await;
        m.ingest_message(&id("c2c_a"), incoming("1", 1))
            .await
            .unwrap();
        let out = m
            .set_custom_data(&[id("c2c_a"), id("c2c_missing"), id("c2c_a")], "data")
            .await
            .unwrap();
        let codes: Vec<_> = out.iter().map(|o| (o.id.to_string(), o.code())).collect();
        assert_eq!(
            codes,
            [("c2c_a".to_owned(), 0), ("c2c_missing".to_owned(), 6004)]
        );
        assert_eq!(get(&m, "c2c_a").custom_data.as_str(), Some("data"));
        m.set_custom_data(&[id("c2c_a")], "")
            .await
            .unwrap()
            .into_result()
            .unwrap();
        assert!(get(&m, "c2c_a").custom_data.is_empty());
    }

    #[tokio::test]
    async fn clearing_decoration_frees_room_under_the_limit() {
        let m = crate::common::manager_with(timconv::Limits::default().with_max_decorated(1)).await;
        m.ingest_message(&id("c2c_a"), incoming("1", 1))
            .await
            .unwrap();
        m.ingest_message(&id("c2c_b"), incoming("2", 2))
            .await
            .unwrap();
        m.mark(&[id("c2c_a")], MarkFlags::STAR)
            .await
            .unwrap()
            .into_result()
            .unwrap();
        let out = m.mark(&[id("c2c_b")], MarkFlags::STAR).await.unwrap();
        assert_eq!(out[0].code(), 51008);
        // Decorating an already-decorated conversation further is fine.
        let out = m.set_custom_data(&[id("c2c_a")], "x").await.unwrap();
        assert!(out[0].is_ok());
        m.unmark(&[id("c2c_a")], MarkFlags::STAR)
            .await
            .unwrap()
            .into_result()
            .unwrap();
        m.set_custom_data(&[id("c2c_a")], "")
            .await
            .unwrap()
            .into_result()
            .unwrap();
        let out = m.mark(&[id("c2c_b")], MarkFlags::STAR).await.unwrap();
        assert!(out[0].is_ok());
    }
}

mod unread {
    use super::*;

    #[tokio::test]
    async fn receive_options_decide_what_counts() {
        let m = manager().await;
        let a = id("c2c_a");
        m.ingest_message(&a, incoming("1", 1)).await.unwrap();
        for (option, counts) in [
            (ReceiveOption::NotReceive, false),
            (ReceiveOption::NotNotify, false),
            (ReceiveOption::NotNotifyExceptAt, true),
            (ReceiveOption::NotReceiveExceptAt, true),
            (ReceiveOption::Receive, true),
        ] {
            m.set_receive_option(&a, option).await.unwrap();
            assert_eq!(m.total_unread(), u64::from(counts), "{option:?}");
            assert_eq!(get(&m, "c2c_a").unread_count, 1);
        }
    }

    #[tokio::test]
    async fn cleaning_moves_read_positions_forward_only() {
        let m = manager().await;
        let a = id("c2c_a");
        let g = id("group_g");
        for t in 1..=5 {
            m.ingest_message(&a, incoming(&format!("a{t}"), 100 + t))
                .await
                .unwrap();
            m.ingest_message(&g, incoming(&format!("g{t}"), t))
                .await
                .unwrap();
        }
        m.clean_unread(
            a.clone(),
            timconv::ReadUpTo::Positions {
                timestamp: Some(102),
                sequence: None,
            },
        )
        .await
        .unwrap();
        m.clean_unread(
            g.clone(),
            timconv::ReadUpTo::Positions {
                timestamp: None,
                sequence: Some(3),
            },
        )
        .await
        .unwrap();
        let (ca, cg) = (get(&m, "c2c_a"), get(&m, "group_g"));
        assert_eq!((ca.unread_count, ca.c2c_read_timestamp), (3, 102));
        assert_eq!((cg.unread_count, cg.group_read_sequence), (2, 3));
        // Going back does nothing.
        m.clean_unread(
            a.clone(),
            timconv::ReadUpTo::Positions {
                timestamp: Some(101),
                sequence: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(get(&m, "c2c_a").c2c_read_timestamp, 102);
        // A message at or before the read position does not count.
        m.ingest_message(&g, incoming("old", 2)).await.unwrap();
        assert_eq!(get(&m, "group_g").unread_count, 2);
        // 0 means everything.
        m.clean_unread(CleanTarget::All, timconv::ReadUpTo::Everything)
            .await
            .unwrap();
        let (ca, cg) = (get(&m, "c2c_a"), get(&m, "group_g"));
        assert_eq!((ca.unread_count, ca.c2c_read_timestamp), (0, 105));
        assert_eq!((cg.unread_count, cg.group_read_sequence), (0, 5));
        assert_eq!(m.total_unread(), 0);
    }

    #[tokio::test]
    async fn bulk_targets_clean_by_type() {
        let m = manager().await;
        m.ingest_message(&id("c2c_a"), incoming("1", 1))
            .await
            .unwrap();
        m.ingest_message(&id("group_g"), incoming("2", 1))
            .await
            .unwrap();
        m.clean_unread(
            CleanTarget::parse("group").unwrap(),
            timconv::ReadUpTo::Everything,
        )
        .await
        .unwrap();
        assert_eq!(
            (
                get(&m, "c2c_a").unread_count,
                get(&m, "group_g").unread_count
            ),
            (1, 0)
        );
        m.ingest_message(&id("group_g"), incoming("3", 2))
            .await
            .unwrap();
        m.clean_unread(
            CleanTarget::parse("c2c").unwrap(),
            timconv::ReadUpTo::Everything,
        )
        .await
        .unwrap();
        assert_eq!(
            (
                get(&m, "c2c_a").unread_count,
                get(&m, "group_g").unread_count
            ),
            (0, 1)
        );
        m.clean_unread(
            CleanTarget::parse("").unwrap(),
            timconv::ReadUpTo::Everything,
        )
        .await
        .unwrap();
        assert_eq!(m.total_unread(), 0);
        assert_eq!(
            CleanTarget::parse("c2c_a").unwrap(),
            CleanTarget::Conversation(id("c2c_a"))
        );
        assert!(CleanTarget::parse("nope").is_err());
    }

    #[tokio::test]
    async fn watches_yield_the_current_value_then_each_change() {
        let m = manager().await;
        m.ingest_message(&id("group_g"), incoming("1", 1))
            .await
            .unwrap();
        let mut total = m.watch_total_unread();
        let groups = ConversationFilter::new().conv_type(timconv::ConversationType::Group);
        let mut by_filter = m.watch_unread(&groups).unwrap();
        assert_eq!(total.next().await, Some(1));
        assert_eq!(by_filter.next().await, Some(1));
        m.ingest_message(&id("c2c_a"), incoming("2", 2))
            .await
            .unwrap();
        assert_eq!(total.next().await, Some(2));
        // The group count did not change: nothing to yield.
        assert!(futures::FutureExt::now_or_never(by_filter.next()).is_none());
        m.ingest_message(&id("group_g"), incoming("3", 3))
            .await
            .unwrap();
        assert_eq!(by_filter.next().await, Some(2));
        assert_eq!(m.unread_by_filter(&groups).unwrap(), 2);
    }

    #[tokio::test]
    async fn equal_filters_share_one_subscription_until_the_last_watcher_drops() {
        let m = manager().await;
        let f = ConversationFilter::new().has_unread(true);
        let w1 = m.watch_unread(&f).unwrap();
        let w2 = m.watch_unread(&f.clone()).unwrap();
        let other = m.watch_unread(&ConversationFilter::new()).unwrap();
        assert_eq!(m.watched_filters(), 2);
        drop(w1);
        assert_eq!(m.watched_filters(), 2);
        drop(w2);
        assert_eq!(m.watched_filters(), 1);
        drop(other);
        assert_eq!(m.watched_filters(), 0);
    }

    #[tokio::test]
    async fn filter_unread_events_only_for_watched_filters_and_only_on_change() {
        let m = manager().await;
        let starred = ConversationFilter::new().mark(MarkFlags::STAR);
        m.ingest_message(&id("c2c_a"), incoming("1", 1))
            .await
            .unwrap();
        let _watch = m.watch_unread(&starred).unwrap();
        let mut events = m.events();
        m.mark(&[id("c2c_a")], MarkFlags::STAR)
            .await
            .unwrap()
            .into_result()
            .unwrap();
        assert!(matches!(next_event(&mut events).await, Event::Updated(_)));
        assert_eq!(
            next_event(&mut events).await,
            Event::UnreadByFilterChanged {
                filter: starred.clone(),
                count: 1
            }
        );
        // A new message elsewhere changes the total but not the starred count.
        m.ingest_message(&id("c2c_b"), incoming("2", 2))
            .await
            .unwrap();
        assert!(matches!(next_event(&mut events).await, Event::Added(_)));
        assert_eq!(next_event(&mut events).await, Event::TotalUnreadChanged(2));
        assert!(!has_event(&mut events));
    }
}

mod delete {
    use super::*;

    #[tokio::test]
    async fn deleting_removes_from_lists_totals_and_groups() {
        let m = manager().await;
        let a = id("c2c_a");
        m.ingest_message(&a, incoming("1", 10)).await.unwrap();
        m.ingest_message(&id("c2c_b"), incoming("2", 11))
            .await
            .unwrap();
        m.create_folder("friends", std::slice::from_ref(&a))
            .await
            .unwrap()
            .into_result()
            .unwrap();
        let mut events = m.events();
        m.delete(&a, timconv::MessageHistory::Keep).await.unwrap();
        assert_eq!(
            next_event(&mut events).await,
            Event::Deleted(vec![a.clone()])
        );
        assert_eq!(
            next_event(&mut events).await,
            Event::ConversationsRemovedFromFolder {
                name: "friends".into(),
                conversations: vec![a.clone()],
                reason: FolderRemovalReason::ByUser,
            }
        );
        assert_eq!(next_event(&mut events).await, Event::TotalUnreadChanged(1));
        assert!(m.get(&a).is_none());
        assert_eq!(order(&m), ["b"]);
        let members = ConversationFilter::new().folder("friends");
        assert!(
            m.list(&members, Cursor::START, 10)
                .unwrap()
                .conversations
                .is_empty()
        );
    }

    #[tokio::test]
    async fn only_a_newer_message_brings_a_deleted_conversation_back() {
        let m = manager().await;
        let a = id("c2c_a");
        m.ingest_message(&a, incoming("1", 10)).await.unwrap();
        m.pin(&a).await.unwrap();
        m.delete(&a, timconv::MessageHistory::Clear).await.unwrap();
        assert_eq!(
            m.ingest_message(&a, incoming("1", 10)).await.unwrap(),
            IngestOutcome::Stale
        );
        assert_eq!(
            m.ingest_message(&a, incoming("0", 9)).await.unwrap(),
            IngestOutcome::Stale
        );
        assert!(m.get(&a).is_none());
        assert_eq!(
            m.ingest_message(&a, incoming("2", 11)).await.unwrap(),
            IngestOutcome::Created
        );
        let back = get(&m, "c2c_a");
        assert!(!back.is_pinned);
        assert_eq!(back.unread_count, 1);
    }

    #[tokio::test]
    async fn delete_many_gives_one_result_each() {
        let m = manager().await;
        m.ingest_message(&id("c2c_a"), incoming("1", 1))
            .await
            .unwrap();
        m.ingest_message(&id("group_g"), incoming("2", 1))
            .await
            .unwrap();
        let out = m
            .delete_many(
                &[id("c2c_a"), id("c2c_x"), id("group_g")],
                timconv::MessageHistory::Keep,
            )
            .await
            .unwrap();
        let codes: Vec<_> = out.iter().map(|o| o.code()).collect();
        assert_eq!(codes, [0, 6004, 0]);
        assert!(m.is_empty());
        assert_eq!(m.total_unread(), 0);
    }
}

mod groups {
    use super::*;

    #[tokio::test]
    async fn the_group_lifecycle_with_its_events() {
        let m = manager().await;
        let (a, b) = (id("c2c_a"), id("c2c_b"));
        m.ingest_message(&a, incoming("1", 1)).await.unwrap();
        m.ingest_message(&b, incoming("2", 2)).await.unwrap();
        let mut events = m.events();

        let out = m
            .create_folder("work", &[a.clone(), id("c2c_missing")])
            .await
            .unwrap();
        assert_eq!(out.iter().map(|o| o.code()).collect::<Vec<_>>(), [0, 6004]);
        assert!(matches!(next_event(&mut events).await, Event::Updated(_)));
        assert_eq!(
            next_event(&mut events).await,
            Event::FolderCreated {
                name: "work".into(),
                conversations: vec![a.clone()]
            }
        );
        m.create_folder("home", std::slice::from_ref(&b))
            .await
            .unwrap()
            .into_result()
            .unwrap();
        assert_eq!(m.folders(), ["work", "home"]);

        m.add_to_folder("work", &[a.clone(), b.clone()])
            .await
            .unwrap()
            .into_result()
            .unwrap();
        next_event(&mut events).await; // home: updated
        next_event(&mut events).await; // home: created
        assert!(matches!(next_event(&mut events).await, Event::Updated(list) if list.len() == 1));
        assert_eq!(
            next_event(&mut events).await,
            Event::ConversationsAddedToFolder {
                name: "work".into(),
                conversations: vec![b.clone()]
            }
        );
        assert_eq!(get(&m, "c2c_b").folders, ["home", "work"]);

        m.rename_folder("work", "job").await.unwrap();
        assert_eq!(m.folders(), ["job", "home"]);
        assert_eq!(get(&m, "c2c_b").folders, ["home", "job"]);
        next_event(&mut events).await; // updated members
        assert_eq!(
            next_event(&mut events).await,
            Event::FolderRenamed {
                old_name: "work".into(),
                new_name: "job".into()
            }
        );

        m.remove_from_folder("job", std::slice::from_ref(&a))
            .await
            .unwrap()
            .into_result()
            .unwrap();
        let job = ConversationFilter::new().folder("job");
        let members: Vec<_> = m
            .list(&job, Cursor::START, 10)
            .unwrap()
            .conversations
            .into_iter()
            .map(|c| c.id.clone())
            .collect();
        assert_eq!(members, std::slice::from_ref(&b));
        let none = ConversationFilter::new().folder("");
        let ungrouped: Vec<_> = m
            .list(&none, Cursor::START, 10)
            .unwrap()
            .conversations
            .into_iter()
            .map(|c| c.id.clone())
            .collect();
        assert_eq!(ungrouped, std::slice::from_ref(&a));

        m.delete_folder("job").await.unwrap();
        assert_eq!(m.folders(), ["home"]);
        assert_eq!(get(&m, "c2c_b").folders, ["home"]);
        // Removing a non-member is a success that changes nothing.
        let out = m
            .remove_from_folder("home", std::slice::from_ref(&a))
            .await
            .unwrap();
        assert!(out[0].is_ok());
    }

    #[tokio::test]
    async fn renaming_to_the_same_name_is_a_no_op() {
        let m = manager().await;
        m.ingest_message(&id("c2c_a"), incoming("1", 1))
            .await
            .unwrap();
        m.create_folder("g", &[id("c2c_a")])
            .await
            .unwrap()
            .into_result()
            .unwrap();
        let mut events = m.events();
        m.rename_folder("g", "g").await.unwrap();
        assert!(!has_event(&mut events));
    }
}

mod lifecycle {
    use super::*;

    #[tokio::test]
    async fn reopening_the_same_store_keeps_everything() {
        let store = MemoryStore::new();
        let first = ConversationManager::builder()
            .store(store.clone())
            .open()
            .await
            .unwrap();
        let a = id("c2c_a");
        first.ingest_message(&a, incoming("1", 1)).await.unwrap();
        first.pin(&a).await.unwrap();
        first
            .mark(std::slice::from_ref(&a), MarkFlags::STAR)
            .await
            .unwrap()
            .into_result()
            .unwrap();
        first
            .create_folder("g", std::slice::from_ref(&a))
            .await
            .unwrap()
            .into_result()
            .unwrap();
        first
            .ingest_message(&id("c2c_b"), incoming("2", 2))
            .await
            .unwrap();
        first
            .delete(&id("c2c_b"), timconv::MessageHistory::Keep)
            .await
            .unwrap();
        let before = first.conversations();
        first.shutdown().await.unwrap();
        assert_eq!(first.unpin(&a).await.unwrap_err().code().as_i32(), 6013);

        let second = ConversationManager::builder()
            .store(store)
            .open()
            .await
            .unwrap();
        assert_eq!(second.conversations(), before);
        assert_eq!(second.folders(), ["g"]);
        assert_eq!(second.total_unread(), 1);
        // The tombstone survived; order keys keep growing.
        assert_eq!(
            second
                .ingest_message(&id("c2c_b"), incoming("2", 2))
                .await
                .unwrap(),
            IngestOutcome::Stale
        );
        second
            .ingest_message(&id("c2c_c"), incoming("3", 3))
            .await
            .unwrap();
        assert!(get(&second, "c2c_c").order_key > before[0].order_key);
    }

    /// Writes queued together are committed as one group; one failing write in the group fails
    /// alone and the others see each other's changes.
    #[tokio::test]
    async fn a_group_of_queued_writes_fails_only_where_it_must() {
        let m = crate::common::manager_with(timconv::Limits::default().with_max_pinned(3)).await;
        let ids: Vec<_> = (0..50).map(|n| id(&format!("c2c_{n}"))).collect();
        let ingests = ids
            .iter()
            .enumerate()
            .map(|(n, c)| m.ingest_message(c, incoming(&format!("m{n}"), n as u64 + 1)));
        for outcome in futures::future::join_all(ingests).await {
            assert_eq!(outcome.unwrap(), IngestOutcome::Created);
        }
        // Ten pins queued at once: the first three succeed, the rest hit the limit.
        let pins = ids[..10].iter().map(|c| m.pin(c));
        let results = futures::future::join_all(pins).await;
        let codes: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().map_or_else(|e| e.code().as_i32(), |()| 0))
            .collect();
        assert_eq!(
            codes,
            [0, 0, 0, 51012, 51012, 51012, 51012, 51012, 51012, 51012]
        );
        let pinned: Vec<_> = m
            .conversations()
            .into_iter()
            .filter(|c| c.is_pinned)
            .collect();
        assert_eq!(pinned.len(), 3);
        assert_eq!(m.total_unread(), 50);
    }

    #[test]
    fn opening_outside_a_tokio_runtime_is_an_error_not_a_panic() {
        let opened = futures::executor::block_on(ConversationManager::builder().in_memory().open());
        let err = opened.expect_err("no runtime");
        assert!(matches!(err, timconv::Error::NoRuntime));
        assert_eq!(err.code().as_i32(), 6013);
    }

    #[tokio::test]
    async fn a_clone_shares_state() {
        let m = manager().await;
        let m2 = m.clone();
        m2.ingest_message(&id("c2c_a"), incoming("1", 1))
            .await
            .unwrap();
        assert_eq!(m.len(), 1);
        let _: ConversationId = m.conversations()[0].id.clone();
    }
}
