//! The HTTP API: authentication and isolation, bad input, idempotency, limits, bookmarks.
//! Each check runs over SQLite, and over PostgreSQL when `TIMCONV_TEST_POSTGRES_URL` is set.

mod common;

use serde_json::{Value, json};
use timconv::Message;
use timconv_server::Running;

use common::{ADMIN, Raw, token, unique};

fn pin(id: &str, conversation: &str) -> Value {
    json!({"id": id, "op": "pin", "conversation": conversation, "pinned": true})
}

/// The whole state of a user, as a full pull shows it, without its bookmark (which moves).
async fn snapshot(raw: &Raw, user: &str) -> Value {
    let mut page = raw.state(user).await;
    page["bookmark"] = Value::Null;
    page
}

async fn refused_tokens_change_nothing(server: &Running) {
    let raw = Raw::new(server);
    let alice = unique("alice");
    let (status, _) = raw
        .json(
            "/v1/push",
            Some(&token(&alice)),
            &json!({"ops": [pin("a-1", "c2c_bob")]}),
        )
        .await;
    assert_eq!(status, 200);
    let before = snapshot(&raw, &alice).await;

    let expired = timconv_server::mint(common::SECRET.as_bytes(), &alice, 1);
    let other_secret = timconv_server::mint(b"another deployment", &alice, u64::MAX);
    let good = token(&alice);
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("test data");
    // Bob's signature under Alice's name: a wrong user.
    let bob_token = token(&unique("bob"));
    let (_, bob_rest) = bob_token.split_once('.').expect("test data");
    let (alice_name, _) = good.split_once('.').expect("test data");
    let wrong_user = format!("{alice_name}.{bob_rest}");
    let unpin =
        json!({"ops": [{"id": "x-1", "op": "pin", "conversation": "c2c_bob", "pinned": false}]});
    for (what, auth, code) in [
        ("missing", None, 6014),
        ("expired", Some(expired.as_str()), 70001),
        ("another secret", Some(other_secret.as_str()), 70003),
        ("tampered", Some(tampered.as_str()), 70003),
        ("wrong user", Some(wrong_user.as_str()), 70003),
        ("garbage", Some("not a token"), 70003),
        ("the admin secret", Some(ADMIN), 70003),
    ] {
        for (path, body) in [
            ("/v1/push", unpin.clone()),
            ("/v1/pull", json!({"since": null})),
        ] {
            let (status, body) = raw.json(path, auth, &body).await;
            assert_eq!(status, 401, "{what} token on {path}: {body}");
            assert_eq!(body["code"], code, "{what} token on {path}: {body}");
        }
    }
    // The admin endpoint refuses device tokens and a wrong secret.
    for auth in [None, Some(good.as_str()), Some("not the admin secret")] {
        let (status, _) = raw
            .deliver(&alice, "c2c_bob", &Message::text("m9", "hi"))
            .await;
        assert_eq!(status, 200);
        let body =
            json!({"user": alice, "conversation": "c2c_bob", "message": Message::text("m10", "x")});
        let (status, _) = raw.json("/admin/v1/deliver", auth, &body).await;
        assert_eq!(status, 401);
    }
    let after = snapshot(&raw, &alice).await;
    let pinned = |v: &Value| v["changes"][1]["pinned"].clone();
    assert_eq!(pinned(&before), json!(true));
    assert_eq!(
        pinned(&after),
        json!(true),
        "a refused token changed nothing"
    );
    assert!(after.to_string().contains("m9") && !after.to_string().contains("m10"));
}
on_both!(
    sqlite_refused_tokens_change_nothing,
    postgres_refused_tokens_change_nothing,
    refused_tokens_change_nothing
);

async fn users_are_isolated(server: &Running) {
    let raw = Raw::new(server);
    let (alice, bob) = (unique("alice"), unique("bob"));
    raw.deliver(&alice, "c2c_carol", &Message::text("m1", "for alice"))
        .await;
    let (status, _) = raw
        .json(
            "/v1/push",
            Some(&token(&alice)),
            &json!({"ops": [pin("a-1", "c2c_carol")]}),
        )
        .await;
    assert_eq!(status, 200);
    let bob_state = raw.state(&bob).await;
    assert_eq!(
        bob_state["changes"],
        json!([{"change": "groups", "names": []}])
    );
    // Bob replaying Alice's op ID applies it for Bob, and Alice's bookmark is refused to Bob.
    let (status, answer) = raw
        .json(
            "/v1/push",
            Some(&token(&bob)),
            &json!({"ops": [pin("a-1", "c2c_dave")]}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["outcome"], "applied");
    let alice_page = raw.state(&alice).await;
    let (status, body) = raw
        .json(
            "/v1/pull",
            Some(&token(&bob)),
            &json!({"since": alice_page["bookmark"]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 50002);
    let alice_after = raw.state(&alice).await;
    assert!(!alice_after.to_string().contains("c2c_dave"));
}
on_both!(
    sqlite_users_are_isolated,
    postgres_users_are_isolated,
    users_are_isolated
);

async fn bad_input_gets_a_code_and_changes_nothing(server: &Running) {
    let raw = Raw::new(server);
    let alice = unique("alice");
    let auth = token(&alice);
    raw.json(
        "/v1/push",
        Some(&auth),
        &json!({"ops": [pin("a-1", "c2c_bob")]}),
    )
    .await;
    let before = snapshot(&raw, &alice).await;
    let ops =
        |n: usize| -> Vec<Value> { (0..n).map(|i| pin(&format!("b-{i}"), "c2c_x")).collect() };
    let cases: Vec<(&str, &str, Vec<u8>, u16, i64)> = vec![
        ("not JSON", "/v1/push", b"{\"ops\": [".to_vec(), 400, 6027),
        (
            "not JSON either",
            "/v1/pull",
            b"\xff\xfe".to_vec(),
            400,
            6027,
        ),
        (
            "unknown operation",
            "/v1/push",
            json!({"ops": [{"id": "u-1", "op": "launch_rockets", "conversation": "c2c_bob"}]})
                .to_string()
                .into_bytes(),
            400,
            50002,
        ),
        (
            "wrong shape",
            "/v1/push",
            json!({"operations": []}).to_string().into_bytes(),
            400,
            50002,
        ),
        (
            "bad conversation ID",
            "/v1/push",
            json!({"ops": [pin("v-1", "nobody")]})
                .to_string()
                .into_bytes(),
            400,
            50002,
        ),
        ("oversize body", "/v1/push", vec![b' '; 2 << 20], 413, 50002),
        (
            "too many operations",
            "/v1/push",
            json!({"ops": ops(501)}).to_string().into_bytes(),
            400,
            51006,
        ),
        (
            "duplicate op IDs",
            "/v1/push",
            json!({"ops": [pin("d-1", "c2c_x"), pin("d-1", "c2c_y")]})
                .to_string()
                .into_bytes(),
            400,
            50002,
        ),
        (
            "made-up bookmark",
            "/v1/pull",
            json!({"since": "999999.AAAAAAAAAAAAAAAA"})
                .to_string()
                .into_bytes(),
            400,
            50002,
        ),
        (
            "unsigned bookmark",
            "/v1/pull",
            json!({"since": "3"}).to_string().into_bytes(),
            400,
            50002,
        ),
    ];
    for (what, path, body, status, code) in cases {
        let (got, answer) = raw.post(path, Some(&auth), body).await;
        assert_eq!(got, status, "{what}: {answer}");
        assert_eq!(answer["code"], code, "{what}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}"
        );
    }
    assert_eq!(
        snapshot(&raw, &alice).await,
        before,
        "bad input changed nothing"
    );
    // Exceeded limits are per operation: rejected with their code, and nothing changes.
    let (status, answer) = raw
        .json(
            "/v1/push",
            Some(&auth),
            &json!({"ops": [
                {"id": "l-1", "op": "create_group", "name": "", "conversations": []},
                {"id": "l-2", "op": "mark", "conversations": [], "bits": 1, "enable": true},
                {"id": "l-3", "op": "rename_group", "from": "none", "to": "x"},
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    let codes: Vec<Value> = answer["results"]
        .as_array()
        .expect("test data")
        .iter()
        .map(|r| r["code"].clone())
        .collect();
    assert_eq!(codes, [json!(51011), json!(51006), json!(51009)]);
    assert_eq!(snapshot(&raw, &alice).await, before);
    // And the server keeps serving.
    let (status, _) = raw
        .json("/v1/pull", Some(&auth), &json!({"since": null}))
        .await;
    assert_eq!(status, 200);
}
on_both!(
    sqlite_bad_input_gets_a_code_and_changes_nothing,
    postgres_bad_input_gets_a_code_and_changes_nothing,
    bad_input_gets_a_code_and_changes_nothing
);

async fn a_replayed_push_applies_once(server: &Running) {
    let raw = Raw::new(server);
    let alice = unique("alice");
    let auth = token(&alice);
    let limits = timconv::Limits::default();
    let ops: Vec<Value> = (0..=limits.max_pinned)
        .map(|i| pin(&format!("p-{i}"), &format!("c2c_u{i}")))
        .collect();
    let (_, first) = raw
        .json("/v1/push", Some(&auth), &json!({"ops": ops}))
        .await;
    let last = &first["results"][limits.max_pinned];
    assert_eq!(last["outcome"], "rejected");
    assert_eq!(last["code"], 51012);
    let (_, again) = raw
        .json("/v1/push", Some(&auth), &json!({"ops": ops}))
        .await;
    assert_eq!(
        first["results"], again["results"],
        "the remembered outcomes"
    );
    let outcomes = server.db().outcomes(&alice).await.expect("test data");
    assert_eq!(outcomes.len(), limits.max_pinned + 1, "each operation once");
    // A bookmark: a pull after it reports nothing new; a future one resyncs.
    let page = raw.state(&alice).await;
    let (_, next) = raw
        .json("/v1/pull", Some(&auth), &json!({"since": page["bookmark"]}))
        .await;
    assert_eq!(next["changes"], json!([]));
    let keys = timconv_server::Keys::new(common::SECRET, ADMIN);
    let future = keys.sign_bookmark(&alice, 1 << 40);
    let (status, answer) = raw
        .json("/v1/pull", Some(&auth), &json!({"since": future}))
        .await;
    assert_eq!((status, answer), (200, json!({"pull": "too_far_behind"})));
    // Forgetting history sends a bookmark older than it back to a full pull.
    let unpin =
        json!({"ops": [{"id": "q-1", "op": "pin", "conversation": "c2c_u0", "pinned": false}]});
    raw.json("/v1/push", Some(&auth), &unpin).await;
    let (status, _) = raw
        .json(
            "/admin/v1/forget_history",
            Some(ADMIN),
            &json!({"user": alice}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, answer) = raw
        .json("/v1/pull", Some(&auth), &json!({"since": page["bookmark"]}))
        .await;
    assert_eq!(answer, json!({"pull": "too_far_behind"}));
}
on_both!(
    sqlite_a_replayed_push_applies_once,
    postgres_a_replayed_push_applies_once,
    a_replayed_push_applies_once
);

/// `deliver_many` stores a batch in one go, as that many single deliveries would (duplicates
/// once), needs the admin secret and refuses a batch over its bound whole.
async fn deliver_many_is_many_deliveries(server: &Running) {
    let raw = Raw::new(server);
    let alice = unique("alice");
    let message = |id: &str, at: u64| {
        let mut m = Message::text(id, "hi");
        m.server_time = Some(at);
        m
    };
    let single = unique("single");
    for (c, m) in [
        ("c2c_bob", message("b1", 10)),
        ("c2c_bob", message("b2", 11)),
        ("c2c_carol", message("c1", 12)),
    ] {
        raw.deliver(&single, c, &m).await;
    }
    let batch = json!({"user": alice, "messages": [
        {"conversation": "c2c_bob", "message": message("b1", 10)},
        {"conversation": "c2c_bob", "message": message("b2", 11)},
        {"conversation": "c2c_carol", "message": message("c1", 12)},
        {"conversation": "c2c_bob", "message": message("b1", 10)},
    ]});
    let (status, answer) = raw
        .json("/admin/v1/deliver_many", Some(&token(&alice)), &batch)
        .await;
    assert_eq!(status, 401, "a user token is not the admin's: {answer}");
    let (status, answer) = raw
        .json("/admin/v1/deliver_many", Some(ADMIN), &batch)
        .await;
    assert_eq!((status, answer), (200, json!({"stored": 3})));
    assert_eq!(
        snapshot(&raw, &alice).await,
        snapshot(&raw, &single).await,
        "the same state as three single deliveries"
    );
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"conversation": format!("c2c_u{i}"), "message": message(&format!("m{i}"), 1)}))
        .collect();
    let (status, answer) = raw
        .json(
            "/admin/v1/deliver_many",
            Some(ADMIN),
            &json!({"user": alice, "messages": too_many}),
        )
        .await;
    assert_eq!((status, answer["code"].clone()), (400, json!(51006)));
    let (_, again) = raw
        .json("/admin/v1/deliver_many", Some(ADMIN), &batch)
        .await;
    assert_eq!(again, json!({"stored": 0}), "duplicates are ignored");
}
on_both!(
    sqlite_deliver_many_is_many_deliveries,
    postgres_deliver_many_is_many_deliveries,
    deliver_many_is_many_deliveries
);
