//! The SQLite store in bad situations (issue 3): files that are not databases or are damaged,
//! files from a newer or an older schema, permissions, missing files, readers and writers at
//! once, and the options that change how the file is opened.
//!
//! What both backends promise alike is in `conformance.rs`; this module holds what only a
//! file can get wrong.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use timconv::store::{SqliteStoreOptions, Synchronous};
use timconv::{
    ConversationFilter, ConversationId, ConversationManager, ConversationType, Cursor, Draft,
    Error, GroupAtType, GroupType, IngestOutcome, MarkFlags, Message, Profile, ReceiveOption,
    SqliteStore,
};
use tokio::task::JoinSet;

use crate::common::{Rng, TempDir, id, incoming, outgoing, set_marks};

// ---------------------------------------------------------------------------------------------
// Helpers.

/// A file next to the database: its `-wal` or `-shm`.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A file's bytes, `None` if it does not exist.
fn read_if_exists(path: &Path) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("reading {}: {e}", path.display()),
    }
}

/// The database file and its WAL, byte for byte. An empty WAL counts as none: SQLite treats
/// them alike, and a read-only connection to a WAL database may leave an empty one behind.
fn contents(path: &Path) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let wal = read_if_exists(&sidecar(path, "-wal")).filter(|wal| !wal.is_empty());
    (read_if_exists(path), wal)
}

/// Asserts two [`contents`] are the same, describing the first difference without dumping
/// the bytes.
fn assert_same_contents(
    after: &(Option<Vec<u8>>, Option<Vec<u8>>),
    before: &(Option<Vec<u8>>, Option<Vec<u8>>),
    what: &str,
) {
    for (name, a, b) in [("file", &after.0, &before.0), ("WAL", &after.1, &before.1)] {
        match (a, b) {
            (Some(a), Some(b)) if a != b => {
                let at = a.iter().zip(b).position(|(x, y)| x != y);
                panic!(
                    "{what}: the {name} changed: {} bytes, was {}; first difference at {at:?}",
                    a.len(),
                    b.len()
                );
            }
            (None, Some(_)) => panic!("{what}: the {name} disappeared"),
            (Some(a), None) => panic!("{what}: a {name} of {} bytes appeared", a.len()),
            _ => {}
        }
    }
}

/// Asserts the file holds everything itself: the WAL was checkpointed and removed (or left
/// empty) when the last connection closed.
fn assert_self_contained(path: &Path) {
    let wal = read_if_exists(&sidecar(path, "-wal")).unwrap_or_default();
    assert!(
        wal.is_empty(),
        "{} bytes left in the WAL after shutdown",
        wal.len()
    );
}

/// Deterministic garbage (xorshift), so a failure replays.
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A manager on the SQLite file at `path`, logged in as `me`.
async fn open_manager(path: &Path) -> ConversationManager {
    ConversationManager::builder()
        .self_user_id("me")
        .store(SqliteStore::open(path).await.expect("the store opens"))
        .open()
        .await
        .expect("the manager opens")
}

/// A store file at `dir/name` with `count` conversations (long names, so it spans many
/// pages), shut down so that the file is complete on its own.
async fn populated_file(dir: &TempDir, name: &str, count: usize) -> PathBuf {
    let path = dir.path(name);
    let m = open_manager(&path).await;
    let convs: Vec<ConversationId> = (0..count).map(|n| id(&format!("c2c_u{n}"))).collect();
    let results = futures::future::join_all(
        convs
            .iter()
            .enumerate()
            .map(|(n, c)| m.ingest_message(c, incoming(&format!("m{n}"), n as u64 + 1))),
    )
    .await;
    assert!(results.iter().all(Result::is_ok), "seeding failed");
    for chunk in convs.chunks(100) {
        m.set_custom_data(chunk, "x".repeat(200).as_str())
            .await
            .expect("custom data is set")
            .into_result()
            .expect("custom data is set");
    }
    m.create_folder("seeded", &convs[..count.min(10)])
        .await
        .expect("the group is created")
        .into_result()
        .expect("the group is created");
    m.shutdown().await.expect("shutdown");
    assert_self_contained(&path);
    path
}

/// A plain connection to the file, as another program would open it.
async fn raw_connection(path: &Path, read_only: bool) -> SqliteConnection {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(read_only)
        .connect()
        .await
        .expect("a raw connection opens")
}

/// Asserts `err` is an I/O error (6022) naming `path`.
fn assert_io(err: &Error, path: &Path) {
    assert!(
        matches!(err, Error::Io { path: p, .. } if p == path),
        "{err:?} names {}",
        path.display()
    );
    assert_eq!(err.code().as_i32(), 6022);
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "the path is in {err}"
    );
}

/// Asserts `err` says the database is damaged or not one (6019).
fn assert_corrupt(err: &Error, what: &str) {
    assert!(
        matches!(err, Error::CorruptDatabase(_)),
        "{what}: expected CorruptDatabase, got {err:?}"
    );
    assert_eq!(err.code().as_i32(), 6019, "{what}: {err}");
    assert!(!err.to_string().is_empty());
}

/// The permission bits of a file.
#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("the file exists")
        .permissions()
        .mode()
        & 0o777
}

/// What `requested` becomes once the process umask is applied, measured on a probe file.
#[cfg(unix)]
fn after_umask(dir: &TempDir, requested: u32) -> u32 {
    use std::os::unix::fs::OpenOptionsExt;
    let probe = dir.path("umask-probe");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o777)
        .open(&probe)
        .expect("create the probe");
    let umask = !mode(&probe) & 0o777;
    std::fs::remove_file(&probe).expect("remove the probe");
    requested & !umask
}

// ---------------------------------------------------------------------------------------------
// Files that are not databases, or are damaged.

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_untouched() {
    let dir = TempDir::new("notadb");
    let path = dir.path("conversations.db");
    let text: Vec<u8> = "This is a text file, not a SQLite database.\n"
        .repeat(100)
        .into_bytes()[..4096]
        .to_vec();
    std::fs::write(&path, &text).unwrap();

    let err = SqliteStore::open(&path).await.expect_err("refused");
    assert_corrupt(&err, "SqliteStore::open");
    let err = ConversationManager::open(&path, "me")
        .await
        .expect_err("refused");
    assert_corrupt(&err, "ConversationManager::open");
    let err = SqliteStoreOptions::new()
        .filename(&path)
        .synchronous(Synchronous::Full)
        .open()
        .await
        .expect_err("refused");
    assert_corrupt(&err, "SqliteStoreOptions::open");

    assert_eq!(std::fs::read(&path).unwrap(), text, "the file is unchanged");
    assert!(!sidecar(&path, "-wal").exists());
}

/// Another application's SQLite database is refused and left as it was: no timconv tables,
/// no migration history written into it.
#[tokio::test]
async fn another_applications_database_is_refused_untouched() {
    let dir = TempDir::new("foreign");
    let path = dir.path("theirs.db");
    {
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let mut conn = options.connect().await.unwrap();
        sqlx::query("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO notes (body) VALUES ('keep me')")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = SqliteStore::open(&path).await.expect_err("refused");
    assert_corrupt(&err, "a foreign database");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is unchanged"
    );
}

#[tokio::test]
async fn paths_that_cannot_hold_a_database_are_errors() {
    let dir = TempDir::new("bad-paths");
    // A directory.
    let folder = dir.path("folder.db");
    std::fs::create_dir(&folder).unwrap();
    let err = SqliteStore::open(&folder).await.expect_err("a directory");
    assert_io(&err, &folder);
    // A file in a directory that does not exist: nothing is created on the way.
    let nested = dir.path("missing/conversations.db");
    let err = SqliteStore::open(&nested).await.expect_err("no parent");
    assert!(
        matches!(&err, Error::Io { path, .. } if path.starts_with(dir.path("missing"))),
        "{err:?}"
    );
    assert_eq!(err.code().as_i32(), 6022);
    assert!(err.to_string().contains("missing"), "the path is in {err}");
    assert!(!dir.path("missing").exists());
}

#[tokio::test]
async fn an_empty_file_becomes_a_store() {
    // SQLite reads an empty file as an empty database (`touch` then open).
    let dir = TempDir::new("empty-file");
    let path = dir.path("conversations.db");
    std::fs::write(&path, b"").unwrap();
    let m = open_manager(&path).await;
    m.ingest_message(&id("c2c_a"), incoming("1", 1))
        .await
        .unwrap();
    m.shutdown().await.unwrap();
    let m = open_manager(&path).await;
    assert_eq!(m.len(), 1);
    m.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_database_overwritten_from_page_two_gives_a_clear_error() {
    let dir = TempDir::new("corrupt");
    let path = populated_file(&dir, "conversations.db", 300).await;
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 8 * 4096, "the file spans many pages");
    // Page 1 (the header and the schema) stays; every page after it is garbage.
    let len = bytes.len();
    bytes[4096..len].copy_from_slice(&garbage(len - 4096, 7));
    std::fs::write(&path, &bytes).unwrap();

    // Refused when opening, or when loading; never a panic, never an empty list.
    match SqliteStore::open(&path).await {
        Err(err) => assert_corrupt(&err, "open"),
        Ok(store) => {
            let err = ConversationManager::builder()
                .store(store)
                .open()
                .await
                .expect_err("loading a corrupt file fails");
            assert_corrupt(&err, "load");
        }
    }
    let err = ConversationManager::open(&path, "me")
        .await
        .expect_err("refused");
    assert_corrupt(&err, "ConversationManager::open");
}

#[tokio::test]
async fn a_damaged_page_in_the_middle_is_reported() {
    let dir = TempDir::new("damaged");
    let path = populated_file(&dir, "conversations.db", 300).await;
    // The store leaves free pages where its journal of recent commits was folded away (to be
    // reused by the next commits); compact the file so that the pages damaged hold data.
    let mut conn = raw_connection(&path, false).await;
    sqlx::query("VACUUM").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    assert_self_contained(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    let pages = bytes.len() / 4096;
    assert!(pages > 8);
    for (n, page) in [pages / 2, pages / 2 + 1].into_iter().enumerate() {
        let start = page * 4096;
        bytes[start..start + 4096].copy_from_slice(&garbage(4096, 11 + n as u64));
    }
    std::fs::write(&path, &bytes).unwrap();

    // Whichever table the page belonged to, one of opening, loading or the integrity check
    // reports it, as a CorruptDatabase error.
    let store = match SqliteStore::open(&path).await {
        Err(err) => return assert_corrupt(&err, "open"),
        Ok(store) => store,
    };
    let err = store
        .check_integrity()
        .await
        .expect_err("the integrity check finds the damage");
    assert_corrupt(&err, "check_integrity");
    match ConversationManager::builder().store(store).open().await {
        Err(err) => assert_corrupt(&err, "load"),
        Ok(m) => {
            // Loaded what could be read; writes may fail, but only with an error.
            let _ = m.create_conversation(&id("c2c_after")).await;
            let _ = m.shutdown().await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Schema versions.

/// Records version 9999 as applied in `_sqlx_migrations`, filling the columns the table has
/// (read with `PRAGMA table_info`, so that a column sqlx adds later does not break this).
async fn record_future_migration(conn: &mut SqliteConnection) {
    let columns: Vec<(i64, String, String, i64, Option<String>, i64)> =
        sqlx::query_as("PRAGMA table_info(_sqlx_migrations)")
            .fetch_all(&mut *conn)
            .await
            .expect("the columns of _sqlx_migrations");
    let names: HashSet<&str> = columns.iter().map(|c| c.1.as_str()).collect();
    for needed in ["version", "success", "checksum"] {
        assert!(names.contains(needed), "_sqlx_migrations has no {needed}");
    }
    let mut insert_columns = Vec::new();
    let mut values = Vec::new();
    for (_, name, ty, not_null, default, _) in &columns {
        let value = match name.as_str() {
            "version" => "9999".to_owned(),
            "success" => "1".to_owned(),
            "checksum" => "X'00112233445566778899AABBCCDDEEFF'".to_owned(),
            "description" => "'from a newer timconv'".to_owned(),
            _ if *not_null == 0 || default.is_some() => continue,
            _ if ty.to_uppercase().contains("INT") => "0".to_owned(),
            _ if ty.to_uppercase().contains("BLOB") => "X''".to_owned(),
            _ => "''".to_owned(),
        };
        insert_columns.push(name.clone());
        values.push(value);
    }
    let sql = format!(
        "INSERT INTO _sqlx_migrations ({}) VALUES ({})",
        insert_columns.join(", "),
        values.join(", ")
    );
    sqlx::query(AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .expect("version 9999 is recorded");
}

fn assert_unsupported(err: &Error, what: &str) {
    match err {
        Error::UnsupportedSchema { found, supported } => {
            assert_eq!(*found, 9999, "{what}");
            assert_eq!(*supported, SqliteStore::schema_version(), "{what}");
        }
        other => panic!("{what}: expected UnsupportedSchema, got {other:?}"),
    }
    assert_eq!(err.code().as_i32(), 6019);
}

#[tokio::test]
async fn a_file_from_a_newer_schema_is_refused_untouched() {
    let dir = TempDir::new("newer");
    let path = populated_file(&dir, "conversations.db", 20).await;
    let mut conn = raw_connection(&path, false).await;
    record_future_migration(&mut conn).await;
    conn.close().await.unwrap();
    let before = contents(&path);
    assert!(before.0.is_some());

    let err = SqliteStore::open(&path).await.expect_err("refused");
    assert_unsupported(&err, "SqliteStore::open");
    let err = ConversationManager::open(&path, "me")
        .await
        .expect_err("refused");
    assert_unsupported(&err, "ConversationManager::open");
    assert_same_contents(&contents(&path), &before, "after the refusals");
}

#[tokio::test]
async fn a_newer_schema_still_in_the_wal_is_refused_untouched() {
    let dir = TempDir::new("newer-wal");
    let path = populated_file(&dir, "conversations.db", 20).await;
    // Another program holds the file open: its change is in the WAL, not yet in the file.
    let mut conn = raw_connection(&path, false).await;
    sqlx::query("PRAGMA wal_autocheckpoint = 0")
        .execute(&mut conn)
        .await
        .unwrap();
    record_future_migration(&mut conn).await;
    let before = contents(&path);
    assert!(
        before.1.as_ref().is_some_and(|wal| !wal.is_empty()),
        "the change is in the WAL"
    );

    let err = SqliteStore::open(&path).await.expect_err("refused");
    assert_unsupported(&err, "SqliteStore::open");
    assert_same_contents(&contents(&path), &before, "after the refusals");
    conn.close().await.unwrap();
}

/// The fixture made by schema version 1. Each future schema change adds one more fixture,
/// made by the schema before it (`schema_v2.db` by the code of version 2, ...), and a test
/// like [`a_file_from_schema_v1_opens_with_the_current_code`] that opens it with the current
/// code, so that every older file a user may have keeps opening.
/// A copy of `fixture` in a fresh directory (a fixture is never opened in place: opening
/// writes), and the fixture's bytes, to check later that it was left alone.
fn copy_fixture(fixture: &Path, label: &str) -> (TempDir, PathBuf, Vec<u8>) {
    let original = std::fs::read(fixture).expect("the fixture exists");
    assert!(
        !sidecar(fixture, "-wal").exists(),
        "the fixture must be self-contained"
    );
    let dir = TempDir::new(label);
    let path = dir.path("conversations.db");
    std::fs::copy(fixture, &path).expect("copy the fixture");
    (dir, path, original)
}

fn schema_v1_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema_v1.db")
}

/// Regenerates `tests/fixtures/schema_v1.db`. Only valid while schema version 1 is the current
/// one; once a later schema exists the fixture must stay as it is. Run with:
///
/// `cargo test --test it sqlite::regenerate_schema_v1_fixture -- --ignored`
///
/// then update the order keys in [`a_file_from_schema_v1_opens_with_the_current_code`] from
/// what it prints.
#[tokio::test]
#[ignore = "writes tests/fixtures/schema_v1.db; run by hand"]
async fn regenerate_schema_v1_fixture() {
    assert_eq!(
        SqliteStore::schema_version(),
        1,
        "the v1 fixture must be made by schema version 1"
    );
    let dir = TempDir::new("fixture");
    let path = dir.path("schema_v1.db");
    let m = open_manager(&path).await;
    let (alice, bob, carol) = (id("c2c_alice"), id("c2c_bob"), id("c2c_carol"));
    let (team, room) = (id("group_team"), id("group_room"));

    // alice: pinned, marked (an extension bit), custom data that is not UTF-8, read up to
    // her first message, two unread.
    for n in 1..=3 {
        m.ingest_message(&alice, incoming(&format!("a{n}"), 1_700_000_000 + n))
            .await
            .unwrap();
    }
    m.clean_unread(
        alice.clone(),
        timconv::ReadUpTo::Positions {
            timestamp: Some(1_700_000_001),
            sequence: None,
        },
    )
    .await
    .unwrap();
    m.set_profile(
        &alice,
        Profile::new()
            .show_name("Alice")
            .face_url("https://example.com/alice.png"),
    )
    .await
    .unwrap();
    m.pin(&alice).await.unwrap();
    m.mark(std::slice::from_ref(&alice), MarkFlags::STAR | ext(32))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.set_custom_data(std::slice::from_ref(&alice), vec![0xff, 0x00, 0x41])
        .await
        .unwrap()
        .into_result()
        .unwrap();

    // team: a private group, read up to sequence 1, an @me left unread.
    m.ingest_message(&team, incoming("t1", 1)).await.unwrap();
    m.ingest_message(&team, incoming("t2", 2)).await.unwrap();
    let mut at_me = incoming("t3", 3);
    at_me.group_at_users = Some(vec!["me".into()]);
    m.ingest_message(&team, at_me).await.unwrap();
    m.clean_unread(
        team.clone(),
        timconv::ReadUpTo::Positions {
            timestamp: None,
            sequence: Some(1),
        },
    )
    .await
    .unwrap();
    m.set_group_type(&team, GroupType::Private).await.unwrap();
    m.mark(std::slice::from_ref(&team), MarkFlags::FOLD | ext(63))
        .await
        .unwrap()
        .into_result()
        .unwrap();

    // carol: deleted, leaving a tombstone.
    m.ingest_message(&carol, incoming("c1", 1_700_000_010))
        .await
        .unwrap();
    m.delete(&carol, timconv::MessageHistory::Clear)
        .await
        .unwrap();

    // bob: an own message, a draft, not notified.
    m.ingest_message(&bob, outgoing("b1", 1_700_000_020))
        .await
        .unwrap();
    m.set_receive_option(&bob, ReceiveOption::NotNotify)
        .await
        .unwrap();
    m.set_draft(
        &bob,
        Draft::new(Message::text("", "unsent"), "user define", 1_551_271_429),
    )
    .await
    .unwrap();

    // room: a last message with unknown keys, an unknown group type.
    m.ingest_message(&room, fixture_room_message())
        .await
        .unwrap();
    m.set_group_type(&room, GroupType::Unknown(77))
        .await
        .unwrap();
    m.set_receive_option(&room, ReceiveOption::NotReceiveExceptAt)
        .await
        .unwrap();

    // Groups: alice and team in friends; team and bob in work (team joined friends first);
    // an empty group created as "old" and renamed.
    m.create_folder("friends", &[alice.clone(), team.clone()])
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.create_folder("work", &[team.clone(), bob.clone()])
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.create_folder("old", &[id("c2c_nobody")])
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.rename_folder("old", "archive").await.unwrap();

    for c in m.conversations() {
        println!("{}: order key {}", c.id, c.order_key);
    }
    m.shutdown().await.unwrap();
    assert_self_contained(&path);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < 100 * 1024, "the fixture is {size} bytes");
    std::fs::copy(&path, schema_v1_fixture()).unwrap();
    // A fixture, not a user's data: readable like the other files of the repository.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(schema_v1_fixture(), std::fs::Permissions::from_mode(0o644))
            .unwrap();
    }
    println!("wrote {} ({size} bytes)", schema_v1_fixture().display());
}

fn ext(bit: u32) -> MarkFlags {
    MarkFlags::extension(bit).expect("an extension bit")
}

/// The last message of `group_room` in the fixture.
fn fixture_room_message() -> Message {
    let mut m = incoming("r1", 9);
    m.extra.insert(
        "message_future_object".into(),
        json!({"nested": {"list": [1, null, {"deep": true}]}, "big": u64::MAX}),
    );
    m.extra
        .insert("message_big_unsigned".into(), json!(u64::MAX));
    m
}

#[tokio::test]
async fn a_file_from_schema_v1_opens_with_the_current_code() {
    // Never opened in place: opening writes (the WAL, maybe migrations).
    let fixture = schema_v1_fixture();
    let (_dir, path, original) = copy_fixture(&fixture, "schema-v1");

    let m = open_manager(&path).await;
    let order: Vec<String> = m.conversations().iter().map(|c| c.id.to_string()).collect();
    assert_eq!(
        order,
        ["c2c_alice", "group_room", "c2c_bob", "group_team"],
        "pinned first, then the most recently active"
    );
    assert_eq!(m.folders(), ["friends", "work", "archive"]);
    assert_eq!(m.total_unread(), 2 + 1 + 2);

    let alice = m.get(&id("c2c_alice")).unwrap();
    assert_eq!(alice.show_name, "Alice");
    assert_eq!(alice.face_url, "https://example.com/alice.png");
    assert!(alice.is_pinned);
    assert_eq!(alice.marks.bits(), 1 | 1 << 32);
    assert_eq!(alice.custom_data.as_bytes(), [0xff, 0x00, 0x41]);
    assert_eq!(alice.c2c_read_timestamp, 1_700_000_001);
    assert_eq!(alice.unread_count, 2);
    assert_eq!(alice.folders, ["friends"]);
    assert_eq!(alice.receive_option, ReceiveOption::Receive);
    assert_eq!(
        alice
            .last_message
            .as_ref()
            .and_then(|m| m.msg_id.as_deref()),
        Some("a3")
    );
    assert!(alice.draft.is_none());
    assert_eq!(alice.order_key, ORDER_KEYS[0]);

    let room = m.get(&id("group_room")).unwrap();
    let mut expected = fixture_room_message();
    expected.conv_id = Some("room".into());
    expected.conv_type = Some(2);
    assert_eq!(room.last_message.as_ref(), Some(&expected));
    assert_eq!(room.group_type, Some(GroupType::Unknown(77)));
    assert_eq!(room.receive_option, ReceiveOption::NotReceiveExceptAt);
    assert_eq!(room.unread_count, 1);
    assert!(room.folders.is_empty() && room.marks.is_empty() && room.custom_data.is_empty());
    assert_eq!(room.order_key, ORDER_KEYS[1]);

    let bob = m.get(&id("c2c_bob")).unwrap();
    assert_eq!(
        bob.draft.as_deref(),
        Some(&Draft::new(
            Message::text("", "unsent"),
            "user define",
            1_551_271_429
        ))
    );
    assert_eq!(bob.receive_option, ReceiveOption::NotNotify);
    assert_eq!(bob.unread_count, 0);
    assert_eq!(bob.folders, ["work"]);
    assert_eq!(
        bob.last_message.as_ref().and_then(|m| m.is_from_self),
        Some(true)
    );
    assert_eq!(bob.order_key, ORDER_KEYS[2]);

    let team = m.get(&id("group_team")).unwrap();
    assert_eq!(team.group_type, Some(GroupType::Private));
    assert_eq!(team.group_read_sequence, 1);
    assert_eq!(team.unread_count, 2);
    let at: Vec<_> = team
        .group_at_info
        .iter()
        .map(|a| (a.seq, a.at_type))
        .collect();
    assert_eq!(at, [(3, GroupAtType::AtMe)]);
    assert_eq!(team.marks.bits(), 0x4 | 1 << 63);
    assert_eq!(team.folders, ["friends", "work"]);
    assert!(!team.is_pinned);
    assert_eq!(team.order_key, ORDER_KEYS[3]);

    // carol's tombstone: her old message stays deleted, a newer one brings her back.
    assert!(m.get(&id("c2c_carol")).is_none());
    assert_eq!(
        m.ingest_message(&id("c2c_carol"), incoming("c1", 1_700_000_010))
            .await
            .unwrap(),
        IngestOutcome::Stale
    );
    // Unread bookkeeping: a redelivered unread message still counts once.
    assert_eq!(
        m.ingest_message(&id("c2c_alice"), incoming("a2", 1_700_000_002))
            .await
            .unwrap(),
        IngestOutcome::Duplicate
    );
    // The order clock: new keys are above every stored one.
    let fresh = m.create_conversation(&id("c2c_new")).await.unwrap();
    assert!(fresh.order_key > *ORDER_KEYS.iter().max().unwrap());
    assert_eq!(
        m.ingest_message(&id("c2c_carol"), incoming("c2", 1_700_000_011))
            .await
            .unwrap(),
        IngestOutcome::Created
    );
    m.shutdown().await.unwrap();

    // Migrated to the current schema, intact, and it reopens with everything.
    let mut conn = raw_connection(&path, true).await;
    let version: i64 =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(version, SqliteStore::schema_version());
    conn.close().await.unwrap();
    let store = SqliteStore::open(&path).await.unwrap();
    store.check_integrity().await.expect("intact");
    let m = ConversationManager::builder()
        .store(store)
        .open()
        .await
        .unwrap();
    assert_eq!(m.len(), 6);
    m.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read(&fixture).unwrap(),
        original,
        "the fixture itself is untouched"
    );
}

/// The fixture of schema version 2: `schema_v1.db` brought to version 2 as sqlx does (migration
/// `0002` run and recorded in `_sqlx_migrations` with its checksum), so it holds the same
/// conversations. Version 3 adds the commit journal (`conversation_log`).
fn schema_v2_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema_v2.db")
}

#[tokio::test]
async fn a_file_from_schema_v2_opens_with_the_current_code() {
    let fixture = schema_v2_fixture();
    let (_dir, path, original) = copy_fixture(&fixture, "schema-v2");

    let m = open_manager(&path).await;
    let order: Vec<String> = m.conversations().iter().map(|c| c.id.to_string()).collect();
    assert_eq!(order, ["c2c_alice", "group_room", "c2c_bob", "group_team"]);
    assert_eq!(m.folders(), ["friends", "work", "archive"]);
    assert_eq!(m.total_unread(), 2 + 1 + 2);
    let alice = m.get(&id("c2c_alice")).unwrap();
    assert_eq!(alice.custom_data.as_bytes(), [0xff, 0x00, 0x41]);
    assert_eq!(alice.folders, ["friends"]);
    assert_eq!(alice.order_key, ORDER_KEYS[0]);
    let room = m.get(&id("group_room")).unwrap();
    let mut expected = fixture_room_message();
    expected.conv_id = Some("room".into());
    expected.conv_type = Some(2);
    assert_eq!(room.last_message.as_ref(), Some(&expected));
    let team = m.get(&id("group_team")).unwrap();
    assert_eq!(team.folders, ["friends", "work"]);
    assert_eq!(team.marks.bits(), 0x4 | 1 << 63);

    // Writes go through the journal of schema v3 and survive a restart that does not fold it.
    assert_eq!(
        m.ingest_message(&id("c2c_alice"), incoming("a9", 1_700_000_009))
            .await
            .unwrap(),
        IngestOutcome::Updated
    );
    assert_eq!(
        m.ingest_message(&id("c2c_carol"), incoming("c2", 1_700_000_011))
            .await
            .unwrap(),
        IngestOutcome::Created
    );
    let before = m.conversations();
    // Dropped, not shut down: what was acknowledged survives all the same.
    drop(m);
    let m = ConversationManager::builder()
        .self_user_id("me")
        .store(crate::common::open_released(&path).await)
        .open()
        .await
        .unwrap();
    assert_eq!(m.conversations(), before);
    m.shutdown().await.unwrap();

    // Migrated to the current schema and compacted at shutdown: one record row per
    // conversation, alice's three unread messages as entries.
    let mut conn = raw_connection(&path, true).await;
    let version: i64 =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(version, SqliteStore::schema_version());
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM records")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        rows as usize,
        before.len(),
        "dead rows are compacted at shutdown"
    );
    let unread: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM unread_entries WHERE conversation = 'c2c_alice'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(unread, 3);
    conn.close().await.unwrap();
    let store = SqliteStore::open(&path).await.unwrap();
    store.check_integrity().await.expect("intact");
    let m = ConversationManager::builder()
        .store(store)
        .open()
        .await
        .unwrap();
    assert_eq!(m.conversations(), before);
    m.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read(&fixture).unwrap(),
        original,
        "the fixture itself is untouched"
    );
}

/// Order keys in the fixture, in list order (printed by `regenerate_schema_v1_fixture`).
const ORDER_KEYS: [u64; 4] = [
    1_795_705_178_607_041,
    1_795_705_178_619_632,
    1_795_705_178_618_780,
    1_795_705_178_611_209,
];

// ---------------------------------------------------------------------------------------------
// Files: permissions, missing files.

#[cfg(unix)]
#[tokio::test]
async fn new_files_are_readable_by_the_user_only() {
    let dir = TempDir::new("perm-default");
    let path = dir.path("conversations.db");
    let m = open_manager(&path).await;
    m.ingest_message(&id("c2c_a"), incoming("m", 1))
        .await
        .unwrap();
    assert_eq!(mode(&path), 0o600);
    // The WAL and the shared-memory file hold the same data: same permissions.
    for suffix in ["-wal", "-shm"] {
        let side = sidecar(&path, suffix);
        if side.exists() {
            assert_eq!(mode(&side), 0o600, "{suffix}");
        }
    }
    m.shutdown().await.unwrap();
    assert_eq!(mode(&path), 0o600);
}

#[cfg(unix)]
#[tokio::test]
async fn the_permissions_option_is_honoured() {
    let dir = TempDir::new("perm-option");
    let path = dir.path("conversations.db");
    let store = SqliteStoreOptions::new()
        .filename(&path)
        .permissions(0o640)
        .open()
        .await
        .unwrap();
    let m = ConversationManager::builder()
        .store(store)
        .open()
        .await
        .unwrap();
    m.ingest_message(&id("c2c_a"), incoming("m", 1))
        .await
        .unwrap();
    m.shutdown().await.unwrap();
    assert_eq!(mode(&path), after_umask(&dir, 0o640));
}

#[cfg(unix)]
#[tokio::test]
async fn an_existing_file_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("perm-existing");
    let path = populated_file(&dir, "conversations.db", 3).await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = SqliteStoreOptions::new()
        .filename(&path)
        .permissions(0o600)
        .open()
        .await
        .unwrap();
    let m = ConversationManager::builder()
        .store(store)
        .open()
        .await
        .unwrap();
    assert_eq!(m.len(), 3);
    m.ingest_message(&id("c2c_a"), incoming("m", 1))
        .await
        .unwrap();
    m.shutdown().await.unwrap();
    assert_eq!(mode(&path), 0o644);
}

#[tokio::test]
async fn a_missing_file_without_create_if_missing_is_an_error() {
    let dir = TempDir::new("missing");
    let path = dir.path("conversations.db");
    let err = SqliteStoreOptions::new()
        .filename(&path)
        .create_if_missing(false)
        .open()
        .await
        .expect_err("nothing to open");
    assert_io(&err, &path);
    assert!(!path.exists(), "nothing was created");
    assert!(!sidecar(&path, "-wal").exists());
    assert!(!sidecar(&path, "-shm").exists());
    // An existing file opens with the same options.
    let path = populated_file(&dir, "existing.db", 2).await;
    let store = SqliteStoreOptions::new()
        .filename(&path)
        .create_if_missing(false)
        .open()
        .await
        .unwrap();
    let m = ConversationManager::builder()
        .store(store)
        .open()
        .await
        .unwrap();
    assert_eq!(m.len(), 2);
    m.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Readers and writers at once.

/// Bound on the busy phase of the concurrency tests.
const BUSY_FOR: Duration = Duration::from_millis(1_500);
/// Reads the raw connection makes while the manager writes.
const RAW_READS: usize = 400;
/// Bound on anything finishing after it.
const LIMIT: Duration = Duration::from_secs(60);

/// Fails on any error, naming it (and saying so if it is SQLite's "database is locked").
fn no_error<T>(result: timconv::Result<T>, what: &str) -> T {
    result.unwrap_or_else(|e| {
        let text = e.to_string();
        assert!(
            !text.contains("locked"),
            "{what}: \"database is locked\" reached the API: {text}"
        );
        panic!("{what}: {e:?}")
    })
}

/// Walks the whole list of `filter` in pages of `page_size`; checks that the walk goes
/// strictly down the order and returns nothing twice (SPEC §4), whatever changes meanwhile.
fn walk_checked(m: &ConversationManager, filter: &ConversationFilter, page_size: u32) -> usize {
    let mut cursor = Cursor::START;
    let mut seen = HashSet::new();
    let mut last_key = u64::MAX;
    for _ in 0..100_000 {
        let page = no_error(m.list(filter, cursor, page_size), "list");
        for c in &page.conversations {
            assert!(seen.insert(c.id.clone()), "{} returned twice", c.id);
            assert!(
                c.sort_key() < last_key,
                "the walk went up the list at {}",
                c.id
            );
            assert!(filter.matches(c));
            last_key = c.sort_key();
        }
        if page.is_finished {
            return seen.len();
        }
        cursor = page.next_cursor;
    }
    panic!("the walk of {filter:?} did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_page_while_writers_write_hard() {
    let dir = TempDir::new("readers-writers");
    let path = populated_file(&dir, "conversations.db", 300).await;
    let m = open_manager(&path).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();

    for w in 0..4_u64 {
        let (m, stop, writes) = (m.clone(), Arc::clone(&stop), Arc::clone(&writes));
        tasks.spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (w + 1));
            let mut n = 0_u64;
            while !stop.load(Ordering::Acquire) {
                n += 1;
                let conv = id(&format!("c2c_u{}", rng.below(400)));
                match rng.below(6) {
                    // Bursts of concurrent ingests, new and existing conversations.
                    0 | 1 => {
                        let burst = (0..20).map(|k| {
                            let target = id(&format!("c2c_u{}", rng.below(400)));
                            let msg = incoming(&format!("w{w}-{n}-{k}"), 1_000 + n);
                            let m = m.clone();
                            async move { m.ingest_message(&target, msg).await }
                        });
                        let burst: Vec<_> = burst.collect();
                        for r in futures::future::join_all(burst).await {
                            no_error(r, "ingest");
                        }
                    }
                    2 => {
                        // Pins stay within a pool of 20, under the limit of 50.
                        let pooled = id(&format!("c2c_u{}", rng.below(20)));
                        if m.get(&pooled).is_some() {
                            no_error(
                                crate::common::set_pinned(&m, &pooled, rng.below(2) == 0).await,
                                "pin",
                            );
                        }
                    }
                    3 => {
                        let batch: Vec<_> = (0..10)
                            .map(|_| id(&format!("c2c_u{}", rng.below(300))))
                            .collect();
                        // Some of the batch may not exist (6004); only a failure of the whole
                        // call matters here.
                        let _partly = no_error(
                            set_marks(&m, &batch, MarkFlags::STAR, rng.below(2) == 0).await,
                            "mark",
                        );
                    }
                    4 => {
                        if m.get(&conv).is_some() {
                            no_error(
                                m.clean_unread(conv.clone(), timconv::ReadUpTo::Everything)
                                    .await,
                                "clean_unread",
                            );
                        }
                    }
                    _ => no_error(
                        m.set_draft(&conv, Draft::new(Message::text("", "d"), "", n))
                            .await,
                        "set_draft",
                    ),
                }
                writes.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    let reads = Arc::new(AtomicU64::new(0));
    for r in 0..3_u64 {
        let (m, stop, reads) = (m.clone(), Arc::clone(&stop), Arc::clone(&reads));
        tasks.spawn(async move {
            let filters = [
                ConversationFilter::new(),
                ConversationFilter::new().has_unread(true),
                ConversationFilter::new().mark(MarkFlags::STAR),
                ConversationFilter::new().conv_type(ConversationType::C2c),
            ];
            let mut k = 0;
            while !stop.load(Ordering::Acquire) {
                let filter = &filters[k % filters.len()];
                walk_checked(&m, filter, 7 + r as u32 * 13);
                no_error(m.unread_by_filter(filter), "unread_by_filter");
                let _ = m.total_unread();
                let _ = m.get(&id(&format!("c2c_u{k}")));
                k += 1;
                reads.fetch_add(1, Ordering::Relaxed);
                // Let the writers' tasks run on this small runtime too.
                tokio::task::yield_now().await;
            }
        });
    }

    tokio::time::sleep(BUSY_FOR).await;
    stop.store(true, Ordering::Release);
    tokio::time::timeout(LIMIT, async {
        while let Some(done) = tasks.join_next().await {
            done.expect("no task panicked");
        }
    })
    .await
    .expect("readers and writers stop");
    assert!(writes.load(Ordering::Relaxed) > 10, "the writers wrote");
    assert!(reads.load(Ordering::Relaxed) > 10, "the readers read");

    // What they wrote is what a restart finds.
    let before = m.conversations();
    m.shutdown().await.unwrap();
    let store = SqliteStore::open(&path).await.unwrap();
    store.check_integrity().await.expect("intact");
    let again = ConversationManager::builder()
        .store(store)
        .open()
        .await
        .unwrap();
    assert_eq!(again.conversations(), before);
    again.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_connection_never_sees_half_a_change() {
    const BATCH: usize = 50;
    const BATCHES: usize = 8;
    /// Tombstones of the batches' conversations, and how many of them clear messages.
    const TOMBSTONES: &str = "SELECT COUNT(*), COALESCE(SUM(clear_messages), 0) FROM tombstones \
                              WHERE id LIKE 'c2c_u%'";
    let dir = TempDir::new("half-change");
    let path = populated_file(&dir, "conversations.db", BATCH * BATCHES).await;
    let m = open_manager(&path).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = JoinSet::new();
    // Each writer owns whole batches. A round brings its batch back with newer messages (one
    // call each), then deletes the whole batch in one call, clearing messages every other
    // time: a reader that sees a tombstone count or a clear count that is not a multiple of
    // 50 saw half a change.
    for w in 0..2 {
        let (m, stop) = (m.clone(), Arc::clone(&stop));
        writers.spawn(async move {
            let mut round = 0_usize;
            while !stop.load(Ordering::Acquire) {
                let batch = w + 2 * (round % (BATCHES / 2));
                let ids: Vec<_> = (batch * BATCH..(batch + 1) * BATCH)
                    .map(|n| id(&format!("c2c_u{n}")))
                    .collect();
                let back = ids.iter().map(|target| {
                    let m = m.clone();
                    let msg = incoming(&format!("b{w}-{round}-{target}"), 10_000 + round as u64);
                    async move { m.ingest_message(target, msg).await }
                });
                for r in futures::future::join_all(back).await {
                    no_error(r, "ingest");
                }
                let clear = (round / (BATCHES / 2)).is_multiple_of(2);
                let outcomes = no_error(
                    m.delete_many(&ids, crate::common::history(clear)).await,
                    "delete",
                );
                assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
                round += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            round
        });
    }

    let mut conn = raw_connection(&path, true).await;
    let mut seen = HashSet::new();
    // A fixed number of reads (each holds a read transaction for ~2 ms) while writers run.
    let mut reads = 0;
    for _ in 0..RAW_READS {
        let (count, cleared): (i64, i64) = sqlx::query_as(TOMBSTONES)
            .fetch_one(&mut conn)
            .await
            .expect("the raw reader reads");
        assert_eq!(
            count % BATCH as i64,
            0,
            "saw {count} tombstones: half a change"
        );
        assert_eq!(
            cleared % BATCH as i64,
            0,
            "saw {cleared} cleared: half a change"
        );
        seen.insert((count, cleared));
        // Within one read transaction the picture does not move.
        let mut tx = conn.begin().await.unwrap();
        let first: (i64, i64) = sqlx::query_as(TOMBSTONES)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        let second: (i64, i64) = sqlx::query_as(TOMBSTONES)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(first, second, "a read transaction saw a change land");
        reads += 1;
    }
    stop.store(true, Ordering::Release);
    let mut rounds = 0;
    tokio::time::timeout(LIMIT, async {
        while let Some(done) = writers.join_next().await {
            rounds += done.expect("no writer panicked");
        }
    })
    .await
    .expect("the writers stop");
    assert!(rounds > 4, "the writers wrote ({rounds} rounds)");
    assert!(reads > 10, "the reader read ({reads} times)");
    assert!(seen.len() > 1, "the reader saw changes land: {seen:?}");
    conn.close().await.unwrap();

    // The manager agrees with the file: every deleted batch is gone, the rest is there.
    let live = m.len();
    m.shutdown().await.unwrap();
    let again = open_manager(&path).await;
    assert_eq!(again.len(), live);
    again.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Options and small promises.

#[tokio::test]
async fn the_integrity_check_passes_on_a_healthy_file() {
    let dir = TempDir::new("integrity");
    let path = populated_file(&dir, "conversations.db", 50).await;
    let store = SqliteStore::open(&path).await.unwrap();
    store.check_integrity().await.expect("a healthy file");
    let m = ConversationManager::builder()
        .store(store.clone())
        .open()
        .await
        .unwrap();
    m.delete(&id("c2c_u1"), timconv::MessageHistory::Keep)
        .await
        .unwrap();
    m.pin(&id("c2c_u2")).await.unwrap();
    store
        .check_integrity()
        .await
        .expect("still healthy after writes");
    m.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_in_memory_store_works_with_a_manager() {
    let store = SqliteStore::in_memory().await.unwrap();
    store.check_integrity().await.expect("healthy");
    let m = ConversationManager::builder()
        .self_user_id("me")
        .store(store)
        .open()
        .await
        .unwrap();
    let (a, b) = (id("c2c_a"), id("group_b"));
    m.ingest_message(&a, incoming("1", 10)).await.unwrap();
    m.ingest_message(&b, incoming("2", 11)).await.unwrap();
    m.pin(&a).await.unwrap();
    m.mark(std::slice::from_ref(&b), ext(33))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.create_folder("g", &[a.clone(), b.clone()])
        .await
        .unwrap()
        .into_result()
        .unwrap();
    m.delete(&b, timconv::MessageHistory::Keep).await.unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m.total_unread(), 1);
    assert!(m.get(&a).unwrap().is_pinned);
    assert_eq!(
        m.ingest_message(&b, incoming("2", 11)).await.unwrap(),
        IngestOutcome::Stale
    );
    m.shutdown().await.unwrap();
}

#[tokio::test]
async fn synchronous_full_and_extra_open_and_work() {
    let dir = TempDir::new("synchronous");
    for (n, synchronous) in [Synchronous::Full, Synchronous::Extra, Synchronous::Normal]
        .into_iter()
        .enumerate()
    {
        let path = dir.path(&format!("conversations-{n}.db"));
        let open = || async {
            SqliteStoreOptions::new()
                .filename(&path)
                .synchronous(synchronous)
                .open()
                .await
                .expect("opens")
        };
        let m = ConversationManager::builder()
            .store(open().await)
            .open()
            .await
            .unwrap();
        m.ingest_message(&id("c2c_a"), incoming("1", 10))
            .await
            .unwrap();
        m.set_custom_data(&[id("c2c_a")], "durable")
            .await
            .unwrap()
            .into_result()
            .unwrap();
        m.shutdown().await.unwrap();
        let m = ConversationManager::builder()
            .store(open().await)
            .open()
            .await
            .unwrap();
        let a = m.get(&id("c2c_a")).expect("survives");
        assert_eq!(a.custom_data.as_str(), Some("durable"), "{synchronous:?}");
        assert_eq!(a.unread_count, 1);
        m.shutdown().await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// The record log.

/// Sorts a snapshot so that two loads of the same state compare equal.
fn normalized(mut s: timconv::store::Snapshot) -> timconv::store::Snapshot {
    s.conversations.sort_by(|a, b| a.id.cmp(&b.id));
    s.tombstones.sort_by(|a, b| a.id.cmp(&b.id));
    s.unread.sort_by_key(|u| u.id);
    s.settings.sort_by(|a, b| a.id.cmp(&b.id));
    s
}

/// Rows of `records` in the file, live and dead.
async fn record_rows(path: &Path) -> i64 {
    let mut conn = raw_connection(path, true).await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM records")
        .fetch_one(&mut conn)
        .await
        .expect("count the records");
    conn.close().await.expect("close");
    rows
}

#[tokio::test]
async fn the_record_log_compacts_to_what_it_replays() {
    use timconv::Store as _;
    use timconv::store::{ChangeSet, MemoryStore, Tombstone, UnreadEntry};

    let dir = TempDir::new("record-log");
    let path = dir.path("conversations.db");
    let sqlite = SqliteStore::open(&path).await.unwrap();
    let memory = MemoryStore::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut clock = 1_000;
    let mut live: HashSet<String> = HashSet::new();
    let mut entries: std::collections::HashMap<String, UnreadEntry> = Default::default();
    // Commits rewriting, deleting and bringing back conversations, with unread entries and
    // folder-list changes among them; some pauses let the store compact its dead rows.
    for round in 0..40_u64 {
        let mut change = ChangeSet::default();
        if round == 3 {
            change.folders = Some(vec!["work".into()]);
        }
        if round == 30 {
            change.folders = Some(vec!["job".into()]);
        }
        let mut touched = HashSet::new();
        for _ in 0..60 {
            let n = rng.below(500);
            let name = format!("c2c_u{n}");
            if !touched.insert(name.clone()) {
                continue;
            }
            let conv = id(&name);
            if let Some(old) = entries.remove(&name) {
                change.unread_removed.push(old);
            }
            if rng.below(10) == 0 {
                change
                    .deletes
                    .push(Tombstone::new(conv, [round, round, 0], n.is_multiple_of(2)));
                live.remove(&name);
                continue;
            }
            clock += 1;
            let mut c = timconv::Conversation::new(conv.clone());
            c.order_key = clock;
            c.show_name = format!("u{n} r{round}");
            c.last_message = Some(incoming(&format!("m{round}-{n}"), clock));
            c.unread_count = 1;
            if round >= 3 && n.is_multiple_of(7) {
                c.folders = vec![if round >= 30 { "job" } else { "work" }.into()];
            }
            change.upserts.push(Arc::new(c));
            let entry = UnreadEntry::new(clock, conv, format!("m{round}-{n}"), clock);
            change.unread_added.push(entry.clone());
            entries.insert(name.clone(), entry);
            live.insert(name);
        }
        change.order_clock = clock;
        sqlite.commit(&change).await.unwrap();
        memory.commit(&change).await.unwrap();
        // Dead rows or not, a load gives the committed state at every step.
        assert_eq!(
            normalized(sqlite.load().await.unwrap()),
            normalized(memory.load().await.unwrap()),
            "after commit {round}"
        );
        if round % 10 == 9 {
            // Idle: the store compacts on its own, down to one row per live conversation.
            let mut rows = record_rows(&path).await;
            for _ in 0..200 {
                if rows == live.len() as i64 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                rows = record_rows(&path).await;
            }
            assert_eq!(rows, live.len() as i64, "compacted at commit {round}");
            assert_eq!(
                normalized(sqlite.load().await.unwrap()),
                normalized(memory.load().await.unwrap()),
                "after compacting at commit {round}"
            );
        }
    }
    sqlite.close().await.unwrap();
    assert_eq!(
        record_rows(&path).await,
        live.len() as i64,
        "closed compacted"
    );
    let again = SqliteStore::open(&path).await.unwrap();
    again.check_integrity().await.expect("intact");
    assert_eq!(
        normalized(again.load().await.unwrap()),
        normalized(memory.load().await.unwrap())
    );
    again.close().await.unwrap();
}

/// The fixture of schema version 4, the last with the commit journal: `schema_v2.db` brought to
/// version 4 by the code of that version, then a commit left in the journal, not folded (an
/// upsert of `c2c_alice` with a new last message and unread, a delete of `group_room`), two
/// operations waiting in the sync outbox and a bookmark.
fn schema_v4_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema_v4.db")
}

/// A file of schema version 4, with a commit still in its journal and a sync outbox, opens
/// converted to the record log: the journaled state wins over the folded rows, unread
/// messages become entries, folder names the folder list, the outbox and bookmark sync data;
/// the old tables are gone and the fixture itself is untouched. (The fixture was made by the
/// code of schema version 4, commit `b03e4da` of this repository.)
#[tokio::test]
async fn a_file_from_schema_v4_opens_with_the_current_code() {
    use timconv::Store as _;
    let fixture = schema_v4_fixture();
    let (_dir, path, original) = copy_fixture(&fixture, "schema-v4");

    let m = open_manager(&path).await;
    let order: Vec<String> = m.conversations().iter().map(|c| c.id.to_string()).collect();
    assert_eq!(
        order,
        ["c2c_alice", "c2c_bob", "group_team"],
        "room was deleted"
    );
    assert_eq!(m.folders(), ["friends", "work", "archive"]);
    let alice = m.get(&id("c2c_alice")).unwrap();
    assert_eq!(
        alice.unread_count, 3,
        "two from the rows, one from the journal"
    );
    assert_eq!(
        alice
            .last_message
            .as_ref()
            .and_then(|m| m.msg_id.as_deref()),
        Some("a4")
    );
    assert_eq!(alice.order_key, ORDER_KEYS[0] + 100);
    assert_eq!(alice.custom_data.as_bytes(), [0xff, 0x00, 0x41]);
    assert_eq!(alice.folders, ["friends"]);
    let team = m.get(&id("group_team")).unwrap();
    assert_eq!(team.folders, ["friends", "work"]);
    assert_eq!(team.marks.bits(), 0x4 | 1 << 63);
    assert_eq!(m.pending_operations(), 2, "the outbox came along");
    // A message from before room's delete stays deleted; alice's entries count exactly.
    assert_eq!(
        m.ingest_message(&id("group_room"), incoming("r0", 8))
            .await
            .unwrap(),
        IngestOutcome::Stale
    );
    assert_eq!(
        m.ingest_message(&id("c2c_alice"), incoming("a4", 1_700_000_004))
            .await
            .unwrap(),
        IngestOutcome::Duplicate
    );
    m.clean_unread(
        id("c2c_alice"),
        timconv::ReadUpTo::Positions {
            timestamp: Some(1_700_000_003),
            sequence: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(m.get(&id("c2c_alice")).unwrap().unread_count, 1);
    let total = m.total_unread();
    let before = m.conversations();
    m.shutdown().await.unwrap();

    let mut conn = raw_connection(&path, true).await;
    let version: i64 =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(version, SqliteStore::schema_version());
    let old: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN \
         ('conversations', 'conversation_log', 'sync_outbox', 'conversation_groups')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(old, 0, "the tables of version 4 are dropped");
    conn.close().await.unwrap();
    let store = SqliteStore::open(&path).await.unwrap();
    store.check_integrity().await.expect("intact");
    let snapshot = store.load().await.unwrap();
    assert_eq!(
        snapshot.sync_state.as_deref(),
        Some(&b"\x01{\"bookmark\":\"b-42\"}"[..])
    );
    let keys: Vec<u64> = snapshot.sync_records.iter().map(|r| r.key).collect();
    assert_eq!(keys, [0, 1]);
    let m = ConversationManager::builder()
        .store(store)
        .open()
        .await
        .unwrap();
    assert_eq!(m.conversations(), before);
    assert_eq!(m.total_unread(), total);
    m.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read(&fixture).unwrap(),
        original,
        "the fixture itself is untouched"
    );
}
