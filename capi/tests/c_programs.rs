//! The C API from C and C++: programs under `tests/c/` compiled with the system compiler
//! (`CC` / `CXX`, else `cc` / `c++`), linked against the library cargo built for this test, and
//! run. Each program checks return codes, callback counts, threads and `user_data` itself and
//! exits non-zero on a failure; it prints a record per callback and event, whose JSON is checked
//! here.

mod support;

use serde_json::{Value, json};
use support::{Lang, Link, Program, Record, scratch_dir};

/// The seed document's `ConvInfo` example and draft, as the main crate's golden tests keep them.
const SEED_CONV_INFO: &str = include_str!("../../tests/fixtures/seed_conv_info.json");
const SEED_DRAFT: &str = include_str!("../../tests/fixtures/seed_draft.json");

const PINNED_BIT: u64 = 1 << 62;

fn value(text: &str) -> Value {
    serde_json::from_str(text).expect("the fixture is JSON")
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a ConvInfo array")
        .iter()
        .map(|c| {
            let kind = if c["conv_type"] == 1 { "c2c" } else { "group" };
            format!("{kind}_{}", c["conv_id"].as_str().expect("conv_id"))
        })
        .collect()
}

fn results(records: &[Record], label: &str) -> Vec<(String, i64)> {
    let json = support::only(records, "cb", label).json();
    json.as_array()
        .expect("an operation result array")
        .iter()
        .map(|r| {
            assert_eq!(
                r.as_object().map(|o| o.len()),
                Some(3),
                "{label}: the three keys of TIMConversationOperationResult"
            );
            (
                r["conversation_operation_result_conversation_id"]
                    .as_str()
                    .expect("id")
                    .to_owned(),
                r["conversation_operation_result_result_code"]
                    .as_i64()
                    .expect("code"),
            )
        })
        .collect()
}

/// Checks that `list` is in list order: pinned first, then by `conv_active_time`, descending.
fn assert_list_order(list: &[Value]) {
    let keys: Vec<(bool, u64)> = list
        .iter()
        .map(|c| {
            let active = c["conv_active_time"].as_u64().expect("conv_active_time");
            let pinned = c["conv_is_pinned"].as_bool().expect("conv_is_pinned");
            assert_eq!(pinned, active & PINNED_BIT != 0, "bit 62 is the pin");
            (pinned, active)
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(
        keys, sorted,
        "pinned first, then most recently active first"
    );
}

/// The checks of every example of the seed document, on the records of `seed.c` or `seed.cpp`.
fn check_seed(records: &[Record]) {
    let cb = |label: &str| support::only(records, "cb", label);
    for r in records.iter().filter(|r| r.kind == "cb") {
        assert_eq!(r.code, 0, "{}: {}", r.label, r.first);
        assert_eq!(r.first, "", "{}: desc is empty on success", r.label);
    }

    // The example message comes back with every key it had, unknown ones included.
    let seed = value(SEED_CONV_INFO);
    let fed = cb("feed_98826").json();
    assert_eq!(fed["conv_last_msg"], seed[0]["conv_last_msg"]);

    // TIMConvCreate, both examples: one ConvInfo object each.
    let c2c = cb("create_c2c").json();
    assert_eq!(
        (c2c["conv_id"].as_str(), c2c["conv_type"].as_u64()),
        (Some("Windows-02"), Some(1))
    );
    let group = cb("create_group").json();
    assert_eq!(
        (group["conv_id"].as_str(), group["conv_type"].as_u64()),
        (Some("Windows-Group-01"), Some(2))
    );
    assert_eq!(group["conv_is_has_lastmsg"], false);

    // TIMConvGetConvInfo: the example's result, key for key (the order key is ours).
    let info = cb("get_conv_info").json();
    let info = info.as_array().expect("an array");
    assert_eq!(info.len(), 1);
    for (key, expected) in seed[0].as_object().expect("an object") {
        if key == "conv_active_time" {
            assert!(info[0][key].as_u64().is_some_and(|t| t > 0));
        } else {
            assert_eq!(&info[0][key], expected, "{key}");
        }
    }
    assert_eq!(info[0]["conv_recv_opt"], 0);
    assert_eq!(info[0]["conv_mark_array"], json!([]));

    // TIMConvSetDraft / TIMConvCancelDraft: the draft comes back as given, and activates.
    let drafted = &cb("after_set_draft").json()[0];
    assert_eq!(drafted["conv_is_has_draft"], true);
    assert_eq!(drafted["conv_draft"], value(SEED_DRAFT));
    let before = info[0]["conv_active_time"].as_u64().expect("time");
    let after = drafted["conv_active_time"].as_u64().expect("time");
    assert!(after > before, "setting a draft activates the conversation");
    let cancelled = &cb("after_cancel_draft").json()[0];
    assert_eq!(cancelled["conv_is_has_draft"], false);
    assert!(cancelled.get("conv_draft").is_none());
    assert_eq!(
        cancelled["conv_active_time"], drafted["conv_active_time"],
        "cancelling does not"
    );

    // Custom data, pin and marks.
    let both = vec![
        ("c2c_conversation_id1".to_owned(), 0),
        ("group_conversation_id2".to_owned(), 0),
    ];
    assert_eq!(results(records, "custom_data"), both);
    assert_eq!(
        cb("pin").second,
        "",
        "the pin's json_param is an empty string"
    );
    assert_eq!(results(records, "mark"), both);

    // The document's total unread example: 4.
    assert_eq!(
        cb("total_unread").json(),
        json!({"conv_get_total_unread_message_count_result_unread_count": 4})
    );

    // Conversation groups.
    assert_eq!(results(records, "create_folder"), both);
    assert_eq!(cb("folder_list").json(), json!(["my_group_name"]));

    // The filter example: the starred group conversation in my_group_name.
    let page = cb("filter_list").json();
    let list = page["conversation_list_result_conv_list"]
        .as_array()
        .expect("conv list");
    assert_eq!(
        ids(&page["conversation_list_result_conv_list"]),
        ["group_conversation_id2"]
    );
    let g = &list[0];
    assert_eq!(g["conv_is_pinned"], true);
    assert_eq!(g["conv_mark_array"], json!([1, 2, 1u64 << 32]));
    assert_eq!(g["conv_custom_data"], "my_custom_data");
    assert_eq!(g["conv_conversation_group_array"], json!(["my_group_name"]));
    assert_eq!(g["conv_unread_num"], 2);
    assert_eq!(
        g["conv_group_at_info_array"],
        json!([{"conv_group_at_info_seq": 2, "conv_group_at_info_at_type": 1}])
    );
    assert_eq!(
        page["conversation_list_result_next_seq"],
        g["conv_active_time"]
    );
    assert_eq!(page["conversation_list_result_is_finished"], true);
    assert_eq!(page.as_object().map(|o| o.len()), Some(3));

    // Paging the whole list by 2: in order, each conversation once, next_seq the last one's
    // position, finished on the last page only.
    let pages: Vec<Value> = support::all(records, "cb", "page")
        .map(Record::json)
        .collect();
    assert_eq!(pages.len(), 3);
    let mut walked = Vec::new();
    for (n, page) in pages.iter().enumerate() {
        let list = page["conversation_list_result_conv_list"]
            .as_array()
            .expect("conv list");
        assert!(!list.is_empty() && list.len() <= 2);
        assert_eq!(
            page["conversation_list_result_next_seq"],
            list[list.len() - 1]["conv_active_time"]
        );
        assert_eq!(
            page["conversation_list_result_is_finished"],
            n == pages.len() - 1
        );
        walked.extend(list.iter().cloned());
    }
    assert_list_order(&walked);
    assert_eq!(
        ids(&Value::Array(walked)),
        [
            "group_conversation_id2",
            "c2c_98826",
            "group_Windows-Group-01",
            "c2c_Windows-02",
            "c2c_conversation_id1"
        ]
    );

    assert_eq!(
        cb("filter_unread").json(),
        json!({"conv_get_total_unread_message_count_result_unread_count": 2})
    );
    assert_eq!(results(records, "add_to_folder"), both);
    assert_eq!(results(records, "remove_from_folder"), both);
    assert_eq!(
        results(records, "create_old_name"),
        [("c2c_98826".to_owned(), 0)]
    );
    assert_eq!(cb("folder_list_after").json(), json!(["new_name"]));
    assert_eq!(
        cb("total_after_clean").json(),
        json!({"conv_get_total_unread_message_count_result_unread_count": 3})
    );
    let deleted = results(records, "delete_list");
    assert_eq!(
        deleted,
        [
            ("group_Windows-Group-01".to_owned(), 0),
            ("c2c_nobody".to_owned(), 6004)
        ]
    );

    // The list at the end.
    let list = cb("conv_list").json();
    assert_eq!(
        ids(&list),
        [
            "group_conversation_id2",
            "c2c_98826",
            "c2c_conversation_id1"
        ]
    );
    let list = list.as_array().expect("an array");
    assert_list_order(list);
    assert_eq!(list[1]["conv_unread_num"], 0, "cleaned");
    assert_eq!(list[1]["conv_c2c_read_timestamp"], 1_620_877_708);
    assert_eq!(
        list[1]["conv_conversation_group_array"],
        json!(["new_name"])
    );
    assert_eq!(list[2]["conv_conversation_group_array"], json!([]));
    assert_eq!(list[2]["conv_mark_array"], json!([2, 1u64 << 32]));
}

#[test]
fn seed_examples_from_c() {
    let program = Program::build("seed", Lang::C, &["seed.c"], Link::Shared);
    let records = program.run(&[scratch_dir("seed-c").as_os_str()]);
    check_seed(&records);
}

#[test]
fn seed_examples_from_cpp() {
    let program = Program::build("seed_cpp", Lang::Cxx, &["seed.cpp"], Link::Shared);
    let records = program.run(&[scratch_dir("seed-cpp").as_os_str()]);
    check_seed(&records);
}
