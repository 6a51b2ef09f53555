//! The sync task: one loop per manager that pushes, pulls and listens, one thing at a time.

use std::sync::Arc;
use std::time::Duration;

use std::task::Poll;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use super::backoff::Backoff;
use super::reconcile;
use super::{Outbox, SyncOptions, SyncStatus};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::manager::{ConversationManager, WeakManager};
use crate::transport::{
    Bookmark, PendingOperation, PullResponse, RemoteChange, ServerEvent, Transport, TransportError,
};

/// A request to the sync task.
pub(crate) enum Control {
    /// Run a whole cycle (push, then pull) now and report how it went.
    Sync(oneshot::Sender<Result<()>>),
    /// Stop (the manager is shutting down).
    Stop,
}

/// Where the sync task stands between two wake-ups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Work may be due: open the event stream if it is closed, then run a cycle (a pull is
    /// due, or a caller asked) or push what waits.
    Ready,
    /// Nothing to do until something wakes the task: a local change, a request, a server
    /// event, or the poll timer.
    Idle,
    /// The last attempt failed (or the event stream would not open): wait until `until`.
    /// Only a caller's request cuts it short; hints and local changes are noted meanwhile.
    BackingOff {
        /// When to try again.
        until: Instant,
    },
}

/// What a [`State::Ready`] step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    /// Push, then pull.
    Cycle,
    /// Push only: operations wait and no pull is due.
    Push,
    /// Nothing is due.
    Nothing,
}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The work (if any) succeeded.
    Done,
    /// It failed; `disconnected`: the connection dropped, so the event stream is gone too.
    Failed { disconnected: bool },
}

/// The sync task's state machine: the [`State`], what is due, and the pacing. Its methods are
/// the transitions; the task performs the I/O they ask for.
#[derive(Debug)]
struct Machine {
    state: State,
    /// A pull is due: at start, after reconnecting, on a hint, after a failure, on the poll.
    pull_due: bool,
    /// The next pull must be a full resync (the server refused a whole push).
    full_due: bool,
    backoff: Backoff,
    poll_interval: Option<Duration>,
    /// When to pull without a hint (hints can be lost with a connection).
    poll_at: Option<Instant>,
}

impl Machine {
    fn new(options: &SyncOptions) -> Self {
        let seed = options.backoff_jitter.then(super::new_session);
        Self {
            state: State::Ready,
            pull_due: true,
            full_due: false,
            backoff: Backoff::new(options.initial_backoff, options.max_backoff, seed),
            poll_interval: options.poll_interval,
            poll_at: options.poll_interval.map(after),
        }
    }

    /// Whether to act now: when ready, or backing off with a caller waiting.
    fn may_act(&self, asked: bool) -> bool {
        match self.state {
            State::Ready => true,
            State::Idle => false,
            State::BackingOff { .. } => asked,
        }
    }

    /// The event stream just opened: whatever was missed meanwhile is pulled.
    fn connected(&mut self) {
        self.pull_due = true;
    }

    fn work(&self, asked: bool, pending: bool) -> Work {
        if self.pull_due || self.full_due || asked {
            Work::Cycle
        } else if pending {
            Work::Push
        } else {
            Work::Nothing
        }
    }

    /// After a step: `streaming` says whether the event stream is open.
    fn finished(&mut self, work: Work, outcome: Outcome, streaming: bool) {
        match outcome {
            Outcome::Done if work == Work::Nothing && streaming => self.state = State::Idle,
            Outcome::Done if work == Work::Nothing => self.back_off(),
            Outcome::Done => {
                if work == Work::Cycle {
                    self.pull_due = false;
                    self.poll_at = self.poll_interval.map(after);
                }
                if streaming {
                    self.backoff.reset();
                    self.state = State::Idle;
                } else {
                    // Calls work but the push stream does not: try it again later.
                    self.back_off();
                }
            }
            Outcome::Failed { .. } => {
                self.pull_due = true;
                self.back_off();
            }
        }
    }

    fn back_off(&mut self) {
        self.state = State::BackingOff {
            until: after(self.backoff.next_wait()),
        };
    }

    /// Something happened that may make work due (`request`: a caller asked, which also
    /// ends a backoff).
    fn wake(&mut self, request: bool) {
        match self.state {
            State::Idle => self.state = State::Ready,
            State::BackingOff { .. } if request => self.state = State::Ready,
            State::Ready | State::BackingOff { .. } => {}
        }
    }

    /// A hint, or the event stream ending: a pull is due.
    fn hinted(&mut self) {
        self.pull_due = true;
        self.wake(false);
    }

    fn retry_at(&self) -> Option<Instant> {
        match self.state {
            State::BackingOff { until } => Some(until),
            State::Ready | State::Idle => None,
        }
    }

    fn backoff_over(&mut self) {
        if matches!(self.state, State::BackingOff { .. }) {
            self.state = State::Ready;
        }
    }

    /// The poll timer fired (it does not run while backing off).
    fn poll(&mut self) {
        self.poll_at = self.poll_interval.map(after);
        self.hinted();
    }
}

/// The sync task. It holds the manager weakly and stops when every handle is gone, on
/// [`Control::Stop`], or when the manager is closed.
pub(crate) async fn run(
    manager: WeakManager,
    transport: Arc<dyn Transport>,
    options: SyncOptions,
    wake: Arc<Notify>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let mut events: Option<BoxStream<'static, ServerEvent>> = None;
    let mut waiters: Vec<oneshot::Sender<Result<()>>> = Vec::new();
    let mut machine = Machine::new(&options);
    loop {
        let Some(mgr) = manager.upgrade() else { break };
        if mgr.is_closed() {
            break;
        }
        let asked = !waiters.is_empty();
        if machine.may_act(asked) {
            if events.is_none() {
                match transport.connect().await {
                    Ok(stream) => {
                        events = Some(stream);
                        machine.connected();
                    }
                    Err(err) => tracing::debug!(error = %err, "sync: cannot connect"),
                }
            }
            let work = machine.work(asked, mgr.pending_operations() > 0);
            // A cycle sets the status itself; the one before tells a new failure from a repeat.
            let before = mgr.sync_status();
            let result = match work {
                Work::Cycle => {
                    cycle(&mgr, transport.as_ref(), &options, &mut machine.full_due).await
                }
                Work::Push => {
                    push_all(&mgr, transport.as_ref(), &options, &mut machine.full_due).await
                }
                Work::Nothing => Ok(()),
            };
            let outcome = match result {
                Ok(()) => {
                    for w in waiters.drain(..) {
                        let _ = w.send(Ok(()));
                    }
                    Outcome::Done
                }
                Err(Error::Closed) => break,
                Err(err) => {
                    // A push between cycles that fails shows too (a cycle's failure is set).
                    let status = SyncStatus::Failed {
                        code: err.code(),
                        message: err.report().to_string(),
                    };
                    // Warn once per new failure; its retries while it lasts are debug lines.
                    if before == status {
                        tracing::debug!(error = %err.report(), "sync failed again; will retry");
                    } else {
                        tracing::warn!(error = %err.report(), "sync failed; will retry");
                    }
                    mgr.set_sync_status(status);
                    let disconnected = matches!(
                        &err,
                        Error::Sync(e) if e.code == crate::ErrorCode::NetworkDisconnected
                    );
                    if disconnected {
                        events = None;
                    }
                    for w in waiters.drain(..) {
                        let _ = w.send(Err(err.clone()));
                    }
                    Outcome::Failed { disconnected }
                }
            };
            machine.finished(work, outcome, events.is_some());
        }
        drop(mgr);
        let retry_at = machine.retry_at();
        let poll_at = machine.poll_at;
        tokio::select! {
            () = wake.notified() => machine.wake(false),
            request = control.recv() => match request {
                Some(Control::Sync(reply)) => {
                    waiters.push(reply);
                    machine.wake(true);
                }
                Some(Control::Stop) | None => break,
            },
            event = next_event(&mut events) => match event {
                Some(ServerEvent::Message { conversation, message }) => {
                    let Some(mgr) = manager.upgrade() else { break };
                    if let Err(err) = mgr.ingest_message(&conversation, message).await {
                        if matches!(err, Error::Closed) {
                            break;
                        }
                        tracing::warn!(error = %err.report(), "sync: a pushed message was refused");
                    }
                    machine.wake(false);
                }
                Some(ServerEvent::Changed) => machine.hinted(),
                None => {
                    events = None;
                    machine.hinted();
                }
            },
            () = sleep_until(retry_at), if retry_at.is_some() => machine.backoff_over(),
            () = sleep_until(poll_at), if poll_at.is_some() && retry_at.is_none() => machine.poll(),
        }
    }
    for w in waiters {
        let _ = w.send(Err(Error::Closed));
    }
    tracing::debug!("sync task stopped");
}

/// Reads the committed outbox (operations waiting, and the bookmark).
fn outbox<T>(mgr: &ConversationManager, read: impl FnOnce(&Outbox) -> T) -> T {
    read(&mgr.shared().lock_outbox())
}

/// The instant `wait` from now (a year at most, so that no setting overflows the clock).
fn after(wait: Duration) -> Instant {
    let year = Duration::from_secs(365 * 24 * 3600);
    Instant::now() + wait.min(year)
}

async fn next_event(events: &mut Option<BoxStream<'static, ServerEvent>>) -> Option<ServerEvent> {
    match events {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One sync cycle: push everything waiting, then pull, between `SyncStarted` and exactly one
/// of `SyncFinished` / `SyncFailed`.
async fn cycle(
    mgr: &ConversationManager,
    transport: &dyn Transport,
    options: &SyncOptions,
    full_due: &mut bool,
) -> Result<()> {
    mgr.set_sync_status(SyncStatus::Syncing);
    mgr.publish(Event::SyncStarted);
    let result = async {
        push_all(mgr, transport, options, full_due).await?;
        pull_all(mgr, transport, options, full_due).await
    }
    .await;
    // The status is set first, so that whoever sees the event reads the status it closes.
    match &result {
        Ok(()) => {
            mgr.set_sync_status(SyncStatus::UpToDate);
            mgr.publish(Event::SyncFinished);
        }
        Err(err) => {
            let (code, message) = (err.code(), err.report().to_string());
            mgr.set_sync_status(SyncStatus::Failed {
                code,
                message: message.clone(),
            });
            mgr.publish(Event::SyncFailed { code, message });
        }
    }
    result
}

/// Pushes the outbox until it is empty (operations recorded meanwhile included).
async fn push_all(
    mgr: &ConversationManager,
    transport: &dyn Transport,
    options: &SyncOptions,
    full_due: &mut bool,
) -> Result<()> {
    loop {
        let batch: Vec<PendingOperation> = outbox(mgr, |o| o.first(options.push_batch_size));
        if batch.is_empty() {
            return Ok(());
        }
        match transport.push(batch.clone()).await {
            Ok(response) => {
                let answered = mgr
                    .write_bulk(1, move |tx| Ok(reconcile::apply_push(tx, response)))
                    .await?;
                if answered == 0 {
                    return Err(Error::Sync(TransportError::refused(
                        crate::ErrorCode::ServerInternal,
                        "the server answered none of the pushed operations",
                    )));
                }
            }
            Err(err) if err.retryable => return Err(err.into()),
            Err(err) => {
                // The server refuses the whole push: every operation in it is rejected, and
                // only a full resync can tell what the server has.
                let rejected = batch.clone();
                let reason = err.clone();
                mgr.write_bulk(1, move |tx| {
                    reconcile::reject_all(tx, &rejected, &reason);
                    Ok(())
                })
                .await?;
                *full_due = true;
                return Err(err.into());
            }
        }
    }
}

/// Pulls every change since the bookmark (or everything, for a full resync).
async fn pull_all(
    mgr: &ConversationManager,
    transport: &dyn Transport,
    options: &SyncOptions,
    full_due: &mut bool,
) -> Result<()> {
    let bookmark = outbox(mgr, |o| o.bookmark().cloned());
    let clock = mgr.shared().read_index().order_clock();
    let mut since: Option<Bookmark> = if *full_due { None } else { bookmark };
    let mut full = since.is_none();
    let mut everything: Vec<RemoteChange> = Vec::new();
    // The previous page's write, submitted and not yet answered.
    let mut previous: Option<BoxFuture<'_, Result<()>>> = None;
    let mut answer = transport
        .pull(since.clone(), options.pull_page_size)
        .await?;
    loop {
        let page = match answer {
            PullResponse::TooFarBehind if !full => {
                tracing::info!("sync: too far behind the server; full resync");
                if let Some(write) = previous.take() {
                    write.await?;
                }
                full = true;
                everything.clear();
                answer = transport.pull(None, options.pull_page_size).await?;
                continue;
            }
            PullResponse::TooFarBehind => {
                return Err(Error::Sync(TransportError::refused(
                    crate::ErrorCode::ServerInternal,
                    "the server answered a full pull with TooFarBehind",
                )));
            }
            PullResponse::Page(page) => page,
        };
        let more = page.has_more;
        if more && since.as_ref() == Some(&page.bookmark) {
            // More to come from where this page started: the same page would come again, for
            // ever. A server bug; the cycle fails (and is retried with backoff).
            return Err(Error::Sync(TransportError::refused(
                crate::ErrorCode::ServerInternal,
                "the server asked for more from a bookmark it did not move",
            )));
        }
        let from = since.replace(page.bookmark.clone());
        if full {
            everything.extend(page.changes);
            // Nothing is written until the last page: give other tasks their turn between
            // pages, whatever the transport's futures do.
            tokio::task::yield_now().await;
            if more {
                answer = transport
                    .pull(since.clone(), options.pull_page_size)
                    .await?;
                continue;
            }
            let changes = std::mem::take(&mut everything);
            mgr.write_bulk(1, move |tx| {
                reconcile::apply_full(tx, changes, clock);
                tx.set_bookmark(page.bookmark);
                Ok(())
            })
            .await?;
            *full_due = false;
            return Ok(());
        }
        // Each page is one transaction holding its changes and the bookmark after them. It is
        // handed to the writer as soon as it arrives, so the writer plans it while the page
        // before it commits, and the next page is fetched meanwhile. A page applies only on top
        // of the bookmark it was pulled from: if the page before it failed, it is not applied
        // past it (the cycle fails with that page's error and the next one pulls from there).
        let mut write = mgr
            .write_bulk(1, move |tx| {
                if tx.bookmark() != from.as_ref() {
                    return Err(Error::Internal(
                        "a pulled page does not follow the stored bookmark".into(),
                    ));
                }
                for change in page.changes {
                    reconcile::apply_remote(tx, change);
                }
                tx.set_bookmark(page.bookmark);
                Ok(())
            })
            .boxed();
        // Its first poll submits it, behind the page before it.
        if let Poll::Ready(done) = futures::poll!(&mut write) {
            write = futures::future::ready(done).boxed();
        }
        let before = previous.take();
        let before = async move {
            match before {
                Some(write) => write.await,
                None => Ok(()),
            }
        };
        if !more {
            before.await?;
            return write.await;
        }
        let (written, next) = tokio::join!(
            before,
            transport.pull(since.clone(), options.pull_page_size)
        );
        written?;
        answer = next?;
        previous = Some(write);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine::new(&SyncOptions::default().backoff_jitter(false))
    }

    #[test]
    fn starts_ready_to_pull_and_idles_after_a_cycle() {
        let mut m = machine();
        assert!(m.may_act(false));
        assert_eq!(m.work(false, false), Work::Cycle);
        m.finished(Work::Cycle, Outcome::Done, true);
        assert_eq!(m.state, State::Idle);
        assert!(!m.may_act(false));
        assert_eq!(
            m.work(false, true),
            Work::Push,
            "a local change pushes only"
        );
        m.hinted();
        assert_eq!(m.state, State::Ready);
        assert_eq!(m.work(false, false), Work::Cycle);
    }

    #[test]
    fn a_failure_backs_off_longer_each_time_until_a_success() {
        let mut m = machine();
        // The wait the next failure would get.
        let upcoming = |m: &Machine| m.backoff.clone().next_wait();
        let ms = Duration::from_millis;
        m.finished(Work::Cycle, Outcome::Failed { disconnected: true }, false);
        assert!(m.retry_at().is_some());
        assert_eq!(upcoming(&m), ms(400));
        assert!(
            !m.may_act(false) && m.may_act(true),
            "only a request cuts it short"
        );
        m.wake(false);
        assert!(matches!(m.state, State::BackingOff { .. }));
        m.backoff_over();
        m.finished(
            Work::Cycle,
            Outcome::Failed {
                disconnected: false,
            },
            true,
        );
        assert_eq!(upcoming(&m), ms(800));
        assert!(m.pull_due);
        m.backoff_over();
        m.finished(Work::Cycle, Outcome::Done, true);
        assert_eq!(m.state, State::Idle);
        assert_eq!(upcoming(&m), ms(200), "a success resets it");
    }

    #[test]
    fn without_an_event_stream_it_retries_the_connection_later() {
        let mut m = machine();
        m.finished(Work::Cycle, Outcome::Done, false);
        assert!(matches!(m.state, State::BackingOff { .. }));
        assert!(!m.pull_due, "the cycle itself succeeded");
        m.backoff_over();
        m.connected();
        assert_eq!(
            m.work(false, false),
            Work::Cycle,
            "a new stream pulls what it missed"
        );
    }
}
