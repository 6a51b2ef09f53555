//! The main job of `timconv`, end to end, on a SQLite file: conversations created by messages,
//! pinned, marked, drafted, put in folders, paged through with a filter, the total unread
//! watched while cleaning, and everything still there after a restart.
//!
//! Run with `cargo run --example quickstart`.
#![allow(clippy::print_stdout)] // an example prints what it does

use std::time::Duration;

use futures::StreamExt;
use timconv::{
    CleanTarget, ConversationFilter, ConversationId, ConversationManager, Cursor, Draft, Event,
    MarkFlags, Message, ReadUpTo,
};

fn incoming(id: &str, server_time: u64, text: &str) -> Message {
    Message::builder()
        .msg_id(id)
        .server_time(server_time)
        .sender("someone")
        .text(text)
        .build()
}

fn group_message(id: &str, seq: u64, text: &str, at: &[&str]) -> Message {
    let mut message = Message::builder()
        .msg_id(id)
        .seq(seq)
        .server_time(1_700_000_000 + seq)
        .sender("someone")
        .text(text);
    if !at.is_empty() {
        message = message.at_users(at.iter().copied());
    }
    message.build()
}

/// Gives the event printer a moment, so its lines follow the step that caused them.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(20)).await;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A fresh file for the demo; an app keeps one per account in its data directory.
    let path = std::env::temp_dir().join("timconv-quickstart.db");
    for suffix in ["", "-wal", "-shm", "-lock"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    println!("Conversations are kept in {}", path.display());
    // The logged-in user's ID recognises @me mentions.
    let manager = ConversationManager::open(&path, "me").await?;

    // Print every event as it is published; the stream ends when the manager shuts down.
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
        .ingest_messages([
            (team.clone(), group_message("t1", 1, "standup", &[])),
            (team.clone(), group_message("t2", 2, "@me ping", &["me"])),
        ])
        .await?;
    // The same message delivered twice counts once.
    manager
        .ingest_message(&bob, incoming("b1", 1_700_000_002, "lunch?"))
        .await?;
    println!("   total unread: {}", manager.total_unread());

    settle().await;

    println!("2. Pin alice, star bob and the team, set a draft for bob");
    manager.pin(&alice).await?;
    manager
        .mark([&bob, &team], MarkFlags::STAR)
        .await?
        .into_result()?;
    let draft = Draft::new(Message::text("", "see you at"), "", 1_700_000_100);
    manager.set_draft(&bob, draft).await?;

    settle().await;

    println!("3. Put bob and the team in a folder \"work\"");
    manager
        .create_folder("work", [&bob, &team])
        .await?
        .into_result()?;

    settle().await;

    println!("4. Page through starred conversations, two at a time");
    let starred = ConversationFilter::new().mark(MarkFlags::STAR);
    let mut cursor = Cursor::START;
    loop {
        let page = manager.list(&starred, cursor, 2)?;
        for c in &page.conversations {
            println!(
                "   {} pinned={} unread={} folders={:?} draft={}",
                c.id,
                c.is_pinned,
                c.unread_count,
                c.folders,
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
    manager
        .clean_unread(CleanTarget::AllC2c, ReadUpTo::Everything)
        .await?;
    println!(
        "   after cleaning all C2C: total = {:?}",
        total.next().await
    );
    manager.clean_unread(&team, ReadUpTo::Sequence(2)).await?;
    println!(
        "   after reading the team up to sequence 2: total = {:?}",
        total.next().await
    );

    settle().await;

    println!("6. The list as the C API would print it");
    let page = manager.list(&ConversationFilter::new(), Cursor::START, 10)?;
    for c in &page.conversations {
        println!("   {}", serde_json::to_string(c)?);
    }

    // Shut down: the file is released, and the event stream ends.
    manager.shutdown().await?;
    printer.await?;

    println!("7. Reopen the file: everything is still there");
    let reopened = ConversationManager::open(&path, "me").await?;
    for c in reopened.conversations() {
        println!(
            "   {} pinned={} marks={:#x} folders={:?} draft={} read up to {}",
            c.id,
            c.is_pinned,
            c.marks.bits(),
            c.folders,
            c.draft.is_some(),
            c.read_position()
        );
    }
    println!(
        "   folders: {:?}, total unread: {}",
        reopened.folders(),
        reopened.total_unread()
    );
    reopened.shutdown().await?;
    Ok(())
}
