//! Full resyncs (the server no longer knows the device's bookmark): what they keep and what
//! may come back after them.

use timconv::{Draft, Limits, MarkFlags, Message};

use crate::common::{TempDir, id};
use crate::sync::{Pair, USER, assert_converged, open_device, pair, settle};

#[tokio::test]
async fn a_full_resync_keeps_a_conversation_that_exists_only_for_its_draft() {
    let Pair { server, a, b, .. } =
        pair("resync-draft", Limits::default(), &[("c2c_bob", "b1", 10)]).await;
    let dave = id("c2c_dave");
    // A user starts writing to someone new: the conversation exists here, for its draft only.
    a.set_draft(&dave, Draft::new(Message::text("", "hi dave"), "", 20))
        .await
        .expect("draft");
    // The server moves on (a message to carol) and forgets what changed before: a's bookmark
    // is too old now, and its next pull is a full resync.
    server.deliver(USER, &id("c2c_carol"), crate::common::incoming("c1", 11));
    server.forget_history(USER);
    settle(&[&a, &b]).await.expect("settle");
    assert!(
        a.get(&id("c2c_carol")).is_some(),
        "the resync brought carol"
    );
    let kept = a
        .get(&dave)
        .expect("the draft's conversation is still here");
    assert_eq!(
        kept.draft.as_ref().and_then(|d| d.msg.text_content()),
        Some("hi dave")
    );
    assert!(b.get(&dave).is_none(), "a draft never leaves its device");
    assert!(a.get(&id("c2c_bob")).is_some());
}

#[tokio::test]
async fn a_conversation_a_resync_removed_comes_back_when_another_device_makes_it_anew() {
    let Pair {
        server, a, b, tb, ..
    } = pair("resync-anew", Limits::default(), &[("c2c_bob", "b1", 10)]).await;
    let dir = TempDir::new("resync-anew-c");
    let tc = server.transport(USER, "c");
    let c = open_device(&dir.path("c.db"), tc.clone(), Limits::default()).await;
    settle(&[&a, &b, &c]).await.expect("settle");
    let bob = id("c2c_bob");

    // c is away while a deletes bob and the server forgets the delete.
    tc.set_online(false);
    tb.set_online(false);
    a.delete(&bob, timconv::MessageHistory::Keep)
        .await
        .expect("delete");
    settle(&[&a]).await.expect("a settles");
    server.forget_history(USER);
    // b resyncs fully: the server no longer has bob, so b removes it.
    tb.set_online(true);
    settle(&[&b]).await.expect("b settles");
    assert!(b.get(&bob).is_none(), "the resync removed bob from b");

    // c, which still has bob, stars it: the server, which no longer knows bob, makes it anew.
    c.mark(std::slice::from_ref(&bob), MarkFlags::STAR)
        .await
        .expect("mark")
        .into_result()
        .expect("mark");
    tc.set_online(true);
    settle(&[&c, &a, &b]).await.expect("settle");
    for (name, device) in [("a", &a), ("b", &b), ("c", &c)] {
        let on = device
            .get(&bob)
            .unwrap_or_else(|| panic!("bob is back on {name}"));
        assert_eq!(on.marks, MarkFlags::STAR, "on {name}");
    }
    // Where the delete reached, the message from before it stays deleted. (c never learnt of
    // the delete, which the server forgot: it keeps its copy of the message.)
    for device in [&a, &b] {
        assert!(device.get(&bob).is_some_and(|s| s.last_message.is_none()));
    }
    assert_converged(&server, &[&a, &b]);
}
