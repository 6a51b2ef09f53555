//! [`FaultyTransport`]: the loopback's seeded faults and online switch, around any transport.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, Stream};
use futures::{FutureExt, StreamExt};

use super::device::Device;
use super::faults::Faults;
use crate::transport::{
    Bookmark, PendingOperation, PullResponse, PushResponse, ServerEvent, Transport, TransportError,
};

/// Wraps a transport (a `NetworkTransport` to a real server, say) in the faults a
/// [`LoopbackTransport`](super::LoopbackTransport) injects, so that a test runs the same
/// seeded faults over any transport: dropped requests (the call fails as timed out without
/// being made), dropped responses (the call is made and its answer discarded: the client
/// retries what the server applied), duplicated requests (made twice, the first answer kept),
/// delays, disconnects (the event stream ends, which drops the inner stream and so its
/// connection, and the following calls fail), and dropped, duplicated or reordered events. An
/// online switch fails every call and ends the event stream while off.
///
/// The same seed and the same sequence of calls and events give the same faults (the inner
/// transport's own failures aside). Event faults apply as the wrapper reads each event from
/// the inner stream, that is while its reader polls it. Clones share the switch, the faults
/// and the stream.
///
/// ```
/// use timconv::transport::loopback::{Faults, FaultyTransport, LoopbackServer};
///
/// let server = LoopbackServer::new();
/// let transport = FaultyTransport::new("phone", server.transport("alice", "phone"));
/// transport.set_faults(Some(Faults::chaos(7)));
/// transport.set_online(false);
/// ```
pub struct FaultyTransport<T> {
    inner: Arc<T>,
    device: Arc<Device>,
}

impl<T> Clone for FaultyTransport<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            device: Arc::clone(&self.device),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for FaultyTransport<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyTransport")
            .field("name", &self.device.name())
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> FaultyTransport<T> {
    /// `inner`, online, with no faults; `name` labels its trace messages.
    pub fn new(name: &str, inner: T) -> Self {
        Self {
            inner: Arc::new(inner),
            device: Arc::new(Device::new(name)),
        }
    }

    /// The wrapped transport.
    #[must_use]
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Takes the transport offline (`false`: every call fails as
    /// [`disconnected`](TransportError::disconnected) and the event stream ends) or back
    /// online, as [`LoopbackTransport::set_online`](super::LoopbackTransport::set_online).
    pub fn set_online(&self, online: bool) {
        self.device.set_online(online);
    }

    /// Sets the faults from now on (`None`: none), starting their generator afresh, as
    /// [`LoopbackTransport::set_faults`](super::LoopbackTransport::set_faults).
    pub fn set_faults(&self, faults: Option<Faults>) {
        self.device.set_faults(faults);
    }
}

impl<T: Transport> Transport for FaultyTransport<T> {
    fn push(
        &self,
        ops: Vec<PendingOperation>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        async move {
            let plan = self.device.begin_call()?;
            self.device.delay(&plan).await?;
            let again = plan.duplicate.then(|| ops.clone());
            let answer = self.inner.push(ops).await;
            if let Some(ops) = again {
                tracing::debug!(transport = %self.device.name(), "faults: push duplicated");
                let _ = self.inner.push(ops).await;
            }
            if plan.drop_response && answer.is_ok() {
                tracing::debug!(transport = %self.device.name(), "faults: push answer dropped");
                return Err(TransportError::timeout("the response was lost"));
            }
            answer
        }
        .boxed()
    }

    fn pull(
        &self,
        since: Option<Bookmark>,
        limit: usize,
    ) -> BoxFuture<'_, Result<PullResponse, TransportError>> {
        async move {
            let plan = self.device.begin_call()?;
            self.device.delay(&plan).await?;
            let again = plan.duplicate.then(|| since.clone());
            let answer = self.inner.pull(since, limit).await;
            if let Some(since) = again {
                let _ = self.inner.pull(since, limit).await;
            }
            if plan.drop_response && answer.is_ok() {
                tracing::debug!(transport = %self.device.name(), "faults: pull answer dropped");
                return Err(TransportError::timeout("the response was lost"));
            }
            answer
        }
        .boxed()
    }

    fn connect(&self) -> BoxFuture<'_, Result<BoxStream<'static, ServerEvent>, TransportError>> {
        async move {
            let plan = self.device.begin_call()?;
            self.device.delay(&plan).await?;
            let source = self.inner.connect().await?;
            let (events, generation) = self.device.open_stream()?;
            Ok(Relay {
                source: Some(source),
                events,
                device: Arc::clone(&self.device),
                generation,
            }
            .boxed())
        }
        .boxed()
    }
}

/// The event stream of a [`FaultyTransport`]: the inner stream's events pass through the
/// device's event faults into its queue. The queue ends when the device hangs up (offline, an
/// injected disconnect, a newer stream); the inner stream ending hangs it up. Dropping the
/// relay drops the inner stream, and so its connection.
struct Relay {
    source: Option<BoxStream<'static, ServerEvent>>,
    events: mpsc::UnboundedReceiver<ServerEvent>,
    device: Arc<Device>,
    generation: u64,
}

impl Stream for Relay {
    type Item = ServerEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ServerEvent>> {
        let this = &mut *self;
        while let Some(source) = this.source.as_mut() {
            match source.poll_next_unpin(cx) {
                Poll::Ready(Some(event)) => this.device.relay(this.generation, event),
                Poll::Ready(None) => {
                    this.source = None;
                    this.device.hang_up_stream(this.generation);
                }
                Poll::Pending => break,
            }
        }
        let next = this.events.poll_next_unpin(cx);
        if matches!(next, Poll::Ready(None)) {
            // Hung up: let the connection go now, not when the reader drops the stream.
            this.source = None;
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConversationId, Message};
    use crate::transport::loopback::LoopbackServer;
    use crate::transport::{OpId, Operation};

    fn pin(id: &str) -> Vec<PendingOperation> {
        vec![PendingOperation {
            id: OpId(id.into()),
            op: Operation::Pin {
                conversation: ConversationId::c2c("bob").expect("an ID"),
                pinned: true,
            },
        }]
    }

    fn setup() -> (
        LoopbackServer,
        FaultyTransport<crate::transport::loopback::LoopbackTransport>,
    ) {
        let server = LoopbackServer::new();
        let faulty = FaultyTransport::new("phone", server.transport("alice", "phone"));
        (server, faulty)
    }

    #[tokio::test]
    async fn dropped_requests_are_not_made_dropped_answers_are() {
        let (server, faulty) = setup();
        faulty.set_faults(Some(Faults::new(1).with_drop_request(1.0)));
        let err = faulty.push(pin("op-1")).await.expect_err("dropped");
        assert!(err.retryable);
        assert!(server.applied("alice").is_empty());

        faulty.set_faults(Some(Faults::new(1).with_drop_response(1.0)));
        let err = faulty.push(pin("op-2")).await.expect_err("answer dropped");
        assert!(err.retryable);
        assert_eq!(server.applied("alice"), vec![OpId("op-2".into())]);

        faulty.set_faults(Some(Faults::new(1).with_duplicate_request(1.0)));
        faulty.push(pin("op-3")).await.expect("duplicated");
        assert_eq!(server.applied("alice").len(), 2, "applied once");

        faulty.set_faults(None);
        faulty.set_online(false);
        assert!(faulty.pull(None, 10).await.is_err());
        faulty.set_online(true);
        assert!(faulty.pull(None, 10).await.is_ok());
    }

    #[tokio::test]
    async fn events_pass_through_their_faults_and_end_with_the_connection() {
        let (server, faulty) = setup();
        let bob = ConversationId::c2c("bob").expect("an ID");
        let mut events = faulty.connect().await.expect("connected");
        server.deliver("alice", &bob, Message::text("m1", "hi"));
        assert!(matches!(
            events.next().await,
            Some(ServerEvent::Message { .. })
        ));

        faulty.set_faults(Some(Faults::new(3).with_duplicate_event(1.0)));
        server.deliver("alice", &bob, Message::text("m2", "hi"));
        assert!(matches!(
            events.next().await,
            Some(ServerEvent::Message { .. })
        ));
        assert!(matches!(
            events.next().await,
            Some(ServerEvent::Message { .. })
        ));

        faulty.set_faults(Some(Faults::new(3).with_drop_event(1.0)));
        server.deliver("alice", &bob, Message::text("m3", "hi"));
        // Faults apply as the relay reads an event: read it while they are in force.
        assert!(events.next().now_or_never().is_none(), "m3 is dropped");
        faulty.set_faults(None);
        server.deliver("alice", &bob, Message::text("m4", "hi"));
        match events.next().await {
            Some(ServerEvent::Message { message, .. }) => {
                assert_eq!(message.msg_id.as_deref(), Some("m4"), "m3 was dropped");
            }
            other => panic!("expected m4, got {other:?}"),
        }

        // A disconnect ends the stream and fails the next call.
        faulty.set_faults(Some(Faults::new(3).with_disconnect(1.0, 0)));
        assert!(faulty.pull(None, 10).await.is_err());
        assert_eq!(events.next().await, None);

        // A newer stream replaces the old one; going offline ends it.
        faulty.set_faults(None);
        let mut first = faulty.connect().await.expect("connected");
        let mut second = faulty.connect().await.expect("connected again");
        assert_eq!(first.next().await, None);
        faulty.set_online(false);
        assert_eq!(second.next().await, None);
    }
}
