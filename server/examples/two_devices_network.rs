//! Two devices of one user syncing through a real `timconv-server` on 127.0.0.1 (over an
//! in-memory SQLite database): what one does, the other sees, but not its drafts.
//!
//! Run with `cargo run -p timconv-server --example two_devices_network`.
#![allow(clippy::print_stdout)] // an example prints what it does

use std::time::Duration;

use timconv::transport::network::NetworkTransport;
use timconv::{
    ConversationId, ConversationManager, Draft, MarkFlags, Message, SqliteStoreOptions, SyncOptions,
};

async fn open_device(
    url: &str,
    token: &str,
    name: &str,
    dir: &std::path::Path,
) -> Result<ConversationManager, Box<dyn std::error::Error>> {
    let transport = NetworkTransport::new(url, token, name)?;
    Ok(ConversationManager::builder()
        .sqlite(SqliteStoreOptions::new().filename(dir.join(format!("{name}.db"))))
        .self_user_id("alice")
        .transport(transport)
        .sync_options(SyncOptions::default().poll_interval(None))
        .open()
        .await?)
}

fn show(name: &str, device: &ConversationManager) {
    println!("  {name} sees:");
    for c in device.conversations() {
        println!(
            "    {:<12} pinned={:<5} starred={:<5} unread={} folders={:?} draft={}",
            c.id.to_string(),
            c.is_pinned,
            c.marks.contains(MarkFlags::STAR),
            c.unread_count,
            c.folders,
            c.draft.is_some()
        );
    }
}

/// Waits (at most two seconds) for the other device's hint to arrive and be pulled.
async fn settle(a: &ConversationManager, b: &ConversationManager) {
    for _ in 0..200 {
        if a.pending_operations() == 0 && b.pending_operations() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("timconv-network-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let options = timconv_server::Options::new("sqlite::memory:", "example secret", "admin");
    let server = timconv_server::start(options).await?;
    let url = server.url();
    println!("server listening on {url}");
    let token = server.keys().mint("alice", 3600);

    // The rest of the world: bob writes to alice, through the admin endpoint.
    let bob = ConversationId::c2c("bob")?;
    let mut hello = Message::text("m1", "hello alice");
    hello.server_time = Some(1_700_000_000);
    hello.sender = Some("bob".into());
    let body = serde_json::json!({"user": "alice", "conversation": bob, "message": hello});
    reqwest::Client::new()
        .post(format!("{url}/admin/v1/deliver"))
        .header("authorization", "Bearer admin")
        .body(body.to_string())
        .send()
        .await?;

    let phone = open_device(&url, &token, "phone", &dir).await?;
    let laptop = open_device(&url, &token, "laptop", &dir).await?;
    phone.sync().await?;
    laptop.sync().await?;
    println!("both devices open");
    show("phone", &phone);
    show("laptop", &laptop);

    println!("the phone pins and stars bob, files him in \"friends\" and writes a draft");
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
        .set_draft(&bob, Draft::new(Message::text("", "see you"), "", 1))
        .await?;
    settle(&phone, &laptop).await;
    show("phone", &phone);
    show("laptop", &laptop);

    println!("the laptop reads the conversation");
    laptop
        .clean_unread(bob.clone(), timconv::ReadUpTo::Everything)
        .await?;
    settle(&phone, &laptop).await;
    show("phone", &phone);
    show("laptop", &laptop);

    phone.shutdown().await?;
    laptop.shutdown().await?;
    server.shutdown().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
