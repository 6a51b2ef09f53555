//! Two devices of one user syncing through the loopback reference server: what one does, the
//! other sees (but not its drafts), with the events each device receives printed as they come.
//!
//! Run with `cargo run --example two_devices`.
#![allow(clippy::print_stdout)] // an example prints what it does

use std::time::Duration;

use futures::StreamExt;
use timconv::transport::loopback::LoopbackServer;
use timconv::{
    CleanTarget, ConversationId, ConversationManager, Draft, Event, MarkFlags, Message,
    SqliteStoreOptions,
};

fn incoming(id: &str, server_time: u64, text: &str) -> Message {
    let mut message = Message::text(id, text);
    message.server_time = Some(server_time);
    message.sender = Some("bob".into());
    message
}

/// One line per event, prefixed by the device that saw it.
fn describe(event: &Event) -> String {
    let ids = |list: &[std::sync::Arc<timconv::Conversation>]| {
        list.iter()
            .map(|c| c.id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match event {
        Event::Added(list) => format!("added {}", ids(list)),
        Event::Updated(list) => format!("updated {}", ids(list)),
        Event::Deleted(list) => format!("deleted {list:?}"),
        Event::SyncStarted => "sync started".into(),
        Event::SyncFinished => "sync finished".into(),
        Event::SyncFailed { code, message } => format!("sync failed ({code}): {message}"),
        Event::TotalUnreadChanged(n) => format!("total unread {n}"),
        Event::OperationRejected { code, .. } => format!("operation rejected ({code})"),
        other => format!("{other:?}"),
    }
}

async fn open_device(
    server: &LoopbackServer,
    name: &'static str,
    dir: &std::path::Path,
) -> Result<ConversationManager, timconv::Error> {
    let manager = ConversationManager::builder()
        .sqlite(SqliteStoreOptions::new().filename(dir.join(format!("{name}.db"))))
        .self_user_id("alice")
        .transport(server.transport("alice", name))
        .open()
        .await?;
    let mut events = manager.events();
    tokio::spawn(async move {
        while let Some(Ok(event)) = events.next().await {
            println!("  [{name}] {}", describe(&event));
        }
    });
    Ok(manager)
}

/// Lets both devices catch up, so the printed events follow the step that caused them.
async fn sync_both(a: &ConversationManager, b: &ConversationManager) -> Result<(), timconv::Error> {
    a.sync().await?;
    b.sync().await?;
    a.sync().await?;
    tokio::time::sleep(Duration::from_millis(30)).await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("timconv-two-devices-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let server = LoopbackServer::new();
    let bob = ConversationId::c2c("bob")?;

    println!("alice opens the app on her phone and her laptop");
    let phone = open_device(&server, "phone", &dir).await?;
    let laptop = open_device(&server, "laptop", &dir).await?;
    sync_both(&phone, &laptop).await?;
    println!(
        "  sync status: phone {:?}, laptop {:?}",
        phone.sync_status(),
        laptop.sync_status()
    );

    println!("bob writes to alice twice (the server delivers to both devices)");
    server.deliver("alice", &bob, incoming("m1", 1_700_000_001, "hi alice"));
    server.deliver("alice", &bob, incoming("m2", 1_700_000_002, "lunch?"));
    sync_both(&phone, &laptop).await?;
    println!(
        "  unread: phone {}, laptop {}",
        phone.total_unread(),
        laptop.total_unread()
    );

    println!("on the phone: pin bob, star him, put him in a 'friends' group, start a draft");
    phone.pin(&bob).await?;
    phone
        .mark(std::slice::from_ref(&bob), MarkFlags::STAR)
        .await?
        .into_result()?;
    phone
        .create_folder("friends", std::slice::from_ref(&bob))
        .await?
        .into_result()?;
    phone
        .set_draft(
            &bob,
            Draft::new(Message::text("", "sure, at noon"), "", 1_700_000_010),
        )
        .await?;
    sync_both(&phone, &laptop).await?;
    let on_laptop = laptop.get(&bob).ok_or("bob is on the laptop")?;
    println!(
        "  laptop sees: pinned {}, marks {:?}, groups {:?}, draft {}",
        on_laptop.is_pinned,
        on_laptop.marks,
        on_laptop.folders,
        if on_laptop.draft.is_some() {
            "yes"
        } else {
            "no (drafts stay on the phone)"
        }
    );

    println!("on the laptop: read bob's messages");
    laptop
        .clean_unread(
            CleanTarget::Conversation(bob.clone()),
            timconv::ReadUpTo::Everything,
        )
        .await?;
    sync_both(&phone, &laptop).await?;
    println!(
        "  unread: phone {}, laptop {}",
        phone.total_unread(),
        laptop.total_unread()
    );

    println!("on the phone: delete the conversation");
    phone.delete(&bob, timconv::MessageHistory::Keep).await?;
    sync_both(&phone, &laptop).await?;
    println!(
        "  conversations: phone {}, laptop {}",
        phone.len(),
        laptop.len()
    );

    phone.shutdown().await?;
    laptop.shutdown().await?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
