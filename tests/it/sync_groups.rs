//! Conversation groups across devices: the group events another device's changes publish.

use timconv::{Event, Limits};

use crate::common::id;
use crate::sync::{Pair, assert_converged, drain, pair, settle};

/// The group events among `seen`, one line each.
fn group_lines(seen: &[Event]) -> Vec<String> {
    seen.iter()
        .filter_map(|e| match e {
            Event::FolderCreated { name, .. } => Some(format!("created {name}")),
            Event::FolderDeleted { name } => Some(format!("deleted {name}")),
            Event::FolderRenamed { old_name, new_name } => {
                Some(format!("renamed {old_name} to {new_name}"))
            }
            Event::ConversationsAddedToFolder {
                name,
                conversations,
            } => Some(format!("{} joined {name}", conversations[0])),
            Event::ConversationsRemovedFromFolder {
                name,
                conversations,
                ..
            } => Some(format!("{} left {name}", conversations[0])),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn group_changes_from_another_device_publish_group_events() {
    let Pair { server, a, b, .. } = pair(
        "sync-group-events",
        Limits::default(),
        &[("c2c_bob", "b1", 10), ("c2c_carol", "c1", 11)],
    )
    .await;
    let (bob, carol) = (id("c2c_bob"), id("c2c_carol"));
    let mut events = b.events();

    a.create_folder("work", std::slice::from_ref(&bob))
        .await
        .expect("create")
        .into_result()
        .expect("create");
    a.add_to_folder("work", std::slice::from_ref(&carol))
        .await
        .expect("add")
        .into_result()
        .expect("add");
    settle(&[&a, &b]).await.expect("settle");
    a.remove_from_folder("work", std::slice::from_ref(&bob))
        .await
        .expect("remove")
        .into_result()
        .expect("remove");
    a.delete_folder("work").await.expect("delete group");
    settle(&[&a, &b]).await.expect("settle");

    let groups = group_lines(&drain(&mut events).await);
    for expected in [
        "created work",
        "c2c_bob joined work",
        "c2c_carol joined work",
        "c2c_bob left work",
        "deleted work",
    ] {
        assert!(
            groups.iter().any(|g| g == expected),
            "{expected:?} missing from {groups:?}"
        );
    }
    assert!(b.folders().is_empty());
    assert_converged(&server, &[&a, &b]);
}

#[tokio::test]
async fn a_rename_on_another_device_is_a_rename_here() {
    let Pair { server, a, b, .. } = pair(
        "sync-group-rename",
        Limits::default(),
        &[("c2c_bob", "b1", 10), ("c2c_carol", "c1", 11)],
    )
    .await;
    let (bob, carol) = (id("c2c_bob"), id("c2c_carol"));
    a.create_folder("work", &[bob.clone(), carol.clone()])
        .await
        .expect("create")
        .into_result()
        .expect("create");
    settle(&[&a, &b]).await.expect("settle");
    let mut events = b.events();

    a.rename_folder("work", "office").await.expect("rename");
    settle(&[&a, &b]).await.expect("settle");

    // One rename, as on the device that made it: no deletion, creation or member moves.
    assert_eq!(
        group_lines(&drain(&mut events).await),
        ["renamed work to office"]
    );
    assert_eq!(b.folders(), ["office"]);
    for c in [&bob, &carol] {
        assert_eq!(b.get(c).expect("member").folders, ["office"]);
    }
    assert_converged(&server, &[&a, &b]);
}
