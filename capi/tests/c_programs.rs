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

#[test]
fn listeners_receive_every_event_in_its_c_form() {
    const FILTER: &str = "{ \"conversation_list_filter_conv_type\" : 1 }";
    let program = Program::build("listeners", Lang::C, &["listeners.c"], Link::Shared);
    let records = program.run(&[scratch_dir("listeners").as_os_str()]);
    let events: Vec<&Record> = records.iter().filter(|r| r.kind == "ev").collect();

    // Conversation events: code and the conversations they carry.
    let conv: Vec<(i64, Vec<String>, Value)> = events
        .iter()
        .filter(|r| r.label == "conv_event")
        .map(|r| (r.code, ids(&r.json()), r.json()))
        .collect();
    let added: Vec<&Vec<String>> = conv.iter().filter(|c| c.0 == 0).map(|c| &c.1).collect();
    assert_eq!(
        added,
        [
            &vec!["c2c_a".to_owned()],
            &vec!["group_g".to_owned()],
            &vec!["c2c_b".to_owned()]
        ]
    );
    assert_eq!(
        conv[0].2[0]["conv_unread_num"], 1,
        "the first event is the first message's"
    );
    let g = &conv
        .iter()
        .find(|c| c.0 == 0 && c.1 == ["group_g"])
        .expect("g added")
        .2[0];
    assert_eq!(
        g["conv_group_at_info_array"],
        json!([{"conv_group_at_info_seq": 1, "conv_group_at_info_at_type": 2}]),
        "@all"
    );
    let pins = conv
        .iter()
        .filter(|c| {
            c.0 == 2
                && c.1 == ["c2c_a"]
                && c.2[0]["conv_is_pinned"] == true
                && c.2[0]["conv_conversation_group_array"] == json!([])
        })
        .count();
    assert_eq!(
        pins, 1,
        "one update for the pin, none for pinning it again: {conv:#?}"
    );
    let deleted: Vec<&(i64, Vec<String>, Value)> = conv.iter().filter(|c| c.0 == 1).collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].1, ["c2c_a"]);
    assert!(
        conv.iter().all(|c| !c.1.contains(&"c2c_c".to_owned())),
        "no event after the listener was removed"
    );
    assert!(
        conv.iter().all(|c| (0..=2).contains(&c.0)),
        "no sync events without a server"
    );

    // Unread: every change of the total, and of the subscribed filter until unsubscribed,
    // with the filter's text as subscribed.
    let totals: Vec<i64> = events
        .iter()
        .filter(|r| r.label == "total")
        .map(|r| r.code)
        .collect();
    assert_eq!(totals, [1, 2, 3, 4, 2, 3, 4]);
    let by_filter: Vec<(i64, &str)> = events
        .iter()
        .filter(|r| r.label == "by_filter")
        .map(|r| (r.code, r.first.as_str()))
        .collect();
    assert_eq!(
        by_filter,
        [(1, FILTER), (2, FILTER), (3, FILTER), (1, FILTER)]
    );
    assert_eq!(
        support::only(&records, "cb", "total").json(),
        json!({"conv_get_total_unread_message_count_result_unread_count": 4})
    );

    // Folder events, in order, with the conversations they concern.
    let folders: Vec<(String, String, String)> = events
        .iter()
        .filter(|r| !matches!(r.label.as_str(), "conv_event" | "total" | "by_filter"))
        .map(|r| {
            let second = match r.label.as_str() {
                "group_created" | "added" | "removed" => ids(&r.json()).join(","),
                _ => r.second.clone(),
            };
            (r.label.clone(), r.first.clone(), second)
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("group_created", "work", "c2c_a,group_g"),
        ("added", "work", "c2c_b"),
        ("removed", "work", "c2c_b"),
        ("group_renamed", "work", "play"),
        ("removed", "play", "c2c_a"),
        ("group_deleted", "play", ""),
    ]
    .iter()
    .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
    .collect();
    assert_eq!(folders, expected);
}

/// Each call's callback comes after the listener calls for its change: between the callback
/// of one call and the next, the program sees exactly the events of the next call's change.
/// The changes are large (100-conversation updates), so that events encoded late would show.
#[test]
fn a_callback_comes_after_the_events_of_its_change() {
    let program = Program::build("event_order", Lang::C, &["event_order.c"], Link::Shared);
    let records = program.run(&[scratch_dir("event_order").as_os_str()]);
    let mut since_last_callback: Vec<(String, i64, String)> = Vec::new();
    let mut checked = 0;
    for record in &records {
        if record.kind == "ev" {
            since_last_callback.push((record.label.clone(), record.code, record.first.clone()));
            continue;
        }
        let events = std::mem::take(&mut since_last_callback);
        let expected: Vec<(String, i64, String)> =
            if let Some(round) = record.label.strip_prefix("create_") {
                vec![
                    ("conv_event".to_owned(), 2, "100".to_owned()),
                    ("group_created".to_owned(), 100, format!("f{round}")),
                ]
            } else if let Some(round) = record.label.strip_prefix("delete_") {
                vec![
                    ("conv_event".to_owned(), 2, "100".to_owned()),
                    ("group_deleted".to_owned(), 0, format!("f{round}")),
                ]
            } else if record.label.starts_with("feed_") {
                vec![("conv_event".to_owned(), 0, "1".to_owned())]
            } else {
                continue;
            };
        assert_eq!(
            events, expected,
            "the events before {}'s callback",
            record.label
        );
        checked += 1;
    }
    assert_eq!(checked, 140, "every feed, create and delete was checked");
    assert!(since_last_callback.is_empty(), "{since_last_callback:?}");
}

#[test]
fn init_and_login_again_find_everything_as_it_was() {
    let program = Program::build("persist", Lang::C, &["persist.c"], Link::Shared);
    let dir = scratch_dir("persist");
    let written = program.run(&["write".as_ref(), dir.as_os_str()]);
    let read = program.run(&["read".as_ref(), dir.as_os_str()]);
    for label in ["state_list", "state_folders", "state_total"] {
        assert_eq!(
            support::only(&read, "cb", label).json(),
            support::only(&written, "cb", label).json(),
            "{label}"
        );
    }
    let list = support::only(&read, "cb", "state_list").json();
    assert_eq!(ids(&list), ["group_g", "c2c_b", "c2c_a"]);
    assert_eq!(
        list[0]["conv_group_at_info_array"][0]["conv_group_at_info_at_type"],
        1
    );
    assert_eq!(list[1]["conv_draft"]["draft_user_define"], "later");
    assert_eq!(list[1]["conv_custom_data"], "kept");
    assert_eq!(list[2]["conv_mark_array"], json!([1, 1u64 << 40]));
    assert_eq!(list[2]["conv_conversation_group_array"], json!(["work"]));
    assert_eq!(
        support::only(&read, "cb", "state_folders").json(),
        json!(["work"])
    );

    // One store per user, under a directory name that cannot climb out of the data directory.
    let app = dir.join("1400000000");
    assert!(app.join("me/conversations.db").is_file());
    assert!(
        app.join("%2E%2E%2Fevil%2Fus%20er/conversations.db")
            .is_file()
    );
    assert_eq!(
        std::fs::read_dir(&app).expect("the app directory").count(),
        2
    );
    assert_eq!(
        ids(&support::only(&read, "cb", "odd_list").json()),
        ["c2c_z"]
    );
}

#[test]
fn calls_from_threads_and_uninit_racing_them() {
    let program = Program::build("threads", Lang::C, &["threads.c"], Link::Shared);
    program.run(&[scratch_dir("threads").as_os_str()]);
}

#[test]
fn bad_input_gets_its_code_and_crashes_nothing() {
    let program = Program::build("bad_input", Lang::C, &["bad_input.c"], Link::Shared);
    program.run(&[scratch_dir("bad_input").as_os_str()]);
}

#[test]
fn headers_compile_alone_as_c11_and_cxx17() {
    let dir = scratch_dir("headers");
    let headers = [
        "TIMCloud.h",
        "TIMCloudDef.h",
        "TIMErrorCode.h",
        "TIMManager.h",
        "TIMMessageManager.h",
        "TIMConversationManager.h",
        "TIMConvExt.h",
    ];
    for header in headers {
        for lang in [Lang::C, Lang::Cxx] {
            let source = dir.join(match lang {
                Lang::C => format!("{header}.c"),
                Lang::Cxx => format!("{header}.cpp"),
            });
            // Included twice: the include guards must hold.
            std::fs::write(
                &source,
                format!("#include \"{header}\"\n#include \"{header}\"\n"),
            )
            .expect("a source");
            let output = support::compiler(lang)
                .args(support::strict_flags(lang))
                .arg("-fsyntax-only")
                .arg("-I")
                .arg(support::crate_dir().join("include"))
                .arg(&source)
                .output()
                .expect("the compiler runs");
            assert!(
                output.status.success(),
                "{header} as {lang:?}:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

#[test]
fn every_prototype_name_and_value_is_the_originals_in_c_and_cpp() {
    let c = Program::build("signatures", Lang::C, &["signatures.c"], Link::Shared);
    assert!(c.output(&[]).contains("115 passed, 0 failed"));
    let cxx = Program::build_with(
        "signatures_cpp",
        Lang::Cxx,
        &["signatures.c"],
        Link::Shared,
        &["-x", "c++"],
    );
    assert!(cxx.output(&[]).contains("115 passed, 0 failed"));
}

/// The C example of the README: the file is the README's code block, word for word, and it
/// runs, linked against the shared library as the README says and against the static one.
#[test]
fn the_readme_example_is_the_example_and_runs() {
    let example = std::fs::read_to_string(support::crate_dir().join("examples/hello.c"))
        .expect("examples/hello.c");
    for readme in ["README.md", "../README.md"] {
        let text = std::fs::read_to_string(support::crate_dir().join(readme)).expect("a README");
        assert!(
            text.contains(&format!("```c\n{example}```")),
            "{readme} shows examples/hello.c as it is"
        );
    }
    for (name, link) in [("hello", Link::Shared), ("hello_static", Link::Static)] {
        let program = Program::build(name, Lang::C, &["examples/hello.c"], link);
        let dir = scratch_dir(name);
        let out = program.output(&[dir.as_os_str()]);
        let lines: Vec<&str> = out.lines().collect();
        // Callbacks come in call order; the listener's calls come in the order of the changes,
        // between them wherever the library hands them on.
        let (listener, callbacks): (Vec<&str>, Vec<&str>) = lines
            .iter()
            .map(|l| l.split(" {").next().unwrap_or(l).trim_end())
            .partition(|l| l.starts_with("total unread is now"));
        assert_eq!(
            callbacks,
            [
                "login: code 0",
                "feed: code 0",
                "list: code 0",
                "clean: code 0",
                "total: code 0",
                "logout: code 0"
            ],
            "{out}"
        );
        assert_eq!(
            listener,
            ["total unread is now 1", "total unread is now 0"],
            "{out}"
        );
        assert!(out.contains("\"conv_id\":\"bob\""));
        assert!(out.contains("{\"conv_get_total_unread_message_count_result_unread_count\":0}"));
        assert!(dir.join("1400000000/alice/conversations.db").is_file());
    }
}

/// The C programs again, instrumented with AddressSanitizer (and its leak checker) and linked
/// against the static library: a use after free, an overflow or a leak on either side of the
/// boundary fails them.
#[test]
fn c_programs_under_address_sanitizer() {
    let flags = ["-fsanitize=address", "-fno-omit-frame-pointer"];
    if !support::compiler_accepts(Lang::C, &flags) {
        eprintln!(
            "SKIPPED: the C compiler cannot build with AddressSanitizer (-fsanitize=address)"
        );
        return;
    }
    let env = [(
        "ASAN_OPTIONS",
        "detect_leaks=1:abort_on_error=0:halt_on_error=1",
    )];
    for (name, source) in [
        ("seed_asan", "seed.c"),
        ("listeners_asan", "listeners.c"),
        ("bad_input_asan", "bad_input.c"),
        ("threads_asan", "threads.c"),
    ] {
        let program = Program::build_with(name, Lang::C, &[source], Link::Static, &flags);
        let records = program.run_with_env(&[scratch_dir(name).as_os_str()], &env);
        if name == "seed_asan" {
            check_seed(&records);
        }
    }
}
