//! Golden JSON: the seed document's examples and the exact keys of every JSON shape (SPEC §2–§5).

use serde_json::{Map, Value, json};
use timconv::{
    Conversation, ConversationFilter, ConversationType, Cursor, CustomData, Draft, GroupAtInfo,
    GroupAtType, GroupType, MarkFlags, Message, ReceiveOption,
};

use crate::common::{id, incoming, manager};

/// The `ConvInfo` example of `TIMConvGetConvInfo`, exactly as in the seed document.
const SEED_CONV_INFO: &str = include_str!("../fixtures/seed_conv_info.json");
/// The draft example of `TIMConvSetDraft`, exactly as in the seed document.
const SEED_DRAFT: &str = include_str!("../fixtures/seed_draft.json");

const PINNED_BIT: u64 = 1 << 62;

fn seed_object() -> Map<String, Value> {
    let value: Value = serde_json::from_str(SEED_CONV_INFO).expect("the fixture is JSON");
    let mut array = match value {
        Value::Array(a) => a,
        other => panic!("the seed ConvInfo is an array, got {other}"),
    };
    assert_eq!(array.len(), 1, "the seed holds one conversation");
    match array.remove(0) {
        Value::Object(o) => o,
        other => panic!("the seed ConvInfo element is an object, got {other}"),
    }
}

fn seed_conversations() -> Vec<Conversation> {
    serde_json::from_str(SEED_CONV_INFO).expect("the seed ConvInfo decodes")
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[test]
fn seed_conv_info_decodes_into_typed_fields() {
    let conversations = seed_conversations();
    assert_eq!(conversations.len(), 1);
    let c = &conversations[0];
    assert_eq!(c.id, id("c2c_98826"));
    assert_eq!(c.id.kind(), ConversationType::C2c);
    assert_eq!(c.id.peer(), "98826");
    assert_eq!(c.unread_count, 1);
    assert_eq!(c.order_key, 5);
    assert!(!c.is_pinned);
    assert_eq!(c.draft, None);
    assert_eq!(c.sort_key(), 5);

    let last = c
        .last_message
        .as_ref()
        .expect("conv_is_has_lastmsg is true");
    assert_eq!(
        last.msg_id.as_deref(),
        Some("144115233874815003-1620877708-1038050731")
    );
    assert_eq!(last.seq, Some(15840));
    assert_eq!(last.rand, Some(1_038_050_731));
    assert_eq!(last.server_time, Some(1_620_877_708));
    assert_eq!(last.client_time, Some(1_620_877_708));
    assert_eq!(last.sender.as_deref(), Some("98826"));
    assert_eq!(last.conv_id.as_deref(), Some("98826"));
    assert_eq!(last.conv_type, Some(1));
    assert_eq!(last.is_from_self, Some(false));
    assert_eq!(last.is_read, Some(false));
    assert_eq!(last.status, Some(2));
    assert_eq!(
        last.elements,
        Some(vec![json!({"elem_type": 0, "text_elem_content": "11111"})])
    );
    assert_eq!(last.text_content(), Some("11111"));
    // Keys the model does not type are kept, with their values.
    assert_eq!(
        last.extra.get("message_unique_id").and_then(Value::as_u64),
        Some(6_961_616_747_713_488_299)
    );
    assert_eq!(last.extra.get("message_custom_int"), Some(&json!(0)));
    assert_eq!(last.extra.get("message_custom_str"), Some(&json!("")));
    assert_eq!(
        last.extra
            .get("message_sender_profile")
            .and_then(|p| p.get("user_profile_nick_name")),
        Some(&json!("test change8888"))
    );

    // Every other field has its documented default.
    assert_eq!(c.show_name, "");
    assert_eq!(c.face_url, "");
    assert_eq!(c.receive_option, ReceiveOption::Receive);
    assert_eq!(c.group_type, None);
    assert!(c.group_at_info.is_empty());
    assert!(c.marks.is_empty());
    assert!(c.custom_data.is_empty());
    assert!(c.folders.is_empty());
    assert_eq!((c.c2c_read_timestamp, c.group_read_sequence), (0, 0));
}

#[test]
fn seed_conv_info_reencodes_every_original_key_plus_spec_defaults() {
    let original = seed_object();
    let encoded = serde_json::to_value(seed_conversations()).expect("encodes");
    let encoded = match encoded {
        Value::Array(mut a) if a.len() == 1 => a.remove(0),
        other => panic!("one conversation encodes as a one-element array, got {other}"),
    };
    let encoded = encoded.as_object().expect("ConvInfo is an object");

    // Every key of the original, with the same value (the nested message compared whole).
    for (key, value) in &original {
        assert_eq!(encoded.get(key), Some(value), "key {key}");
    }
    let last_msg = &encoded["conv_last_msg"];
    for key in [
        "message_sender_profile",
        "message_unique_id",
        "message_custom_int",
        "message_custom_str",
        "message_is_online_msg",
        "message_is_peer_read",
        "message_platform",
        "message_priority",
    ] {
        assert_eq!(
            last_msg.get(key),
            original["conv_last_msg"].get(key),
            "{key}"
        );
        assert!(last_msg.get(key).is_some(), "{key} kept");
    }
    assert_eq!(
        last_msg["message_unique_id"].as_u64(),
        Some(6_961_616_747_713_488_299)
    );

    // The keys our encoder adds: SPEC §2 keys the seed lacks, at their defaults. `conv_draft`
    // (no draft) and `conv_group_type` (a C2C conversation has no group kind) stay absent, as
    // the seed itself leaves out `conv_draft` when `conv_is_has_draft` is false.
    let expected_extra = json!({
        "conv_show_name": "",
        "conv_face_url": "",
        "conv_recv_opt": 0,
        "conv_group_at_info_array": [],
        "conv_mark_array": [],
        "conv_custom_data": "",
        "conv_conversation_group_array": [],
        "conv_c2c_read_timestamp": 0,
        "conv_group_read_sequence": 0,
    });
    let extra: Map<String, Value> = encoded
        .iter()
        .filter(|(k, _)| !original.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(Value::Object(extra), expected_extra);
    assert!(!encoded.contains_key("conv_draft"));
    assert!(!encoded.contains_key("conv_group_type"));
}

#[test]
fn seed_conv_info_decode_of_encode_is_identity() {
    let conversations = seed_conversations();
    let json = serde_json::to_string(&conversations).expect("encodes");
    let back: Vec<Conversation> = serde_json::from_str(&json).expect("decodes");
    assert_eq!(back, conversations);
    // And the encoded form is a fixed point.
    assert_eq!(
        serde_json::to_value(&back).expect("encodes"),
        serde_json::from_str::<Value>(&json).expect("JSON")
    );
}

#[test]
fn seed_draft_round_trips_exactly() {
    let original: Value = serde_json::from_str(SEED_DRAFT).expect("the fixture is JSON");
    let draft: Draft = serde_json::from_str(SEED_DRAFT).expect("the seed draft decodes");
    assert_eq!(draft.edit_time, 1_551_271_429);
    assert_eq!(draft.user_define, "this is userdefine");
    assert_eq!(draft.msg.text_content(), Some("this draft"));
    assert_eq!(draft.msg.msg_id, None);
    assert!(draft.msg.extra.is_empty());
    assert_eq!(
        draft,
        Draft::new(
            Message::text("", "this draft"),
            "this is userdefine",
            1_551_271_429
        )
    );
    assert_eq!(serde_json::to_value(&draft).expect("encodes"), original);
}

#[tokio::test]
async fn seed_draft_set_through_the_manager_encodes_as_conv_draft() {
    let m = manager().await;
    let draft: Draft = serde_json::from_str(SEED_DRAFT).expect("decodes");
    let bob = id("c2c_bob");
    m.set_draft(&bob, draft).await.expect("set draft");
    let json = serde_json::to_value(m.get(&bob).expect("created by the draft")).expect("encodes");
    assert_eq!(json["conv_is_has_draft"], json!(true));
    assert_eq!(
        json["conv_draft"],
        serde_json::from_str::<Value>(SEED_DRAFT).expect("JSON")
    );
    m.cancel_draft(&bob).await.expect("cancel draft");
    let json = serde_json::to_value(m.get(&bob).expect("still there")).expect("encodes");
    assert_eq!(json["conv_is_has_draft"], json!(false));
    assert!(json.get("conv_draft").is_none());
}

#[test]
fn message_with_unknown_keys_round_trips_exactly() {
    let original = json!({
        "message_msg_id": "m-1",
        "message_seq": 18_446_744_073_709_551_615u64,
        "message_elem_array": [
            {"elem_type": 1, "image_elem_orig_path": "/x.png", "image_elem_level": 0}
        ],
        "message_unique_id": 6_961_616_747_713_488_299u64,
        "message_custom_int": -7,
        "message_custom_str": "custom",
        "message_cloud_custom_str": "",
        "message_priority": 1,
        "message_ratio": 1.5,
        "message_nullable": null,
        "message_sender_profile": {
            "user_profile_nick_name": "nick",
            "user_profile_custom_string_array": [{"k": "v"}]
        },
        "message_receipt_list": [1, 2, 3],
        "zzz_not_even_a_message_key": {"nested": [true, false]}
    });
    let message: Message = serde_json::from_value(original.clone()).expect("decodes");
    assert_eq!(message.msg_id.as_deref(), Some("m-1"));
    assert_eq!(message.seq, Some(u64::MAX));
    assert_eq!(message.extra.len(), 10);
    let encoded = serde_json::to_value(&message).expect("encodes");
    assert_eq!(encoded, original);
    let again: Message = serde_json::from_value(encoded).expect("decodes again");
    assert_eq!(again, message);
}

#[test]
fn absent_message_keys_stay_absent() {
    let empty = serde_json::to_value(Message::default()).expect("encodes");
    assert_eq!(empty, json!({}));

    let sparse = json!({"message_custom_int": 3});
    let message: Message = serde_json::from_value(sparse.clone()).expect("decodes");
    assert_eq!(message.msg_id, None);
    assert_eq!(message.seq, None);
    assert_eq!(message.elements, None);
    assert_eq!(serde_json::to_value(&message).expect("encodes"), sparse);

    let text = serde_json::to_value(Message::text("", "hi")).expect("encodes");
    assert_eq!(
        text,
        json!({"message_elem_array": [{"elem_type": 0, "text_elem_content": "hi"}]})
    );
}

/// SPEC §2: "decoding a message and encoding it again keeps every key it had". A known key
/// whose value is `null` (as JSON writers emit for unset fields) is such a key.
#[test]
fn known_message_keys_with_null_values_round_trip() {
    let original = json!({
        "message_msg_id": "m-null",
        "message_seq": null,
        "message_sender": null,
        "message_custom_str": null,
    });
    let message: Message = serde_json::from_value(original.clone()).expect("decodes");
    assert_eq!(message.seq, None);
    assert_eq!(serde_json::to_value(&message).expect("encodes"), original);
}

#[test]
fn filter_has_all_five_keys() {
    let full = ConversationFilter::new()
        .conv_type(ConversationType::Group)
        .mark(MarkFlags::STAR | MarkFlags::extension(63).expect("extension bit"))
        .folder("work")
        .has_unread(true)
        .has_at_info(false);
    let json = serde_json::to_value(&full).expect("encodes");
    assert_eq!(
        json,
        json!({
            "conversation_list_filter_conv_type": 2,
            "conversation_list_filter_mark_type": 1u64 | (1u64 << 63),
            "conversation_list_filter_conversation_group": "work",
            "conversation_list_filter_has_unread_count": true,
            "conversation_list_filter_has_group_at_info": false,
        })
    );
    let back: ConversationFilter = serde_json::from_value(json).expect("decodes");
    assert_eq!(back, full);
}

#[test]
fn filter_absent_key_differs_from_zero_value() {
    let none = ConversationFilter::new();
    assert_eq!(serde_json::to_value(&none).expect("encodes"), json!({}));
    let decoded_none: ConversationFilter = serde_json::from_str("{}").expect("decodes");
    assert_eq!(decoded_none, none);

    let zeros = ConversationFilter::new()
        .mark(MarkFlags::empty())
        .folder("")
        .has_unread(false)
        .has_at_info(false);
    let json = serde_json::to_value(&zeros).expect("encodes");
    assert_eq!(
        json,
        json!({
            "conversation_list_filter_mark_type": 0,
            "conversation_list_filter_conversation_group": "",
            "conversation_list_filter_has_unread_count": false,
            "conversation_list_filter_has_group_at_info": false,
        })
    );
    let back: ConversationFilter = serde_json::from_value(json).expect("decodes");
    assert_eq!(back.mark, Some(MarkFlags::empty()));
    assert_eq!(back.folder.as_deref(), Some(""));
    assert_eq!(back.has_unread, Some(false));
    assert_eq!(back.has_at_info, Some(false));
    assert_eq!(back.conv_type, None);
    assert_ne!(back, none);

    // Present zero values select, absent ones do not.
    let mut starred = Conversation::new(id("c2c_starred"));
    starred.marks = MarkFlags::STAR;
    starred.folders = vec!["work".into()];
    starred.unread_count = 2;
    let plain = Conversation::new(id("c2c_plain"));
    assert!(none.matches(&starred) && none.matches(&plain));
    let no_mark: ConversationFilter =
        serde_json::from_str(r#"{"conversation_list_filter_mark_type":0}"#).expect("decodes");
    assert!(!no_mark.matches(&starred) && no_mark.matches(&plain));
    let no_group: ConversationFilter =
        serde_json::from_str(r#"{"conversation_list_filter_conversation_group":""}"#)
            .expect("decodes");
    assert!(!no_group.matches(&starred) && no_group.matches(&plain));
}

#[tokio::test]
async fn page_serialises_with_list_result_keys() {
    let m = manager().await;
    for user in ["a", "b", "c"] {
        m.create_conversation(&id(&format!("c2c_{user}")))
            .await
            .expect("create");
    }
    m.pin(&id("c2c_a")).await.expect("pin");

    let first = m
        .list(&ConversationFilter::new(), Cursor::START, 2)
        .expect("list");
    let json = serde_json::to_value(&first).expect("encodes");
    assert_eq!(
        keys(&json),
        [
            "conversation_list_result_conv_list",
            "conversation_list_result_is_finished",
            "conversation_list_result_next_seq",
        ]
    );
    let list = json["conversation_list_result_conv_list"]
        .as_array()
        .expect("an array of ConvInfo");
    let ids: Vec<_> = list.iter().map(|c| c["conv_id"].clone()).collect();
    assert_eq!(ids, [json!("a"), json!("c")]);
    for (encoded, typed) in list.iter().zip(&first.conversations) {
        assert_eq!(encoded, &serde_json::to_value(typed).expect("encodes"));
    }
    assert_eq!(list[0]["conv_is_pinned"], json!(true));
    assert_eq!(
        json["conversation_list_result_next_seq"],
        json!(first.next_seq())
    );
    assert_eq!(first.next_seq(), first.conversations[1].sort_key());
    assert_ne!(first.next_seq(), 0);
    assert_eq!(json["conversation_list_result_is_finished"], json!(false));

    let second = m
        .list(
            &ConversationFilter::new(),
            Cursor::from_next_seq(first.next_seq()),
            2,
        )
        .expect("list");
    let json = serde_json::to_value(&second).expect("encodes");
    assert_eq!(
        json["conversation_list_result_conv_list"]
            .as_array()
            .map(|l| l.iter().map(|c| c["conv_id"].clone()).collect::<Vec<_>>()),
        Some(vec![json!("b")])
    );
    assert_eq!(json["conversation_list_result_is_finished"], json!(true));
    assert_eq!(
        json["conversation_list_result_next_seq"],
        json!(second.next_seq())
    );

    let empty = manager()
        .await
        .list(&ConversationFilter::new(), Cursor::START, 10)
        .expect("list");
    assert_eq!(
        serde_json::to_value(&empty).expect("encodes"),
        json!({
            "conversation_list_result_conv_list": [],
            "conversation_list_result_next_seq": 0,
            "conversation_list_result_is_finished": true,
        })
    );
}

#[tokio::test]
async fn outcome_serialises_with_operation_result_keys() {
    let m = manager().await;
    let here = id("c2c_here");
    let missing = id("c2c_missing");
    m.create_conversation(&here).await.expect("create");
    let outcomes = m
        .mark(&[here, missing], MarkFlags::STAR)
        .await
        .expect("the batch is accepted");
    let json = serde_json::to_value(&outcomes).expect("encodes");
    let items = json.as_array().expect("one result per conversation");
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(
            keys(item),
            [
                "conversation_operation_result_conversation_id",
                "conversation_operation_result_result_code",
                "conversation_operation_result_result_info",
            ]
        );
    }
    assert_eq!(
        items[0],
        json!({
            "conversation_operation_result_conversation_id": "c2c_here",
            "conversation_operation_result_result_code": 0,
            "conversation_operation_result_result_info": "",
        })
    );
    assert_eq!(
        items[1]["conversation_operation_result_conversation_id"],
        json!("c2c_missing")
    );
    assert_eq!(
        items[1]["conversation_operation_result_result_code"],
        json!(6004)
    );
    let info = items[1]["conversation_operation_result_result_info"]
        .as_str()
        .expect("a string");
    assert!(!info.is_empty(), "a failure says why");
}

#[tokio::test]
async fn mark_array_has_one_element_per_set_bit() {
    let m = manager().await;
    let c = id("c2c_marked");
    m.create_conversation(&c).await.expect("create");
    let marks = MarkFlags::STAR
        | MarkFlags::HIDE
        | MarkFlags::extension(32).expect("extension")
        | MarkFlags::extension(63).expect("extension");
    let outcomes = m.mark(std::slice::from_ref(&c), marks).await.expect("mark");
    assert!(outcomes.iter().all(|o| o.is_ok()));
    let conversation = m.get(&c).expect("exists");
    assert_eq!(conversation.marks.bits(), 0x9 | (1 << 32) | (1 << 63));
    let json = serde_json::to_value(&conversation).expect("encodes");
    assert_eq!(
        json["conv_mark_array"],
        json!([1u64, 8u64, 1u64 << 32, 1u64 << 63])
    );
    let back: Conversation = serde_json::from_value(json).expect("decodes");
    assert_eq!(back, *conversation);

    // Each standard mark alone.
    for (mark, bit) in [
        (MarkFlags::STAR, 1u64),
        (MarkFlags::UNREAD, 2),
        (MarkFlags::FOLD, 4),
        (MarkFlags::HIDE, 8),
    ] {
        let mut c = Conversation::new(id("c2c_one"));
        c.marks = mark;
        let json = serde_json::to_value(&c).expect("encodes");
        assert_eq!(json["conv_mark_array"], json!([bit]));
    }
}

#[tokio::test]
async fn active_time_carries_bit_62_when_pinned() {
    let m = manager().await;
    let pinned = id("c2c_pinned");
    let plain = id("group_plain");
    m.create_conversation(&pinned).await.expect("create");
    m.create_conversation(&plain).await.expect("create");
    m.pin(&pinned).await.expect("pin");

    let p = m.get(&pinned).expect("exists");
    assert!(p.is_pinned);
    assert_eq!(
        p.order_key & PINNED_BIT,
        0,
        "the typed order key has no bit"
    );
    let json = serde_json::to_value(&p).expect("encodes");
    assert_eq!(json["conv_active_time"], json!(p.order_key | PINNED_BIT));
    assert_eq!(json["conv_is_pinned"], json!(true));
    let back: Conversation = serde_json::from_value(json).expect("decodes");
    assert_eq!(back.order_key, p.order_key);
    assert_eq!(back, *p);

    let q = m.get(&plain).expect("exists");
    let json = serde_json::to_value(&q).expect("encodes");
    assert_eq!(json["conv_active_time"], json!(q.order_key));
    assert_eq!(
        json["conv_active_time"].as_u64().map(|t| t & PINNED_BIT),
        Some(0)
    );
    assert_eq!(json["conv_is_pinned"], json!(false));
    assert_eq!(json["conv_type"], json!(2));
    assert_eq!(json["conv_id"], json!("plain"));
}

#[tokio::test]
async fn group_at_info_array_keys() {
    let m = manager().await;
    let g = id("group_team");
    let at = |msg_id: &str, seq: u64, users: &[&str]| {
        let mut msg = incoming(msg_id, seq);
        msg.group_at_users = Some(users.iter().map(|u| (*u).to_owned()).collect());
        msg
    };
    m.ingest_message(&g, at("m10", 10, &["me"]))
        .await
        .expect("ingest");
    m.ingest_message(&g, at("m11", 11, &["__kImSDK_MesssageAtALL__"]))
        .await
        .expect("ingest");
    m.ingest_message(&g, at("m12", 12, &["__kImSDK_MesssageAtALL__", "me"]))
        .await
        .expect("ingest");
    m.ingest_message(&g, at("m13", 13, &["someone_else"]))
        .await
        .expect("ingest");

    let conversation = m.get(&g).expect("exists");
    let json = serde_json::to_value(&conversation).expect("encodes");
    assert_eq!(
        json["conv_group_at_info_array"],
        json!([
            {"conv_group_at_info_seq": 10, "conv_group_at_info_at_type": 1},
            {"conv_group_at_info_seq": 11, "conv_group_at_info_at_type": 2},
            {"conv_group_at_info_seq": 12, "conv_group_at_info_at_type": 3},
        ])
    );
    let back: Conversation = serde_json::from_value(json).expect("decodes");
    assert_eq!(back, *conversation);

    // An @ type this version does not know is kept.
    let info: GroupAtInfo = serde_json::from_value(
        json!({"conv_group_at_info_seq": 5, "conv_group_at_info_at_type": 7}),
    )
    .expect("decodes");
    assert_eq!(info.at_type, GroupAtType::Unknown(7));
    assert_eq!(
        serde_json::to_value(info).expect("encodes"),
        json!({"conv_group_at_info_seq": 5, "conv_group_at_info_at_type": 7})
    );
}

#[tokio::test]
async fn custom_data_round_trips_as_string_and_as_bytes() {
    let text: Conversation = serde_json::from_value(json!({
        "conv_id": "u", "conv_type": 1, "conv_custom_data": "my_custom_data"
    }))
    .expect("decodes");
    assert_eq!(text.custom_data.as_bytes(), b"my_custom_data");
    assert_eq!(
        serde_json::to_value(&text).expect("encodes")["conv_custom_data"],
        json!("my_custom_data")
    );

    let m = manager().await;
    let c = id("c2c_raw");
    m.create_conversation(&c).await.expect("create");
    let raw = vec![0xffu8, 0x00, 0x41, 0xc3];
    let outcomes = m
        .set_custom_data(std::slice::from_ref(&c), raw.clone())
        .await
        .expect("set");
    assert!(outcomes[0].is_ok());
    let conversation = m.get(&c).expect("exists");
    assert_eq!(conversation.custom_data, CustomData::new(raw.clone()));
    assert_eq!(conversation.custom_data.as_str(), None);
    let json = serde_json::to_value(&conversation).expect("encodes");
    assert_eq!(json["conv_custom_data"], json!([255, 0, 65, 195]));
    let back: Conversation = serde_json::from_value(json).expect("decodes");
    assert_eq!(back.custom_data.as_bytes(), raw.as_slice());
    assert_eq!(back, *conversation);

    // UTF-8 set through the manager is a string again; 256 bytes is allowed.
    let full = "é".repeat(128);
    m.set_custom_data(std::slice::from_ref(&c), full.as_str())
        .await
        .expect("set")
        .into_result()
        .expect("set");
    let json = serde_json::to_value(m.get(&c).expect("exists")).expect("encodes");
    assert_eq!(json["conv_custom_data"], json!(full));
}

#[test]
fn unknown_receive_option_and_group_type_are_kept() {
    let original = json!({
        "conv_id": "g1",
        "conv_type": 2,
        "conv_recv_opt": 9,
        "conv_group_type": 42,
    });
    let c: Conversation = serde_json::from_value(original).expect("decodes");
    assert_eq!(c.receive_option, ReceiveOption::Unknown(9));
    assert_eq!(c.group_type, Some(GroupType::Unknown(42)));
    let json = serde_json::to_value(&c).expect("encodes");
    assert_eq!(json["conv_recv_opt"], json!(9));
    assert_eq!(json["conv_group_type"], json!(42));
    let back: Conversation = serde_json::from_value(json).expect("decodes");
    assert_eq!(back, c);

    // Known values map to their variants and back.
    for (n, option) in [
        (0, ReceiveOption::Receive),
        (1, ReceiveOption::NotReceive),
        (2, ReceiveOption::NotNotify),
        (3, ReceiveOption::NotNotifyExceptAt),
        (4, ReceiveOption::NotReceiveExceptAt),
    ] {
        let c: Conversation =
            serde_json::from_value(json!({"conv_id": "u", "conv_type": 1, "conv_recv_opt": n}))
                .expect("decodes");
        assert_eq!(c.receive_option, option);
        assert_eq!(
            serde_json::to_value(&c).expect("encodes")["conv_recv_opt"],
            json!(n)
        );
    }
    for n in 0..=5u32 {
        let c: Conversation =
            serde_json::from_value(json!({"conv_id": "g", "conv_type": 2, "conv_group_type": n}))
                .expect("decodes");
        assert!(!matches!(c.group_type, Some(GroupType::Unknown(_)) | None));
        assert_eq!(
            serde_json::to_value(&c).expect("encodes")["conv_group_type"],
            json!(n)
        );
    }
}

#[tokio::test]
async fn manager_records_round_trip_through_json() {
    let m = manager().await;
    let g = id("group_g");
    m.ingest_message(&g, incoming("g1", 3))
        .await
        .expect("ingest");
    m.create_folder("work", std::slice::from_ref(&g))
        .await
        .expect("group")
        .into_result()
        .expect("group");
    m.mark(std::slice::from_ref(&g), MarkFlags::FOLD)
        .await
        .expect("mark")
        .into_result()
        .expect("mark");
    m.set_custom_data(std::slice::from_ref(&g), "cd")
        .await
        .expect("data")
        .into_result()
        .expect("data");
    m.pin(&g).await.expect("pin");
    let c = m.get(&g).expect("exists");
    let json = serde_json::to_value(&c).expect("encodes");
    assert_eq!(json["conv_conversation_group_array"], json!(["work"]));
    assert_eq!(json["conv_unread_num"], json!(1));
    assert_eq!(json["conv_is_has_lastmsg"], json!(true));
    assert_eq!(json["conv_last_msg"]["message_conv_id"], json!("g"));
    assert_eq!(json["conv_last_msg"]["message_conv_type"], json!(2));
    let back: Conversation = serde_json::from_value(json).expect("decodes");
    assert_eq!(back, *c);
}
