//! Two devices of one user syncing over the network: through one server (SQLite and PostgreSQL),
//! and through two `timconv-server` processes (the binary, started twice) over one PostgreSQL
//! database or one SQLite file, each device connected to a different one. They converge on pin,
//! marks, custom data, folders, deletes and read positions; drafts stay on their device; a change
//! made through one process reaches the device connected to the other as a hint.

mod common;

use std::path::Path;
use std::time::Duration;

use timconv::transport::network::{NetworkOptions, NetworkTransport};
use timconv::{
    CleanTarget, ConversationId, ConversationManager, Draft, MarkFlags, Message,
    SqliteStoreOptions, SyncOptions,
};

use common::{Raw, ServerProcess, token, unique};

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(unique("timconv-server-devices"));
        std::fs::create_dir_all(&path).expect("a temporary directory");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn device(dir: &Path, base: &str, user: &str, name: &str) -> ConversationManager {
    let options = NetworkOptions::default().request_timeout(Duration::from_secs(10));
    let transport =
        NetworkTransport::with_options(base, &token(user), name, options).expect("a transport");
    ConversationManager::builder()
        .sqlite(SqliteStoreOptions::new().filename(dir.join(format!("{name}.db"))))
        .self_user_id(user)
        .transport(transport)
        .sync_options(
            SyncOptions::default()
                .backoff(Duration::from_millis(5), Duration::from_millis(200))
                // Hints only: a device hears of the other's changes over its event stream.
                .poll_interval(None),
        )
        .open()
        .await
        .expect("open a device")
}

/// Waits (bounded) until `check` holds on `m`.
async fn eventually(
    m: &ConversationManager,
    what: &str,
    check: impl Fn(&ConversationManager) -> bool,
) {
    for _ in 0..400 {
        if check(m) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

fn incoming(id: &str, server_time: u64) -> Message {
    let mut m = Message::text(id, "hi");
    m.server_time = Some(server_time);
    m.sender = Some("bob".into());
    m
}

/// Phone talks to `base_a`, laptop to `base_b` (the same server, or another process).
async fn converge(base_a: &str, base_b: &str, raw: &Raw) {
    let dir = TempDir::new();
    let user = unique("alice");
    let bob = ConversationId::c2c("bob").expect("id");
    let team = ConversationId::group("team").expect("id");
    let dave = ConversationId::c2c("dave").expect("id");
    for (c, m) in [
        (&bob, incoming("b1", 100)),
        (&bob, incoming("b2", 101)),
        (&team, {
            let mut m = Message::text("t1", "standup");
            m.seq = Some(1);
            m
        }),
        (&dave, incoming("d1", 50)),
    ] {
        let (status, _) = raw.deliver(&user, c.as_str(), &m).await;
        assert_eq!(status, 200);
    }
    let phone = device(&dir.0, base_a, &user, "phone").await;
    let laptop = device(&dir.0, base_b, &user, "laptop").await;
    phone.sync().await.expect("phone syncs");
    laptop.sync().await.expect("laptop syncs");
    assert_eq!(laptop.total_unread(), 4);

    phone.pin(&bob).await.expect("pin");
    phone
        .mark(std::slice::from_ref(&team), MarkFlags::STAR)
        .await
        .expect("mark")
        .into_result()
        .expect("mark");
    phone
        .set_custom_data(std::slice::from_ref(&team), b"blue".to_vec())
        .await
        .expect("custom data")
        .into_result()
        .expect("custom data");
    phone
        .create_folder("work", std::slice::from_ref(&team))
        .await
        .expect("folder")
        .into_result()
        .expect("folder");
    phone
        .delete(&dave, timconv::MessageHistory::Keep)
        .await
        .expect("delete");
    phone
        .clean_unread(
            CleanTarget::Conversation(bob.clone()),
            timconv::ReadUpTo::Everything,
        )
        .await
        .expect("read");
    phone
        .set_draft(
            &bob,
            Draft::new(Message::text("", "draft on the phone"), "", 1),
        )
        .await
        .expect("draft");

    // The laptop hears of it over its event stream (through the other process, if any).
    eventually(&laptop, "the laptop has the phone's changes", |l| {
        let b = l.get(&bob);
        let t = l.get(&team);
        b.as_ref()
            .is_some_and(|b| b.is_pinned && b.unread_count == 0)
            && t.as_ref().is_some_and(|t| {
                t.marks.contains(MarkFlags::STAR)
                    && t.custom_data.as_bytes() == b"blue"
                    && t.folders == ["work"]
            })
            && l.get(&dave).is_none()
            && l.folders() == ["work"]
    })
    .await;
    assert!(
        laptop.get(&bob).is_some_and(|b| b.draft.is_none()),
        "the phone's draft stays on the phone"
    );
    assert_eq!(laptop.total_unread(), 1);

    // And back: the laptop renames the folder and unpins; a new message reaches both.
    laptop
        .rename_folder("work", "office")
        .await
        .expect("rename");
    laptop.unpin(&bob).await.expect("unpin");
    raw.deliver(&user, team.as_str(), &{
        let mut m = Message::text("t2", "lunch?");
        m.seq = Some(2);
        m
    })
    .await;
    eventually(&phone, "the phone has the laptop's changes", |p| {
        p.folders() == ["office"]
            && p.get(&bob)
                .is_some_and(|b| !b.is_pinned && b.draft.is_some())
            && p.get(&team).is_some_and(|t| t.unread_count == 2)
    })
    .await;
    eventually(&laptop, "the laptop has the new message", |l| {
        l.get(&team).is_some_and(|t| t.unread_count == 2)
    })
    .await;
    assert_eq!(phone.pending_operations() + laptop.pending_operations(), 0);
    phone.shutdown().await.expect("shutdown");
    laptop.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_devices_converge() {
    let server = common::sqlite().await;
    converge(&server.url(), &server.url(), &Raw::new(&server)).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_devices_converge() {
    let Some(server) = common::postgres().await else {
        common::skipped("postgres_two_devices_converge");
        return;
    };
    converge(&server.url(), &server.url(), &Raw::new(&server)).await;
    server.shutdown().await;
}

/// Two `timconv-server` processes over one PostgreSQL database, each device connected to its
/// own: a device learns of changes written through the other process (by the other device,
/// and a message delivered there) only by PostgreSQL notifications, as both processes poll
/// once an hour and the devices never poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_processes_converge() {
    let Some(url) = common::postgres_url() else {
        common::skipped("postgres_two_processes_converge");
        return;
    };
    let hourly = ["--poll-interval-ms", "3600000"];
    let a = ServerProcess::start(&url, &hourly).await;
    let b = ServerProcess::start(&url, &hourly).await;
    assert_ne!(a.id(), b.id());
    tokio::time::timeout(
        Duration::from_secs(60),
        converge(a.url(), b.url(), &Raw::at(b.url())),
    )
    .await
    .expect("converged within a minute");
    let grace = Duration::from_secs(5);
    let (stopped_a, stopped_b) = tokio::join!(a.stop(grace), b.stop(grace));
    assert!(stopped_a && stopped_b, "both processes stop on SIGTERM");
}

/// Over SQLite (no notifications), two processes on one file learn of each other's changes
/// by polling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_processes_converge_by_polling() {
    let dir = TempDir::new();
    let url = format!("sqlite:{}?mode=rwc", dir.0.join("server.db").display());
    let often = ["--poll-interval-ms", "50"];
    let a = ServerProcess::start(&url, &often).await;
    let b = ServerProcess::start(&url, &often).await;
    tokio::time::timeout(
        Duration::from_secs(60),
        converge(a.url(), b.url(), &Raw::at(a.url())),
    )
    .await
    .expect("converged within a minute");
    let grace = Duration::from_secs(5);
    let (stopped_a, stopped_b) = tokio::join!(a.stop(grace), b.stop(grace));
    assert!(stopped_a && stopped_b, "both processes stop on SIGTERM");
}
