//! Errors as a user reads them: each text once along the `source()` chain, the causes kept,
//! and every failure of file access an I/O error (6022) that names its file.

use std::error::Error as _;
use std::path::Path;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use timconv::transport::TransportError;
use timconv::{ConversationManager, Error, SqliteStore};

use crate::common::{TempDir, id, incoming};

/// The texts of `err` and its sources, outermost first.
fn chain(err: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut texts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(inner) = source {
        texts.push(inner.to_string());
        source = inner.source();
    }
    texts
}

/// Asserts no error of the chain repeats the text of one of its sources (which a report such
/// as anyhow's `{:#}`, or [`Error::report`], would print twice), and that `report` is the
/// chain joined.
fn assert_prints_once(err: &Error) {
    let texts = chain(err);
    for (n, outer) in texts.iter().enumerate() {
        assert!(!outer.is_empty(), "an empty text in {texts:?}");
        for inner in &texts[n + 1..] {
            assert!(
                !outer.contains(inner.as_str()),
                "{outer:?} repeats its source {inner:?}: {texts:?}"
            );
        }
    }
    assert_eq!(err.report().to_string(), texts.join(": "));
}

/// Asserts `err` is an I/O error (6022) whose message names `path`.
fn assert_io_naming(err: &Error, path: &Path) {
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_eq!(err.code().as_i32(), 6022, "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err} does not name {}",
        path.display()
    );
    assert!(err.source().is_some(), "{err} lost its cause");
    assert_prints_once(err);
}

#[tokio::test]
async fn opening_in_a_missing_directory_is_an_io_error_naming_the_file() {
    let dir = TempDir::new("errors-missing-dir");
    let path = dir.path("no-such-directory").join("conversations.db");
    let err = ConversationManager::open(&path, "me")
        .await
        .expect_err("the directory is missing");
    assert_io_naming(&err, &path);
    let report = err.report().to_string();
    assert!(report.contains("No such file or directory") || report.contains("os error"));
}

#[tokio::test]
async fn a_directory_where_the_file_should_be_is_an_io_error_naming_it() {
    let dir = TempDir::new("errors-directory");
    let path = dir.path("conversations.db");
    std::fs::create_dir(&path).expect("a directory");
    let err = SqliteStore::open(&path).await.expect_err("a directory");
    assert_io_naming(&err, &path);
}

#[test]
fn invalid_json_keeps_the_parser_error_as_its_source() {
    let parse = serde_json::from_str::<timconv::Message>("{\"message_msg_id\": ").expect_err("cut");
    let text = parse.to_string();
    let err = Error::from(parse);
    assert_eq!(err.code().as_i32(), 6027);
    let source = err.source().expect("the parser's error is kept");
    assert_eq!(source.to_string(), text);
    assert_prints_once(&err);
}

#[test]
fn sync_and_storage_errors_print_each_text_once() {
    let sync = Error::from(TransportError::disconnected("the server went away"));
    assert_eq!(sync.code().as_i32(), 9508);
    assert!(sync.report().to_string().contains("the server went away"));
    assert_prints_once(&sync);

    let store = Error::store(std::io::Error::other("the disk is on fire"));
    assert_eq!(store.code().as_i32(), 6019);
    assert!(store.report().to_string().contains("the disk is on fire"));
    assert_prints_once(&store);

    // Errors without a cause.
    for err in [
        Error::FolderNotFound("work".into()),
        Error::TooManyPinned { max: 50 },
        Error::Closed,
        id_error(),
    ] {
        assert!(err.source().is_none(), "{err:?}");
        assert_prints_once(&err);
    }
}

fn id_error() -> Error {
    "nobody"
        .parse::<timconv::ConversationId>()
        .expect_err("no prefix")
}

#[tokio::test]
async fn a_damaged_record_is_a_corrupt_database_with_its_cause() {
    let dir = TempDir::new("errors-damaged-record");
    let path = dir.path("conversations.db");
    let manager = ConversationManager::open(&path, "me").await.expect("opens");
    manager
        .ingest_message(&id("c2c_alice"), incoming("m1", 10))
        .await
        .expect("stored");
    manager.shutdown().await.expect("shuts down");

    // Cut the end off the record, as a damaged disk might.
    let mut conn = SqliteConnectOptions::new()
        .filename(&path)
        .connect()
        .await
        .expect("a raw connection");
    sqlx::query("UPDATE records SET record = substr(record, 1, length(record) - 8)")
        .execute(&mut conn)
        .await
        .expect("damaged");
    conn.close().await.expect("closed");

    let err = ConversationManager::open(&path, "me")
        .await
        .expect_err("the record cannot be read");
    assert!(matches!(err, Error::CorruptDatabase { .. }), "{err:?}");
    assert_eq!(err.code().as_i32(), 6019);
    assert!(err.to_string().contains("c2c_alice"), "{err}");
    assert!(err.source().is_some(), "{err:?} lost its cause");
    assert_prints_once(&err);
}
