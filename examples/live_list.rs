//! A small terminal view driven by a live list: a window of 10 rows, a total-unread badge and
//! a filter switch ("All" / "Unread"), redrawn from the diffs it applies. Each diff is printed
//! as it is applied.
//!
//! Run with `cargo run --example live_list`.
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use futures::StreamExt;
use timconv::live::{LiveList, Vector, VectorDiff};
use timconv::{Conversation, ConversationFilter, ConversationId, ConversationManager, Message};

/// One line of a diff, as the view logs it.
fn describe(diff: &VectorDiff<Arc<Conversation>>) -> String {
    match diff {
        VectorDiff::Insert { index, value } => format!("insert {index}: {}", value.id),
        VectorDiff::Remove { index } => format!("remove {index}"),
        VectorDiff::Set { index, value } => format!("replace {index}: {}", value.id),
        VectorDiff::Append { values } => format!("append {} rows", values.len()),
        VectorDiff::Truncate { length } => format!("truncate to {length}"),
        VectorDiff::Reset { values } => format!("reset to {} rows", values.len()),
        other => format!("{other:?}"),
    }
}

/// Draws the screen: the tab, the badge and the rows.
fn draw(tab: &str, badge: u64, rows: &Vector<Arc<Conversation>>) {
    println!("+-- {tab:<6} {} unread: {badge:>3} --+", "-".repeat(29));
    for c in rows {
        let pin = if c.is_pinned { "^" } else { " " };
        let unread = if c.unread_count > 0 {
            format!("({})", c.unread_count)
        } else {
            String::new()
        };
        let text = c
            .last_message
            .as_ref()
            .and_then(|m| m.text_content())
            .unwrap_or_default();
        println!("| {pin} {:<14} {unread:<5} {text:<29} |", c.id.peer());
    }
    println!("+{}+", "-".repeat(54));
}

fn message(id: &str, position: u64, text: &str) -> Message {
    let mut m = Message::text(id, text);
    m.server_time = Some(position);
    m.seq = Some(position);
    m.sender = Some("friend".to_owned());
    m
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), timconv::Error> {
    let manager = ConversationManager::builder()
        .in_memory()
        .self_user_id("me")
        .open()
        .await?;
    let people = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"];
    for (n, who) in people.iter().enumerate() {
        let id = ConversationId::c2c(who)?;
        manager
            .ingest_message(&id, message(&format!("m{n}"), 100 + n as u64, "hello"))
            .await?;
    }
    manager
        .clean_unread(timconv::CleanTarget::All, timconv::ReadUpTo::Everything)
        .await?;

    let LiveList {
        window,
        mut diffs,
        controller,
        ..
    } = manager.watch_list(&ConversationFilter::new(), 10)?;
    let mut badge = manager.watch_total_unread();
    let mut rows = window;
    let mut unread = badge.next().await.unwrap_or(0);
    let mut tab = "All";
    draw(tab, unread, &rows);

    // What happens while the user looks at the screen: each step, then the redraw.
    let bob = ConversationId::c2c("bob")?;
    let erin = ConversationId::c2c("erin")?;
    let steps: Vec<(&str, Step)> = vec![
        ("bob writes", Step::Message(bob.clone(), "are you there?")),
        ("erin writes", Step::Message(erin.clone(), "lunch?")),
        ("switch to Unread", Step::Filter("Unread")),
        (
            "open bob's chat (kept visible) and read it",
            Step::OpenAndRead(bob.clone()),
        ),
        ("close bob's chat", Step::Close(bob.clone())),
        ("switch to All", Step::Filter("All")),
        ("pin erin", Step::Pin(erin.clone())),
    ];
    for (n, (what, step)) in steps.into_iter().enumerate() {
        println!("\n> {what}");
        match step {
            Step::Message(id, text) => {
                manager
                    .ingest_message(&id, message(&format!("s{n}"), 200 + n as u64, text))
                    .await?;
            }
            Step::Filter(name) => {
                tab = name;
                let filter = match name {
                    "Unread" => ConversationFilter::new().has_unread(true),
                    _ => ConversationFilter::new(),
                };
                controller.set_filter(filter)?;
            }
            Step::OpenAndRead(id) => {
                controller.keep_visible(&id);
                manager
                    .clean_unread(id, timconv::ReadUpTo::Everything)
                    .await?;
            }
            Step::Close(id) => controller.release(&id),
            Step::Pin(id) => manager.pin(&id).await?,
        }
        if let Some(batch) = diffs.next().await {
            for diff in batch {
                println!("  diff: {}", describe(&diff));
                diff.apply(&mut rows);
            }
        }
        // The badge: take the newest count if it changed.
        while let Some(Some(count)) = futures::FutureExt::now_or_never(badge.next()) {
            unread = count;
        }
        draw(tab, unread, &rows);
    }
    manager.shutdown().await?;
    Ok(())
}

/// A step of the scripted session.
enum Step {
    Message(ConversationId, &'static str),
    Filter(&'static str),
    OpenAndRead(ConversationId),
    Close(ConversationId),
    Pin(ConversationId),
}
