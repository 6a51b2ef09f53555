//! Conversation settings (receive option, group type): audio-video chat rooms never count,
//! settings can come before the conversation and outlive a delete.

use timconv::{
    ConversationFilter, ConversationManager, Cursor, Event, GroupType, MessageHistory,
    ReceiveOption,
};

use crate::common::{TempDir, id, incoming, manager, published, updated_ids};

#[tokio::test]
async fn an_av_chat_room_keeps_its_own_count_at_zero() {
    let m = manager().await;
    let room = id("group_live");
    m.set_group_type(&room, GroupType::AvChatRoom)
        .await
        .unwrap();
    for n in 1..=10 {
        m.ingest_message(&room, incoming(&format!("l{n}"), n))
            .await
            .unwrap();
    }
    let conv = m.get(&room).unwrap();
    assert_eq!(conv.unread_count, 0);
    assert_eq!(conv.group_type, Some(GroupType::AvChatRoom));
    assert_eq!(m.total_unread(), 0);
    let unread = m
        .list(
            &ConversationFilter::new().has_unread(true),
            Cursor::START,
            10,
        )
        .unwrap();
    assert!(unread.conversations.is_empty());
    assert_eq!(m.unread_by_filter(&ConversationFilter::new()).unwrap(), 0);
    // Its last message still shows and activates it.
    assert_eq!(
        m.get(&room)
            .unwrap()
            .last_message
            .as_ref()
            .unwrap()
            .msg_id
            .as_deref(),
        Some("l10")
    );
}

#[tokio::test]
async fn settings_before_the_conversation_exists_apply_when_it_appears() {
    let m = manager().await;
    let muted = id("group_muted");
    let mut events = m.events();
    m.set_receive_option(&muted, ReceiveOption::NotNotify)
        .await
        .unwrap();
    m.set_group_type(&muted, GroupType::Private).await.unwrap();
    assert!(m.get(&muted).is_none(), "a setting creates no conversation");
    assert!(m.is_empty());
    assert!(
        published(&mut events).is_empty(),
        "nothing in the list changed"
    );

    m.ingest_message(&muted, incoming("m1", 1)).await.unwrap();
    let conv = m.get(&muted).unwrap();
    assert_eq!(conv.receive_option, ReceiveOption::NotNotify);
    assert_eq!(conv.group_type, Some(GroupType::Private));
    assert_eq!(conv.unread_count, 1);
    assert_eq!(
        m.total_unread(),
        0,
        "a muted group's first message does not count"
    );
}

#[tokio::test]
async fn settings_kept_before_existence_survive_a_restart() {
    let dir = TempDir::new("lifecycle-kept");
    let path = dir.path("conversations.db");
    let muted = id("group_muted");
    {
        let m = ConversationManager::open(&path, "me").await.unwrap();
        m.set_receive_option(&muted, ReceiveOption::NotReceive)
            .await
            .unwrap();
        m.set_group_type(&muted, GroupType::AvChatRoom)
            .await
            .unwrap();
        m.shutdown().await.unwrap();
    }
    let m = ConversationManager::open(&path, "me").await.unwrap();
    assert!(m.is_empty());
    m.ingest_message(&muted, incoming("m1", 1)).await.unwrap();
    let conv = m.get(&muted).unwrap();
    assert_eq!(
        (conv.receive_option, conv.group_type, conv.unread_count),
        (ReceiveOption::NotReceive, Some(GroupType::AvChatRoom), 0)
    );
    m.shutdown().await.unwrap();
}

#[tokio::test]
async fn delete_and_recreate_keeps_the_receive_option_and_group_type() {
    let m = manager().await;
    let muted = id("group_muted");
    let room = id("group_room");
    m.ingest_message(&muted, incoming("m1", 1)).await.unwrap();
    m.ingest_message(&room, incoming("r1", 1)).await.unwrap();
    m.set_receive_option(&muted, ReceiveOption::NotNotify)
        .await
        .unwrap();
    m.set_group_type(&room, GroupType::AvChatRoom)
        .await
        .unwrap();
    m.delete_many([&muted, &room], MessageHistory::Keep)
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert!(m.is_empty());

    m.ingest_message(&muted, incoming("m2", 2)).await.unwrap();
    m.ingest_message(&room, incoming("r2", 2)).await.unwrap();
    let back = m.get(&muted).unwrap();
    assert_eq!(back.receive_option, ReceiveOption::NotNotify);
    assert_eq!(back.unread_count, 1);
    let room_back = m.get(&room).unwrap();
    assert_eq!(room_back.group_type, Some(GroupType::AvChatRoom));
    assert_eq!(room_back.unread_count, 0);
    assert_eq!(
        m.total_unread(),
        0,
        "the muted group does not count when it comes back"
    );
}

#[tokio::test]
async fn a_setting_on_a_live_conversation_is_one_update() {
    let m = manager().await;
    let team = id("group_team");
    m.ingest_message(&team, incoming("t1", 1)).await.unwrap();
    let mut events = m.events();
    m.set_receive_option(&team, ReceiveOption::NotNotify)
        .await
        .unwrap();
    let seen = published(&mut events);
    assert_eq!(updated_ids(&seen), ["group_team"], "{seen:?}");
    assert!(seen.contains(&Event::TotalUnreadChanged(0)), "{seen:?}");
    // The same setting again changes nothing and publishes nothing.
    m.set_receive_option(&team, ReceiveOption::NotNotify)
        .await
        .unwrap();
    assert!(published(&mut events).is_empty());
}
