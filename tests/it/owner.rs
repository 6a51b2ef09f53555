//! One owner per store file: a second manager (in this process or in another) is refused at
//! once with [`Error::StoreInUse`] (code 6019) and the file is left exactly as it was; a file
//! that is neither empty nor one of our databases, down to a single byte, is refused too.
//!
//! The other process is this test binary itself, run as
//! `<exe> owner::holder --exact --nocapture --test-threads=1` with [`DB_ENV`] set: it opens
//! the file, prints `@owner HOLDING`, holds it until its standard input closes, shuts down and
//! prints `@owner RELEASED`. Without [`DB_ENV`] the `holder` test does nothing.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use timconv::{ConversationManager, Error, SqliteStore, SqliteStoreOptions};

use crate::common::{TempDir, id, incoming};

/// The database file the holder opens.
const DB_ENV: &str = "TIMCONV_OWNER_DB";
const TAG: &str = "@owner ";

/// The store file and the SQLite files beside it, byte for byte (`None`: absent).
fn files(path: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = PathBuf::from(name);
            let bytes = std::fs::read(&file).ok();
            (file, bytes)
        })
        .collect()
}

fn assert_in_use(err: &Error, path: &Path, holder: u32, what: &str) {
    match err {
        Error::StoreInUse { path: p, holder: h } => {
            assert_eq!(p, path, "{what}: the error names the file");
            assert_eq!(*h, Some(holder), "{what}: the error names the holder");
        }
        other => panic!("{what}: expected StoreInUse, got {other:?}"),
    }
    assert_eq!(err.code().as_i32(), 6019, "{what}: {err}");
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()) && text.contains(&holder.to_string()),
        "{what}: the message names the file and the process: {text}"
    );
}

/// Writes one conversation so the file has content, and returns the open manager.
async fn owner_with_data(path: &Path) -> ConversationManager {
    let manager = ConversationManager::open(path, "me")
        .await
        .expect("the first manager opens");
    manager
        .ingest_message(&id("c2c_alice"), incoming("m1", 10))
        .await
        .expect("ingest");
    manager
}

#[tokio::test]
async fn a_second_manager_in_the_same_process_is_refused_and_changes_nothing() {
    let dir = TempDir::new("owner-same");
    let path = dir.path("conversations.db");
    let first = owner_with_data(&path).await;
    let before = files(&path);

    let me = std::process::id();
    let err = ConversationManager::open(&path, "me")
        .await
        .expect_err("a second manager is refused");
    assert_in_use(&err, &path, me, "ConversationManager::open");
    let err = SqliteStore::open(&path).await.expect_err("refused");
    assert_in_use(&err, &path, me, "SqliteStore::open");
    let err = SqliteStoreOptions::new()
        .filename(&path)
        .open()
        .await
        .expect_err("refused");
    assert_in_use(&err, &path, me, "SqliteStoreOptions::open");
    let err = ConversationManager::builder()
        .sqlite_file(&path)
        .open()
        .await
        .expect_err("refused");
    assert_in_use(&err, &path, me, "builder().sqlite_file");
    assert_eq!(files(&path), before, "the refused opens touched no file");

    // The first manager still works, and its data is what a later owner sees.
    first
        .ingest_message(&id("c2c_bob"), incoming("m2", 20))
        .await
        .expect("the owner goes on writing");
    first.shutdown().await.expect("shutdown");
    let second = ConversationManager::open(&path, "me")
        .await
        .expect("opens once the first one shut down");
    let ids: Vec<String> = second
        .list(
            &timconv::ConversationFilter::new(),
            timconv::Cursor::START,
            10,
        )
        .expect("list")
        .conversations
        .iter()
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(ids, ["c2c_bob", "c2c_alice"]);
    second.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_manager_dropped_without_shutdown_releases_the_file() {
    let dir = TempDir::new("owner-drop");
    let path = dir.path("conversations.db");
    drop(owner_with_data(&path).await);
    let store = crate::common::open_released(&path).await;
    drop(store);
}

/// The holder side of [`a_manager_in_another_process_is_refused_and_changes_nothing`].
#[test]
fn holder() {
    let Some(path) = std::env::var_os(DB_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let manager = owner_with_data(Path::new(&path)).await;
        say("HOLDING");
        // Hold until the parent closes our standard input.
        let mut sink = String::new();
        let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut sink)).await;
        manager.shutdown().await.expect("shutdown");
        say("RELEASED");
    });
}

/// One flushed line for the parent (which may be gone already: then nobody needs it).
fn say(what: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_all(format!("{TAG}{what}\n").as_bytes())
        .and_then(|()| out.flush());
}

#[cfg(unix)]
#[tokio::test]
async fn a_manager_in_another_process_is_refused_and_changes_nothing() {
    let dir = TempDir::new("owner-other");
    let path = dir.path("conversations.db");
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "owner::holder",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DB_ENV, &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the holder starts");
    let pid = child.id();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest's own "test owner::holder ... " may start the same line.
            if let Some(at) = line.find(TAG) {
                let _ = lines_tx.send(line[at + TAG.len()..].trim_end().to_owned());
            }
        }
    });
    let next = |what: &str| {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
        assert_eq!(line, what);
    };
    next("HOLDING");
    let before = files(&path);

    let err = ConversationManager::open(&path, "me")
        .await
        .expect_err("the other process holds the file");
    assert_in_use(&err, &path, pid, "ConversationManager::open");
    let err = SqliteStore::open(&path).await.expect_err("refused");
    assert_in_use(&err, &path, pid, "SqliteStore::open");
    assert_eq!(files(&path), before, "the refused opens touched no file");

    drop(child.stdin.take()); // let it go
    next("RELEASED");
    assert!(child.wait().expect("the holder exits").success());

    let manager = ConversationManager::open(&path, "me")
        .await
        .expect("opens once the other process let go");
    let got = manager.get(&id("c2c_alice"));
    assert!(got.is_some(), "the holder's write is there");
    manager.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_one_byte_file_is_refused_untouched() {
    let dir = TempDir::new("owner-byte");
    for byte in [0u8, b'x', 0xff] {
        let path = dir.path(&format!("one-{byte}.db"));
        std::fs::write(&path, [byte]).expect("write");
        let err = ConversationManager::open(&path, "me")
            .await
            .expect_err("a one-byte file is not a new store");
        assert!(
            matches!(err, Error::CorruptDatabase { .. }),
            "byte {byte}: expected CorruptDatabase, got {err:?}"
        );
        assert_eq!(err.code().as_i32(), 6019);
        assert_eq!(std::fs::read(&path).expect("read"), [byte], "unchanged");
    }
    // An empty file is a new store.
    let path = dir.path("empty.db");
    std::fs::write(&path, []).expect("write");
    let manager = ConversationManager::open(&path, "me")
        .await
        .expect("an empty file is taken as a new store");
    manager.shutdown().await.expect("shutdown");
}
