//! The sync status a "syncing…" / "offline" indicator reads: its value and its watch.

use std::time::Duration;

use futures::StreamExt;
use timconv::transport::loopback::LoopbackServer;
use timconv::{ConversationManager, ErrorCode, Limits, MarkFlags, SyncStatus, SyncStatusStream};

use crate::common::{TempDir, id};
use crate::sync::{USER, open_device};

/// The next status the watch yields that satisfies `wanted` (within a few seconds).
async fn next_matching(
    watch: &mut SyncStatusStream,
    wanted: impl Fn(&SyncStatus) -> bool,
) -> SyncStatus {
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(status) = watch.next().await {
            if wanted(&status) {
                return Some(status);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(status)) => status,
        other => panic!("no matching status: {other:?}"),
    }
}

#[tokio::test]
async fn a_local_only_manager_reports_sync_disabled() {
    let m = ConversationManager::builder()
        .in_memory()
        .open()
        .await
        .expect("open");
    assert_eq!(m.sync_status(), SyncStatus::Disabled);
    let mut watch = m.watch_sync_status();
    assert_eq!(watch.next().await, Some(SyncStatus::Disabled));
}

#[tokio::test]
async fn the_status_follows_cycles_and_failures_and_a_late_watch_starts_from_it() {
    let dir = TempDir::new("sync-status");
    let server = LoopbackServer::new();
    let transport = server.transport(USER, "a");
    let a = open_device(&dir.path("a.db"), transport.clone(), Limits::default()).await;
    let mut watch = a.watch_sync_status();
    // From open until the first cycle ends, it is syncing.
    let first = watch.next().await.expect("a first status");
    assert!(
        matches!(first, SyncStatus::Syncing | SyncStatus::UpToDate),
        "{first:?}"
    );
    a.sync().await.expect("sync");
    assert_eq!(a.sync_status(), SyncStatus::UpToDate);
    next_matching(&mut watch, |s| *s == SyncStatus::UpToDate).await;
    // A watch taken now, after every sync event so far, still starts from where sync stands.
    let mut late = a.watch_sync_status();
    assert_eq!(late.next().await, Some(SyncStatus::UpToDate));

    // Offline: the attempt fails, with the transport's code; local changes still apply.
    transport.set_online(false);
    let err = a.sync().await.expect_err("offline");
    let failed = a.sync_status();
    assert_eq!(
        failed,
        SyncStatus::Failed {
            code: ErrorCode::NetworkDisconnected,
            message: err.to_string(),
        }
    );
    let seen = next_matching(&mut watch, |s| matches!(s, SyncStatus::Failed { .. })).await;
    assert!(
        matches!(seen, SyncStatus::Failed { code, .. } if code == ErrorCode::NetworkDisconnected),
        "{seen:?}"
    );
    let c = id("c2c_bob");
    a.ingest_message(&c, crate::common::incoming("m1", 10))
        .await
        .expect("a message");
    a.mark(std::slice::from_ref(&c), MarkFlags::STAR)
        .await
        .expect("mark offline")
        .into_result()
        .expect("mark offline");
    assert!(a.pending_operations() > 0);

    // Back online: the next cycle pushes what waited and the status is up to date again.
    transport.set_online(true);
    a.sync().await.expect("sync");
    assert_eq!(a.sync_status(), SyncStatus::UpToDate);
    assert_eq!(a.pending_operations(), 0);
    next_matching(&mut watch, |s| *s == SyncStatus::UpToDate).await;
    a.shutdown().await.expect("shutdown");
}
