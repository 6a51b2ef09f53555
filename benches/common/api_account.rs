//! Accounts built as an app builds them: through the public API (`ingest_message`), on a SQLite
//! file, with the system allocator. A heap and a file built by calls are what an app has, not
//! the compact ones a prebuilt snapshot gives.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use timconv::{ConversationId, ConversationManager, Message, SqliteStore};

/// The ID of conversation `i` of an API-built account: 30% groups, as in `common::snapshot`.
pub fn api_conversation(i: usize) -> ConversationId {
    super::conversation_id(i)
}

/// Message `k` of a burst over an account of `n`: a new last message from a peer, past the read
/// position (one more unread), newer than anything before it (its conversation moves to the
/// top). Conversation `(k mod n) × 48,271 mod n`: scattered over the file, not in row order.
pub fn burst_message(k: usize, n: usize, base: u64) -> (ConversationId, Message) {
    let i = ((k % n) * 48_271) % n;
    let id = api_conversation(i);
    let position = base + k as u64 + 1;
    let mut m = Message::text(format!("b{base}-{k}"), "see you tomorrow");
    m.sender = Some(format!("user{}", i % 5_000));
    m.server_time = Some(position);
    if id.kind() == timconv::ConversationType::Group {
        m.seq = Some(position);
    }
    (id, m)
}

/// Ingests `messages` all at once (every call queued before any is awaited, on the runtime's
/// workers), and waits for every acknowledgement.
pub async fn ingest_all(manager: &ConversationManager, messages: Vec<(ConversationId, Message)>) {
    let mut tasks = tokio::task::JoinSet::new();
    for (id, message) in messages {
        let m = manager.clone();
        tasks.spawn(async move { m.ingest_message(&id, message).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("an ingest task").expect("an ingest");
    }
}

/// Writes an account of `n` conversations at `path` through the API: one message to each
/// conversation, in bursts, then a clean shutdown. Cached per process under `dir`.
pub async fn build(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join(format!("api-account-{n}.db"));
    if path.exists() {
        return path;
    }
    let manager = ConversationManager::builder()
        .self_user_id("me")
        .store(
            SqliteStore::open(&path)
                .await
                .expect("create the account file"),
        )
        .open()
        .await
        .expect("open the manager");
    let manager = Arc::new(manager);
    for chunk in (0..n).collect::<Vec<_>>().chunks(50_000) {
        let messages = chunk
            .iter()
            .map(|&i| {
                let id = api_conversation(i);
                let position = 1_000 + i as u64;
                let mut m = Message::text(format!("m{i}"), "see you tomorrow");
                m.sender = Some(format!("user{}", i % 5_000));
                m.server_time = Some(position);
                if id.kind() == timconv::ConversationType::Group {
                    m.seq = Some(position);
                }
                (id, m)
            })
            .collect();
        ingest_all(&manager, messages).await;
    }
    manager.shutdown().await.expect("shut the account down");
    path
}

/// Copies a closed database file (and its WAL, if any) to `to`.
pub fn copy_database(from: &Path, to: &Path) {
    std::fs::copy(from, to).expect("copy the database");
    let mut src = from.as_os_str().to_owned();
    src.push("-wal");
    let mut dst = to.as_os_str().to_owned();
    dst.push("-wal");
    let (src, dst) = (PathBuf::from(src), PathBuf::from(dst));
    if src.exists() {
        std::fs::copy(&src, &dst).expect("copy the WAL");
    } else {
        let _ = std::fs::remove_file(&dst);
    }
    let file = std::fs::File::open(to).expect("open the copy");
    file.sync_all().expect("sync the copy");
}

/// Removes a database file and its companions.
pub fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-lock", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}
