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

/// An account of `n` conversations of the shape of [`super::snapshot`] (types, pins, marks,
/// conversation groups, unread, @ info, receive options: the criteria the list filters look
/// at), built as an app builds it: through the API, on a memory store, with whatever allocator
/// the bench runs with.
///
/// Conversation `i` gets the messages of `super::conversation(i, n)`, in order of `i` (so its
/// activity is newer with `i`, as the snapshot's order keys are): its 1–3 unread messages from
/// a peer (the last one mentioning "me" where the snapshot has @ info), or one message of this
/// user's own (read) otherwise. Then the 50 pins, the marks and the group memberships go through
/// `pin`, `mark`, `create_group` and `add_to_group` in batches of 100, and the 2% `NotNotify`
/// through `set_receive_option`. Pinning does not move a conversation's order key, so the list
/// order is that of the snapshot.
pub async fn build_memory(n: usize) -> ConversationManager {
    use timconv::{ConversationType, MarkFlags, ReceiveOption};

    let manager = ConversationManager::builder()
        .self_user_id("me")
        .open()
        .await
        .expect("open the manager");
    let plans: Vec<_> = (0..n).map(|i| super::conversation(i, n).0).collect();
    let mut messages = Vec::new();
    for (i, c) in plans.iter().enumerate() {
        let is_group = c.id.kind() == ConversationType::Group;
        let position = 1_000 + i as u64;
        let unread = c.unread_count;
        let count = unread.max(1);
        for j in 0..count {
            let at = position - (count - 1 - j);
            let mut m = Message::text(format!("m{i}-{j}"), "see you tomorrow");
            m.server_time = Some(at);
            if is_group {
                m.seq = Some(at);
            }
            if unread == 0 {
                m.is_from_self = Some(true);
                m.sender = Some("me".to_owned());
            } else {
                m.sender = Some(format!("user{}", i % 5_000));
                if j + 1 == count && !c.group_at_info.is_empty() {
                    m.group_at_users = Some(vec!["me".to_owned()]);
                }
            }
            messages.push((c.id.clone(), m));
        }
        if messages.len() >= 20_000 {
            ingest_all(&manager, std::mem::take(&mut messages)).await;
        }
    }
    ingest_all(&manager, messages).await;

    for c in plans.iter().filter(|c| c.is_pinned) {
        manager.pin(&c.id).await.expect("pin");
    }
    let ext32 = MarkFlags::extension(32).expect("32 is an extension bit");
    for mark in [MarkFlags::STAR, ext32] {
        let ids: Vec<_> = plans
            .iter()
            .filter(|c| c.marks.contains(mark))
            .map(|c| c.id.clone())
            .collect();
        for batch in ids.chunks(100) {
            manager
                .mark(batch, mark)
                .await
                .expect("mark")
                .into_result()
                .expect("every conversation marked");
        }
    }
    for name in super::GROUPS {
        let ids: Vec<_> = plans
            .iter()
            .filter(|c| c.folders.iter().any(|g| g == name))
            .map(|c| c.id.clone())
            .collect();
        let mut batches = ids.chunks(100);
        let Some(first) = batches.next() else {
            continue;
        };
        manager
            .create_folder(name, first)
            .await
            .expect("create a folder")
            .into_result()
            .expect("every conversation in the folder");
        for batch in batches {
            manager
                .add_to_folder(name, batch)
                .await
                .expect("add to a folder")
                .into_result()
                .expect("every conversation in the folder");
        }
    }
    for c in plans
        .iter()
        .filter(|c| c.receive_option == ReceiveOption::NotNotify)
    {
        manager
            .set_receive_option(&c.id, ReceiveOption::NotNotify)
            .await
            .expect("set the receive option");
    }
    manager
}
