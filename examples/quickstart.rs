//! The main job of `timconv`, end to end, on a SQLite file: conversations created by messages,
//! pinned, marked, drafted, grouped, paged through with a filter, the total unread watched
//! while cleaning, and everything still there after a restart.
//!
//! Run with `cargo run --example quickstart`.
#![allow(clippy::print_stdout)] // an example prints what it does

use std::time::Duration;

use futures::StreamExt;
use timconv::{
    CleanTarget, ConversationFilter, ConversationId, ConversationManager, Cursor, Draft, Event,
    MarkFlags, Message, SqliteStore,
};

fn incoming(id: &str, server_time: u64, text: &str) -> Message {
    let mut message = Message::text(id, text);
    message.server_time = Some(server_time);
    message.sender = Some("someone".into());
    message
}

fn group_message(id: &str, seq: u64, text: &str, at: &[&str]) -> Message {
    let mut message = incoming(id, 1_700_000_000 + seq, text);
    message.seq = Some(seq);
    if !at.is_empty() {
        message.group_at_users = Some(at.iter().map(|s| (*s).to_owned()).collect());
    }
    message
}

/// Gives the event printer a moment, so its lines follow the step that caused them.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(20)).await;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A fresh file for the demo; an app keeps one per account in its data directory.
    let path = std::env::temp_dir().join("timconv-quickstart.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    println!("Conversations are kept in {}", path.display());
    let manager = ConversationManager::builder()
        .self_user_id("me")
        .store(SqliteStore::open(&path).await?)
        .open()
        .await?;

    // Print every event as it is published.
    let mut events = manager.events();
    let printer = tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Ok(Event::Added(list)) => {
                    let ids: Vec<_> = list.iter().map(|c| c.id.to_string()).collect();
                    println!("  event: added {ids:?}");
                }
                Ok(Event::Updated(list)) => {
                    for c in list {
                        println!(
                            "  event: updated {} (unread {}, pinned {})",
                            c.id, c.unread_count, c.is_pinned
                        );
                    }
                }
                Ok(Event::TotalUnreadChanged(n)) => println!("  event: total unread = {n}"),
                Ok(other) => println!("  event: {other:?}"),
                Err(lagged) => println!("  event stream lagged: {lagged}"),
            }
        }
    });

    println!("1. Messages arrive and create conversations");
    let alice = ConversationId::c2c("alice")?;
    let bob = ConversationId::c2c("bob")?;
    let team = ConversationId::group("team")?;
    manager
        .ingest_message(&alice, incoming("a1", 1_700_000_001, "hi!"))
        .await?;
    manager
        .ingest_message(&bob, incoming("b1", 1_700_000_002, "lunch?"))
        .await?;
    manager
        .ingest_message(&team, group_message("t1", 1, "standup", &[]))
        .await?;
    manager
        .ingest_message(&team, group_message("t2", 2, "@me ping", &["me"]))
        .await?;
    // The same message delivered twice counts once.
    manager
        .ingest_message(&bob, incoming("b1", 1_700_000_002, "lunch?"))
        .await?;
    println!("   total unread: {}", manager.total_unread());

    settle().await;

    println!("2. Pin alice, star bob and the team, set a draft for bob");
    manager.pin(&alice, true).await?;
    manager
        .mark(&[bob.clone(), team.clone()], MarkFlags::STAR, true)
        .await?;
    let draft = Draft::new(Message::text("", "see you at"), "", 1_700_000_100);
    manager.set_draft(&bob, draft).await?;

    settle().await;

    println!("3. Put bob and the team in a conversation group \"work\"");
    manager
        .create_group("work", &[bob.clone(), team.clone()])
        .await?;

    settle().await;

    println!("4. Page through starred conversations, two at a time");
    let starred = ConversationFilter::new().mark(MarkFlags::STAR);
    let mut cursor = Cursor::START;
    loop {
        let page = manager.list(&starred, cursor, 2)?;
        for c in &page.conversations {
            println!(
                "   {} pinned={} unread={} groups={:?} draft={}",
                c.id,
                c.is_pinned,
                c.unread_count,
                c.groups,
                c.draft.is_some()
            );
        }
        if page.is_finished {
            break;
        }
        cursor = page.next_cursor;
    }

    settle().await;

    println!("5. Watch the total unread while cleaning");
    let mut total = manager.watch_total_unread();
    println!("   watching: total = {:?}", total.next().await);
    manager.clean_unread(CleanTarget::AllC2c, 0, 0).await?;
    println!(
        "   after cleaning all C2C: total = {:?}",
        total.next().await
    );
    manager.clean_unread(team.clone(), 0, 0).await?;
    println!(
        "   after cleaning the team: total = {:?}",
        total.next().await
    );

    settle().await;

    println!("6. The list as the C API would print it");
    let page = manager.list(&ConversationFilter::new(), Cursor::START, 10)?;
    for c in &page.conversations {
        println!("   {}", serde_json::to_string(c)?);
    }

    // Let the printer drain, then stop.
    settle().await;
    manager.shutdown().await?;
    drop(manager);
    printer.abort();

    println!("7. Reopen the file: everything is still there");
    let reopened = ConversationManager::open(&path).await?;
    for c in reopened.conversations() {
        println!(
            "   {} pinned={} marks={:#x} groups={:?} draft={} read up to {}",
            c.id,
            c.is_pinned,
            c.marks.bits(),
            c.groups,
            c.draft.is_some(),
            c.read_position()
        );
    }
    println!(
        "   groups: {:?}, total unread: {}",
        reopened.groups(),
        reopened.total_unread()
    );
    reopened.shutdown().await?;
    Ok(())
}
