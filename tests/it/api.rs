//! Call shapes of the public API: batch arguments, batch outcomes, clean targets, opening.

use timconv::{
    CleanTarget, ConversationId, ConversationManager, CustomData, Error, MarkFlags, MessageHistory,
    ReadUpTo,
};

use crate::common::{TempDir, id, incoming, manager};

async fn with(ids: &[&str]) -> (ConversationManager, Vec<ConversationId>) {
    let m = manager().await;
    let mut out = Vec::new();
    for (n, name) in ids.iter().enumerate() {
        let conv = id(name);
        m.ingest_message(&conv, incoming(&format!("m{n}"), n as u64 + 1))
            .await
            .expect("ingest");
        out.push(conv);
    }
    (m, out)
}

#[tokio::test]
async fn batch_calls_take_one_id_or_any_collection() {
    let (m, ids) = with(&["c2c_a", "c2c_b", "group_c"]).await;
    let (a, b, c) = (&ids[0], &ids[1], &ids[2]);
    // One ID, borrowed or owned.
    assert_eq!(m.mark(a, MarkFlags::STAR).await.unwrap().len(), 1);
    assert_eq!(m.mark(b.clone(), MarkFlags::STAR).await.unwrap().len(), 1);
    // Arrays of references, slices, Vecs, iterators.
    assert_eq!(m.mark([a, b], MarkFlags::FOLD).await.unwrap().len(), 2);
    assert_eq!(m.mark(&ids[..], MarkFlags::HIDE).await.unwrap().len(), 3);
    assert_eq!(
        m.unmark(ids.clone(), MarkFlags::HIDE).await.unwrap().len(),
        3
    );
    let groups = m
        .conversations()
        .iter()
        .filter(|conv| conv.id.kind() == timconv::ConversationType::Group)
        .map(|conv| conv.id.clone())
        .collect::<Vec<_>>();
    let outcome = m
        .set_custom_data(groups.iter(), CustomData::from("x"))
        .await
        .unwrap();
    assert_eq!(outcome.succeeded().collect::<Vec<_>>(), [c]);
    // Repeats are dropped, keeping the first.
    let outcome = m.mark([a, b, a], MarkFlags::UNREAD).await.unwrap();
    assert_eq!(
        outcome.iter().map(|o| o.id.clone()).collect::<Vec<_>>(),
        [a.clone(), b.clone()]
    );
    assert_eq!(
        m.get(a).unwrap().marks,
        MarkFlags::STAR | MarkFlags::FOLD | MarkFlags::UNREAD
    );
    // Folder calls and deletes take the same shapes.
    m.create_folder("f", a)
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.add_to_folder("f", [b, c].into_iter())
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.remove_from_folder("f", vec![c.clone()])
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(m.get(b).unwrap().folders, ["f"]);
    m.delete_many(c, MessageHistory::Keep)
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert!(m.get(c).is_none());
    // An empty collection is refused as a batch size error, changing nothing.
    let err = m
        .mark(Vec::<ConversationId>::new(), MarkFlags::STAR)
        .await
        .unwrap_err();
    assert_eq!(err.code().as_i32(), 51006);
}

#[tokio::test]
async fn into_result_is_ok_only_when_every_conversation_succeeded() {
    let (m, ids) = with(&["c2c_a", "c2c_b"]).await;
    let ok = m.mark(&ids[..], MarkFlags::STAR).await.unwrap();
    assert!(ok.all_ok());
    assert_eq!(ok.failures().count(), 0);
    ok.into_result().expect("every conversation succeeded");

    let nobody = id("c2c_nobody");
    let ghost = id("group_ghost");
    let mixed = m
        .mark([&ids[0], &nobody, &ghost], MarkFlags::FOLD)
        .await
        .unwrap();
    assert!(!mixed.all_ok());
    assert_eq!(mixed.succeeded().collect::<Vec<_>>(), [&ids[0]]);
    // The successes stand even though the call reports failures.
    assert!(m.get(&ids[0]).unwrap().marks.contains(MarkFlags::FOLD));
    match mixed.into_result() {
        Err(err @ Error::PartlyFailed { .. }) => {
            assert_eq!(err.code().as_i32(), 6004, "the first failure's code");
            let Error::PartlyFailed { failures } = err else {
                unreachable!()
            };
            let failed: Vec<_> = failures.iter().map(|f| f.id.clone()).collect();
            assert_eq!(failed, [nobody, ghost]);
            assert!(failures.iter().all(|f| f.code() == 6004));
        }
        other => panic!("expected PartlyFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn partly_failed_takes_the_code_of_its_first_failure() {
    let limits = timconv::Limits::default().with_max_decorated(1);
    let m = crate::common::manager_with(limits).await;
    let (a, b) = (id("c2c_a"), id("c2c_b"));
    for conv in [&a, &b] {
        m.create_conversation(conv).await.unwrap();
    }
    let err = m
        .mark([&a, &b], MarkFlags::STAR)
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(err.code().as_i32(), 51008);
}

#[tokio::test]
async fn clean_targets_convert_from_ids() {
    let (m, ids) = with(&["c2c_a", "group_b", "group_c"]).await;
    assert_eq!(m.total_unread(), 3);
    m.clean_unread(&ids[0], ReadUpTo::Everything).await.unwrap();
    m.clean_unread(ids[1].clone(), ReadUpTo::Sequence(2))
        .await
        .unwrap();
    assert_eq!(m.total_unread(), 1);
    assert_eq!(
        CleanTarget::from(&ids[2]),
        CleanTarget::Conversation(ids[2].clone())
    );
    assert_eq!(
        CleanTarget::parse("group_c").unwrap(),
        CleanTarget::from(ids[2].clone())
    );
    assert_eq!(CleanTarget::parse("c2c").unwrap(), CleanTarget::AllC2c);
    assert_eq!(CleanTarget::parse("group").unwrap(), CleanTarget::AllGroups);
    assert_eq!(CleanTarget::parse("").unwrap(), CleanTarget::All);
    assert_eq!(
        CleanTarget::parse("nonsense").unwrap_err().code().as_i32(),
        6017
    );
    // A timestamp does not apply to a group conversation: refused, nothing read.
    let err = m
        .clean_unread(&ids[2], ReadUpTo::Timestamp(99))
        .await
        .unwrap_err();
    assert_eq!(err.code().as_i32(), 6017);
    assert_eq!(m.total_unread(), 1);
    m.clean_unread(CleanTarget::AllGroups, ReadUpTo::Everything)
        .await
        .unwrap();
    assert_eq!(m.total_unread(), 0);
}

#[tokio::test]
async fn opening_without_a_store_is_refused() {
    let err = ConversationManager::builder().open().await.unwrap_err();
    assert_eq!(err.code().as_i32(), 6017);
}

#[tokio::test]
async fn open_with_a_path_knows_who_is_mentioned() {
    let dir = TempDir::new("api-open");
    let m = ConversationManager::open(dir.path("c.db"), "me")
        .await
        .unwrap();
    let team = id("group_team");
    let mut at_me = incoming("g1", 1);
    at_me.group_at_users = Some(vec!["me".into()]);
    m.ingest_message(&team, at_me).await.unwrap();
    let conv = m.get(&team).unwrap();
    assert_eq!(conv.group_at_info.len(), 1);
    assert_eq!(conv.group_at_info[0].at_type, timconv::GroupAtType::AtMe);
    m.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_write_dropped_after_it_was_submitted_is_made() {
    use futures::FutureExt;
    let (m, ids) = with(&["c2c_a", "c2c_b"]).await;
    let mut events = m.events();
    // Never polled: never submitted, nothing happens.
    drop(m.pin(&ids[0]));
    // Polled once, then dropped before its answer: made all the same.
    assert!(m.pin(&ids[1]).now_or_never().is_none());
    assert!(m.mark(&ids[1], MarkFlags::STAR).now_or_never().is_none());
    // A later write is applied after them.
    m.create_conversation(&id("c2c_c")).await.unwrap();
    assert!(!m.get(&ids[0]).unwrap().is_pinned);
    let b = m.get(&ids[1]).unwrap();
    assert!(b.is_pinned && b.marks.contains(MarkFlags::STAR));
    // Their events were published, as for an awaited write (writes queued together may
    // share one commit, so one update may carry both).
    let mut shown = false;
    while let Some(Some(Ok(event))) = futures::StreamExt::next(&mut events).now_or_never() {
        if let timconv::Event::Updated(convs) = event {
            shown |= convs
                .iter()
                .any(|c| c.id == ids[1] && c.is_pinned && c.marks.contains(MarkFlags::STAR));
        }
    }
    assert!(shown);
    // A write refused by its checks is not submitted either.
    assert!(
        m.mark(Vec::<ConversationId>::new(), MarkFlags::STAR)
            .now_or_never()
            .is_some_and(|r| r.is_err())
    );
}
