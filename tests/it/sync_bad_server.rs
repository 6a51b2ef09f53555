//! A server that breaks the transport contract: the device fails the cycle or drops what does
//! not fit, and never hangs or panics.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use timconv::transport::{
    Bookmark, PendingOperation, PullPage, PullResponse, PushResponse, RemoteChange,
    RemoteConversation, ServerEvent, Transport, TransportError,
};
use timconv::{ConversationManager, ErrorCode, SyncOptions, SyncStatus};

use crate::common::{id, incoming};

/// Answers every pull with `page`, and every push with nothing.
#[derive(Debug, Clone)]
struct Scripted {
    page: Arc<Mutex<PullPage>>,
}

impl Transport for Scripted {
    fn push(
        &self,
        _: Vec<PendingOperation>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        async { Ok(PushResponse::default()) }.boxed()
    }

    fn pull(
        &self,
        _: Option<Bookmark>,
        _: usize,
    ) -> BoxFuture<'_, Result<PullResponse, TransportError>> {
        let page = match self.page.lock() {
            Ok(page) => Ok(PullResponse::Page(page.clone())),
            Err(_) => Err(TransportError::disconnected("poisoned")),
        };
        async move {
            // As a network would: let other tasks run (the test's timeout among them).
            tokio::task::yield_now().await;
            page
        }
        .boxed()
    }

    fn connect(&self) -> BoxFuture<'_, Result<BoxStream<'static, ServerEvent>, TransportError>> {
        async { Ok(Box::pin(futures::stream::pending()) as BoxStream<'static, ServerEvent>) }
            .boxed()
    }
}

async fn device(page: PullPage) -> ConversationManager {
    ConversationManager::builder()
        .in_memory()
        .self_user_id("alice")
        .transport(Scripted {
            page: Arc::new(Mutex::new(page)),
        })
        .sync_options(
            SyncOptions::default().backoff(Duration::from_millis(5), Duration::from_millis(50)),
        )
        .open()
        .await
        .expect("open")
}

#[tokio::test]
async fn a_server_that_asks_for_more_without_moving_its_bookmark_fails_the_cycle() {
    let m = device(PullPage {
        changes: vec![RemoteChange::Conversation(RemoteConversation::new(id(
            "c2c_bob",
        )))],
        bookmark: Bookmark("7".into()),
        has_more: true,
    })
    .await;
    let result = tokio::time::timeout(Duration::from_secs(5), m.sync())
        .await
        .expect("the cycle ends");
    assert_eq!(
        result.expect_err("a server bug").code(),
        ErrorCode::ServerInternal
    );
    assert!(matches!(
        m.sync_status(),
        SyncStatus::Failed {
            code: ErrorCode::ServerInternal,
            ..
        }
    ));
    // The device's first pull is a full one, applied only once complete: nothing was.
    assert_eq!(m.len(), 0);
    m.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_message_the_server_files_under_another_conversation_is_left_out() {
    let bob = id("c2c_bob");
    let mut carol_message = incoming("c1", 10);
    carol_message.conv_id = Some("carol".into());
    carol_message.conv_type = Some(1);
    let m = device(PullPage {
        changes: vec![RemoteChange::Conversation(RemoteConversation {
            messages: vec![carol_message, incoming("b1", 11)],
            ..RemoteConversation::new(bob.clone())
        })],
        bookmark: Bookmark("1".into()),
        has_more: false,
    })
    .await;
    m.sync().await.expect("sync");
    let got = m.get(&bob).expect("bob");
    assert_eq!(
        got.last_message.as_ref().and_then(|m| m.msg_id.as_deref()),
        Some("b1")
    );
    assert_eq!(got.unread_count, 1, "only bob's own message counts");
    assert!(m.get(&id("c2c_carol")).is_none());
    m.shutdown().await.expect("shutdown");
}
