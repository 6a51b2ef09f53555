//! A property harness over every JSON entry point of the C API, called directly through its
//! `extern "C"` functions: arbitrary text and arbitrary JSON never crash anything; text that is
//! not UTF-8 gets `TIM_ERR_PARAM`, text that is not JSON or JSON not of the documented shape gets
//! `TIM_ERR_JSON`, and every accepted call gets exactly one callback with a code of its own.

use std::collections::HashMap;
use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Map, Value};
use timconv_c::*;

/// Callbacks received, by call number.
type Received = HashMap<usize, Vec<(i32, String)>>;
static RECEIVED: Mutex<Option<Received>> = Mutex::new(None);
static ARRIVED: Condvar = Condvar::new();
static NEXT_CALL: AtomicUsize = AtomicUsize::new(1);

unsafe extern "C" fn on_result(
    code: i32,
    _desc: *const c_char,
    json: *const c_char,
    user_data: *const c_void,
) {
    // SAFETY: the library hands a valid NUL-terminated string, alive during the callback.
    let json = unsafe { std::ffi::CStr::from_ptr(json) }
        .to_string_lossy()
        .into_owned();
    let mut received = RECEIVED.lock().unwrap_or_else(|e| e.into_inner());
    received
        .get_or_insert_with(HashMap::new)
        .entry(user_data as usize)
        .or_default()
        .push((code, json));
    ARRIVED.notify_all();
}

/// Initialises and logs in once for the whole test binary.
fn sdk() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("capi-props");
        let _ = std::fs::remove_dir_all(&dir);
        let config = c(&serde_json::json!({"sdk_config_config_file_path": dir}).to_string());
        // SAFETY: a valid C string.
        assert_eq!(unsafe { TIMInit(7, config.as_ptr()) }, TIM_SUCC);
        let (user, sig) = (c("prop"), c(""));
        let call = next_call();
        // SAFETY: valid C strings and callback.
        let ret = unsafe { TIMLogin(user.as_ptr(), sig.as_ptr(), Some(on_result), call) };
        assert_eq!(ret, TIM_SUCC);
        assert_eq!(wait(call).0, 0, "logged in");
        for (id, kind) in [("a", 1), ("g", 2)] {
            let message = c(&format!(
                r#"{{"message_conv_id":"{id}","message_conv_type":{kind},"message_msg_id":"{id}1","message_seq":1,"message_server_time":1}}"#
            ));
            let call = next_call();
            // SAFETY: valid C string and callback.
            let ret = unsafe { TIMConvExtFeedMessage(message.as_ptr(), Some(on_result), call) };
            assert_eq!(ret, TIM_SUCC);
            assert_eq!(wait(call).0, 0);
        }
        dir
    })
}

fn c(text: &str) -> CString {
    CString::new(text).expect("no NUL")
}

fn next_call() -> *const c_void {
    NEXT_CALL.fetch_add(1, Ordering::SeqCst) as *const c_void
}

/// Waits for the one callback of `call`.
fn wait(call: *const c_void) -> (i32, String) {
    let key = call as usize;
    let mut received = RECEIVED.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(got) = received.get_or_insert_with(HashMap::new).get(&key) {
            assert_eq!(got.len(), 1, "one callback per call");
            return got[0].clone();
        }
        let (next, timeout) = ARRIVED
            .wait_timeout(received, Duration::from_secs(60))
            .unwrap_or_else(|e| e.into_inner());
        received = next;
        assert!(!timeout.timed_out(), "a callback within 60 s");
    }
}

/// The codes an accepted call may report.
const CODES: &[i32] = &[0, 6004, 6017, 51006, 51008, 51009, 51010, 51011, 51012];

/// Makes a call with a fresh user_data and checks its outcome: `expected` returned, and for an
/// accepted call one callback with a known code.
fn call(
    expected: c_int,
    f: impl FnOnce(TIMCommCallback, *const c_void) -> c_int,
) -> Result<(), TestCaseError> {
    sdk();
    let user_data = next_call();
    let ret = f(Some(on_result), user_data);
    prop_assert_eq!(ret, expected);
    if ret == TIM_SUCC {
        let (code, json) = wait(user_data);
        prop_assert!(CODES.contains(&code), "code {}", code);
        if code == 0 && !json.is_empty() {
            prop_assert!(
                serde_json::from_str::<Value>(&json).is_ok(),
                "the result is JSON"
            );
        }
    }
    Ok(())
}

/// The return value for a JSON parameter given as raw bytes: `TIM_ERR_PARAM` unless UTF-8,
/// then `TIM_ERR_JSON` unless JSON for which `shape_ok` holds.
fn expected_for(bytes: &[u8], shape_ok: impl Fn(&Value) -> bool) -> c_int {
    match std::str::from_utf8(bytes) {
        Err(_) => TIM_ERR_PARAM,
        Ok(text) => match serde_json::from_str::<Value>(text) {
            Ok(value) if shape_ok(&value) => TIM_SUCC,
            _ => TIM_ERR_JSON,
        },
    }
}

fn id_array(v: &Value) -> bool {
    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
}

fn field_ok(v: &Map<String, Value>, key: &str, ok: impl Fn(&Value) -> bool) -> bool {
    v.get(key).is_none_or(|x| x.is_null() || ok(x))
}

fn conv_type(v: &Value) -> bool {
    v.as_u64().is_some_and(|t| (1..=3).contains(&t))
}

fn filter(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        field_ok(o, "conversation_list_filter_conv_type", conv_type)
            && field_ok(o, "conversation_list_filter_mark_type", |x| x.is_u64())
            && field_ok(
                o,
                "conversation_list_filter_conversation_group",
                Value::is_string,
            )
            && field_ok(
                o,
                "conversation_list_filter_has_unread_count",
                Value::is_boolean,
            )
            && field_ok(
                o,
                "conversation_list_filter_has_group_at_info",
                Value::is_boolean,
            )
    })
}

fn get_conv_info(v: &Value) -> bool {
    v.as_array().is_some_and(|a| {
        a.iter().all(|e| {
            e.get("get_conversation_list_param_conv_id")
                .is_some_and(Value::is_string)
                && e.get("get_conversation_list_param_conv_type")
                    .is_some_and(conv_type)
        })
    })
}

fn draft(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        o.get("draft_msg").is_none_or(Value::is_object)
            && o.get("draft_user_define").is_none_or(Value::is_string)
            && o.get("draft_edit_time").is_none_or(Value::is_u64)
    })
}

fn sdk_config(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        field_ok(o, "sdk_config_config_file_path", Value::is_string)
            && field_ok(o, "sdk_config_log_file_path", Value::is_string)
            && field_ok(o, "sdk_config_main_thread_id", Value::is_u64)
    })
}

const KEYS: &[&str] = &[
    "conversation_list_filter_conv_type",
    "conversation_list_filter_mark_type",
    "conversation_list_filter_conversation_group",
    "conversation_list_filter_has_unread_count",
    "conversation_list_filter_has_group_at_info",
    "get_conversation_list_param_conv_id",
    "get_conversation_list_param_conv_type",
    "draft_msg",
    "draft_user_define",
    "draft_edit_time",
    "message_conv_id",
    "message_conv_type",
    "message_msg_id",
    "message_seq",
    "message_server_time",
    "message_is_from_self",
    "message_group_at_user_array",
    "sdk_config_config_file_path",
    "sdk_config_log_file_path",
    "sdk_config_main_thread_id",
];

/// Arbitrary JSON, biased toward the keys and values the entry points read.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u64..=4).prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z0-9_ ]{0,10}".prop_map(Value::from),
        prop::sample::select(vec![
            "c2c_a", "group_g", "c2c_", "bob", "", "c2c", "group", "\u{0}x"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let key = prop_oneof![
            prop::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
            "[a-z_]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Conversation ID arrays, mostly well formed.
fn id_arrays() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        prop::sample::select(vec!["c2c_a", "group_g", "c2c_b", "group_", "bob", ""])
            .prop_map(str::to_owned),
        "(c2c|group)_[a-z]{1,3}",
    ];
    prop_oneof![
        4 => prop::collection::vec(id.prop_map(Value::from), 0..8).prop_map(Value::Array),
        1 => prop::collection::vec(json(), 0..3).prop_map(Value::Array),
    ]
}

/// Objects of `keys`, each value mostly of a plausible type.
fn objects_of(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        3 => (0u64..=4).prop_map(Value::from),
        2 => any::<bool>().prop_map(Value::from),
        2 => prop::sample::select(vec!["", "work", "c2c_a", "a"]).prop_map(Value::from),
        1 => Just(Value::Null),
        1 => any::<u64>().prop_map(Value::from),
        1 => json(),
    ];
    prop::collection::vec(
        (prop::sample::select(keys.to_vec()), value),
        0..keys.len() + 1,
    )
    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

const FILTER_KEYS: &[&str] = &[
    "conversation_list_filter_conv_type",
    "conversation_list_filter_mark_type",
    "conversation_list_filter_conversation_group",
    "conversation_list_filter_has_unread_count",
    "conversation_list_filter_has_group_at_info",
];
const PARAM_KEYS: &[&str] = &[
    "get_conversation_list_param_conv_id",
    "get_conversation_list_param_conv_type",
];
const DRAFT_KEYS: &[&str] = &["draft_msg", "draft_user_define", "draft_edit_time"];

/// Arbitrary text parameters: bytes (no NUL; a C string cannot hold one), often valid JSON.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(1u8..=255, 0..64),
        json().prop_map(|v| v.to_string().into_bytes()),
        "\\PC{0,32}".prop_map(String::into_bytes),
    ]
    .prop_map(|mut b| {
        b.retain(|&x| x != 0);
        b
    })
}

fn cstring(bytes: &[u8]) -> CString {
    CString::new(bytes.to_vec()).expect("NULs were removed")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn conversation_id_arrays(
        input in prop_oneof![bytes(), id_arrays().prop_map(|v| v.to_string().into_bytes())],
        mark in any::<u64>(),
        flag in any::<bool>(),
    ) {
        let expected = expected_for(&input, id_array);
        let ids = cstring(&input);
        let name = c("props");
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvDeleteConversationList(ids.as_ptr(), flag, cb, ud) })?;
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvSetConversationCustomData(ids.as_ptr(), name.as_ptr(), cb, ud) })?;
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvMarkConversation(ids.as_ptr(), mark, flag, cb, ud) })?;
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvCreateConversationGroup(name.as_ptr(), ids.as_ptr(), cb, ud) })?;
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvAddConversationsToGroup(name.as_ptr(), ids.as_ptr(), cb, ud) })?;
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvDeleteConversationsFromGroup(name.as_ptr(), ids.as_ptr(), cb, ud) })?;
        // SAFETY: as above.
        call(TIM_SUCC, |cb, ud| unsafe { TIMConvDeleteConversationGroup(name.as_ptr(), cb, ud) })?;
    }

    #[test]
    fn conversation_id_arrays_as_json(value in prop_oneof![json(), id_arrays()]) {
        let expected = if id_array(&value) { TIM_SUCC } else { TIM_ERR_JSON };
        let ids = c(&value.to_string());
        // SAFETY: valid C string and callback.
        call(expected, |cb, ud| unsafe { TIMConvMarkConversation(ids.as_ptr(), 1 << 32, true, cb, ud) })?;
    }

    #[test]
    fn filters(input in bytes(), next_seq in any::<u64>(), count in any::<u32>()) {
        let expected = expected_for(&input, filter);
        let f = cstring(&input);
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvGetConversationListByFilter(f.as_ptr(), next_seq, count % 200, cb, ud) })?;
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvGetUnreadMessageCountByFilter(f.as_ptr(), cb, ud) })?;
        // SAFETY: as above.
        let subscribed = unsafe { TIMConvSubscribeUnreadMessageCountByFilter(f.as_ptr()) };
        let allowed = subscribed == expected || (expected == TIM_SUCC && subscribed == TIM_ERR_PARAM);
        prop_assert!(allowed, "subscribe returned {}", subscribed);
        // SAFETY: as above.
        let unsubscribed = unsafe { TIMConvUnsubscribeUnreadMessageCountByFilter(f.as_ptr()) };
        prop_assert_eq!(unsubscribed, expected);
    }

    #[test]
    fn filters_as_json(value in prop_oneof![json(), objects_of(FILTER_KEYS)]) {
        let expected = if filter(&value) { TIM_SUCC } else { TIM_ERR_JSON };
        let f = c(&value.to_string());
        // SAFETY: valid C string and callback.
        call(expected, |cb, ud| unsafe { TIMConvGetConversationListByFilter(f.as_ptr(), 0, 10, cb, ud) })?;
    }

    #[test]
    fn get_conv_info_params(
        input in bytes(),
        value in prop_oneof![json(), prop::collection::vec(objects_of(PARAM_KEYS), 0..4).prop_map(Value::Array)],
    ) {
        for text in [input, value.to_string().into_bytes()] {
            let expected = expected_for(&text, get_conv_info);
            let p = cstring(&text);
            // SAFETY: valid C string and callback.
            call(expected, |cb, ud| unsafe { TIMConvGetConvInfo(p.as_ptr(), cb, ud) })?;
        }
    }

    #[test]
    fn drafts(input in bytes(), value in prop_oneof![json(), objects_of(DRAFT_KEYS)], kind in 0i32..4) {
        for text in [input, value.to_string().into_bytes()] {
            let expected = expected_for(&text, draft);
            let d = cstring(&text);
            let id = c("drafted");
            // SAFETY: valid C strings.
            let ret = unsafe { TIMConvSetDraft(id.as_ptr(), kind, d.as_ptr()) };
            let refused_type = !(1..=2).contains(&kind);
            let want = if expected == TIM_SUCC && refused_type { TIM_ERR_PARAM } else { expected };
            prop_assert_eq!(ret, want);
        }
    }

    #[test]
    fn fed_messages(input in bytes(), value in json()) {
        for text in [input, value.to_string().into_bytes()] {
            let expected = expected_for(&text, Value::is_object);
            let m = cstring(&text);
            // SAFETY: valid C string and callback.
            call(expected, |cb, ud| unsafe { TIMConvExtFeedMessage(m.as_ptr(), cb, ud) })?;
        }
    }

    #[test]
    fn sdk_configs(input in bytes(), value in json()) {
        let dir = sdk().to_string_lossy().into_owned();
        for text in [input, value.to_string().into_bytes()] {
            let shape = expected_for(&text, sdk_config);
            let same_dir = serde_json::from_slice::<Value>(&text)
                .ok()
                .and_then(|v| v.get("sdk_config_config_file_path").and_then(Value::as_str).map(str::to_owned))
                .is_some_and(|p| p == dir);
            // Initialised already: the same directory is TIM_SUCC, another TIM_ERR_PARAM.
            // "" means the defaults, whose directory is not this one.
            let expected = match shape {
                _ if text.is_empty() => TIM_ERR_PARAM,
                TIM_SUCC if same_dir => TIM_SUCC,
                TIM_SUCC => TIM_ERR_PARAM,
                other => other,
            };
            let config = cstring(&text);
            // SAFETY: a valid C string.
            prop_assert_eq!(unsafe { TIMInit(7, config.as_ptr()) }, expected);
        }
    }

    #[test]
    fn text_parameters(input in bytes(), time in any::<u64>(), seq in any::<u64>(), kind in -1i32..5, pin in any::<bool>()) {
        let expected = if std::str::from_utf8(&input).is_ok() { TIM_SUCC } else { TIM_ERR_PARAM };
        let t = cstring(&input);
        let other = c("c2c_a");
        let other_ids = c(r#"["c2c_a"]"#);
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvCreate(t.as_ptr(), kind, cb, ud) })?;
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvPinConversation(t.as_ptr(), kind, pin, cb, ud) })?;
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvCleanConversationUnreadMessageCount(t.as_ptr(), time, seq, cb, ud) })?;
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvRenameConversationGroup(t.as_ptr(), other.as_ptr(), cb, ud) })?;
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvSetConversationCustomData(other_ids.as_ptr(), t.as_ptr(), cb, ud) })?;
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvDeleteConversationGroup(t.as_ptr(), cb, ud) })?;
        // SAFETY: valid C strings and callback, alive during the call.
        call(expected, |cb, ud| unsafe { TIMConvDelete(t.as_ptr(), kind, cb, ud) })?;
        // SAFETY: a valid C string.
        let cancelled = unsafe { TIMConvCancelDraft(t.as_ptr(), kind) };
        let allowed = if expected == TIM_SUCC {
            [TIM_SUCC, TIM_ERR_PARAM, TIM_ERR_CONV].contains(&cancelled)
        } else {
            cancelled == TIM_ERR_PARAM
        };
        prop_assert!(allowed, "cancel draft returned {}", cancelled);
    }
}
