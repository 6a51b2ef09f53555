//! One device's session with the loopback server: its [`Transport`] implementation, its
//! event stream, whether it is online, and the faults it suffers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};

use super::LoopbackServer;
use super::faults::{CallPlan, FaultState, Faults};
use crate::transport::{
    Bookmark, PendingOperation, PullResponse, PushResponse, ServerEvent, Transport, TransportError,
};

/// A device as the server knows it. Shared by the server (to push events) and by every
/// [`LoopbackTransport`] handle of the device.
#[derive(Debug)]
pub(super) struct Device {
    name: String,
    online: AtomicBool,
    link: Mutex<Link>,
}

/// The mutable side of a device.
#[derive(Debug, Default)]
struct Link {
    /// The open event stream, if connected.
    sink: Option<mpsc::UnboundedSender<ServerEvent>>,
    /// Events held back to be delivered after the next one (`reorder_event`).
    held: Vec<ServerEvent>,
    faults: Option<FaultState>,
    /// Calls still to fail after an injected disconnect.
    failing_calls: u32,
    /// Counts the streams opened, so that a relayed stream (see `FaultyTransport`) tells
    /// whether it is still the open one.
    generation: u64,
}

impl Link {
    /// Ends the event stream; held events are lost with it.
    fn hang_up(&mut self) {
        self.sink = None;
        self.held.clear();
    }

    fn send(&mut self, event: ServerEvent) {
        if let Some(sink) = &self.sink
            && sink.unbounded_send(event).is_err()
        {
            // The stream was dropped by its reader.
            self.hang_up();
        }
    }

    fn release_held(&mut self) {
        for event in std::mem::take(&mut self.held) {
            self.send(event);
        }
    }
}

impl Device {
    pub(super) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            online: AtomicBool::new(true),
            link: Mutex::new(Link::default()),
        }
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    fn link(&self) -> MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pushes an event to the device's stream, if it is connected, through its faults.
    pub(super) fn send(&self, event: ServerEvent) {
        let link = self.link();
        self.send_on(link, event);
    }

    /// As [`send`](Self::send), if the open stream is still the one numbered `generation`.
    pub(super) fn relay(&self, generation: u64, event: ServerEvent) {
        let link = self.link();
        if link.generation == generation {
            self.send_on(link, event);
        }
    }

    /// Ends the open stream if it is still the one numbered `generation` (its source ended).
    pub(super) fn hang_up_stream(&self, generation: u64) {
        let mut link = self.link();
        if link.generation == generation {
            link.hang_up();
        }
    }

    fn send_on(&self, mut link: MutexGuard<'_, Link>, event: ServerEvent) {
        if link.sink.is_none() {
            return;
        }
        let Some(plan) = link.faults.as_mut().map(FaultState::plan_event) else {
            link.send(event);
            return;
        };
        if plan.drop {
            tracing::debug!(device = %self.name, "loopback: event dropped");
            return;
        }
        let copies = if plan.duplicate { 2 } else { 1 };
        if plan.reorder && link.held.is_empty() {
            tracing::debug!(device = %self.name, "loopback: event held back");
            link.held = vec![event; copies];
            return;
        }
        for _ in 1..copies {
            link.send(event.clone());
        }
        link.send(event);
        link.release_held();
    }

    fn offline() -> TransportError {
        TransportError::disconnected("the device is offline")
    }

    fn check_online(&self) -> Result<(), TransportError> {
        if self.online.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(Self::offline())
        }
    }

    /// Starts a call: fails it if the device is offline or disconnected, else decides its
    /// faults (failing it at once for a disconnect or a dropped request).
    pub(super) fn begin_call(&self) -> Result<CallPlan, TransportError> {
        let mut link = self.link();
        self.check_online()?;
        if link.failing_calls > 0 {
            link.failing_calls -= 1;
            return Err(TransportError::disconnected("the connection dropped"));
        }
        let Some(plan) = link.faults.as_mut().map(FaultState::plan_call) else {
            return Ok(CallPlan::default());
        };
        if let Some(following) = plan.disconnect {
            tracing::debug!(device = %self.name, following, "loopback: connection dropped");
            link.hang_up();
            link.failing_calls = following;
            return Err(TransportError::disconnected("the connection dropped"));
        }
        if plan.drop_request {
            tracing::debug!(device = %self.name, "loopback: request dropped");
            return Err(TransportError::timeout("the request was lost"));
        }
        Ok(plan)
    }

    /// Waits out the plan's delay; the device may go offline meanwhile.
    pub(super) async fn delay(&self, plan: &CallPlan) -> Result<(), TransportError> {
        if !plan.delay.is_zero() {
            tokio::time::sleep(plan.delay).await;
            self.check_online()?;
        }
        Ok(())
    }

    pub(super) fn set_online(&self, online: bool) {
        let mut link = self.link();
        self.online.store(online, Ordering::SeqCst);
        if !online {
            link.hang_up();
        }
    }

    pub(super) fn set_faults(&self, faults: Option<Faults>) {
        let mut link = self.link();
        link.release_held();
        link.failing_calls = 0;
        link.faults = faults.map(FaultState::new);
    }

    /// Opens a new event stream, ending the previous one; also returns its number.
    pub(super) fn open_stream(
        &self,
    ) -> Result<(mpsc::UnboundedReceiver<ServerEvent>, u64), TransportError> {
        let mut link = self.link();
        // Checked under the lock, so that a concurrent `set_online(false)` cannot be missed.
        self.check_online()?;
        let (tx, rx) = mpsc::unbounded();
        link.hang_up();
        link.sink = Some(tx);
        link.generation += 1;
        Ok((rx, link.generation))
    }
}

/// One device's session with a [`LoopbackServer`], for one user: implements [`Transport`].
///
/// Get one from [`LoopbackServer::transport`]. Clones (and other handles for the same user
/// and device name) share the session: its online switch, faults and event stream.
#[derive(Clone)]
pub struct LoopbackTransport {
    server: LoopbackServer,
    user: Arc<str>,
    device: Arc<Device>,
}

impl std::fmt::Debug for LoopbackTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackTransport")
            .field("user", &self.user)
            .field("device", &self.device.name)
            .field("online", &self.device.online.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl LoopbackTransport {
    pub(super) fn new(server: LoopbackServer, user: &str, device: Arc<Device>) -> Self {
        Self {
            server,
            user: user.into(),
            device,
        }
    }

    /// The user this session belongs to.
    #[must_use]
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The device's name.
    #[must_use]
    pub fn device(&self) -> &str {
        &self.device.name
    }

    /// Takes the device offline (`false`) or back online (`true`).
    ///
    /// Offline, every call fails with
    /// [`TransportError::disconnected`](TransportError::disconnected) and the event stream
    /// ends at once. Back online, calls work again and [`connect`](Transport::connect) opens a
    /// new stream.
    pub fn set_online(&self, online: bool) {
        self.device.set_online(online);
    }

    /// Sets the faults this device suffers from now on (`None`: none), starting their
    /// generator afresh from the seed. An event held back for reordering is released, and a
    /// pending run of disconnected calls is cancelled.
    pub fn set_faults(&self, faults: Option<Faults>) {
        self.device.set_faults(faults);
    }
}

impl Transport for LoopbackTransport {
    fn push(
        &self,
        ops: Vec<PendingOperation>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        async move {
            let plan = self.device.begin_call()?;
            self.device.delay(&plan).await?;
            let response = self.server.receive_push(&self.user, &self.device, &ops);
            if plan.duplicate {
                tracing::debug!(device = %self.device.name, "loopback: push duplicated");
                self.server.receive_push(&self.user, &self.device, &ops);
            }
            if plan.drop_response {
                tracing::debug!(device = %self.device.name, "loopback: push response dropped");
                return Err(TransportError::timeout("the response was lost"));
            }
            Ok(response)
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
            let response = self
                .server
                .receive_pull(&self.user, since.as_ref(), limit)?;
            if plan.duplicate {
                // A pull changes nothing: receiving it twice only costs the work.
                self.server
                    .receive_pull(&self.user, since.as_ref(), limit)?;
            }
            if plan.drop_response {
                tracing::debug!(device = %self.device.name, "loopback: pull response dropped");
                return Err(TransportError::timeout("the response was lost"));
            }
            Ok(response)
        }
        .boxed()
    }

    fn connect(&self) -> BoxFuture<'_, Result<BoxStream<'static, ServerEvent>, TransportError>> {
        async move {
            let plan = self.device.begin_call()?;
            self.device.delay(&plan).await?;
            Ok(self.device.open_stream()?.0.boxed())
        }
        .boxed()
    }
}
