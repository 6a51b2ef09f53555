//! The sync task: one loop per manager that pushes, pulls and listens, one thing at a time.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use super::reconcile;
use super::{SyncOptions, SyncStatus};
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
    // Pull on start.
    let mut pull_due = true;
    let mut full_due = false;
    let mut waiters: Vec<oneshot::Sender<Result<()>>> = Vec::new();
    let mut backoff = options.initial_backoff;
    let mut retry_at: Option<Instant> = None;
    // A pull now and then even when the server says nothing: its hints can be lost.
    let mut poll_at = options.poll_interval.map(after);
    loop {
        let Some(mgr) = manager.upgrade() else { break };
        if mgr.is_closed() {
            break;
        }
        let asked = !waiters.is_empty();
        let waiting = retry_at.is_some_and(|at| Instant::now() < at);
        let mut unconnected = false;
        let outcome = if waiting && !asked {
            None
        } else {
            if events.is_none() {
                match transport.connect().await {
                    Ok(stream) => {
                        events = Some(stream);
                        pull_due = true;
                    }
                    Err(err) => {
                        tracing::debug!(error = %err, "sync: cannot connect");
                        unconnected = true;
                    }
                }
            }
            if pull_due || full_due || asked {
                Some(cycle(&mgr, transport.as_ref(), &options, &mut full_due).await)
            } else if mgr.pending_operations() > 0 {
                Some(push_all(&mgr, transport.as_ref(), &options, &mut full_due).await)
            } else {
                None
            }
        };
        match outcome {
            Some(Ok(())) if unconnected => {
                // Calls work but the push stream does not: try it again later.
                pull_due = false;
                retry_at = Some(after(backoff));
                backoff = backoff.saturating_mul(2).min(options.max_backoff);
                for w in waiters.drain(..) {
                    let _ = w.send(Ok(()));
                }
            }
            Some(Ok(())) => {
                if pull_due || asked {
                    poll_at = options.poll_interval.map(after);
                }
                pull_due = false;
                backoff = options.initial_backoff;
                retry_at = None;
                for w in waiters.drain(..) {
                    let _ = w.send(Ok(()));
                }
            }
            Some(Err(Error::Closed)) => break,
            Some(Err(err)) => {
                // A push between cycles that fails shows too (a cycle's failure is set already).
                mgr.set_sync_status(SyncStatus::Failed {
                    code: err.code(),
                    message: err.to_string(),
                });
                tracing::debug!(error = %err, retry_in = ?backoff, "sync failed; will retry");
                if matches!(&err, Error::Sync(e) if e.code == crate::ErrorCode::NetworkDisconnected)
                {
                    events = None;
                }
                pull_due = true;
                retry_at = Some(after(backoff));
                backoff = backoff.saturating_mul(2).min(options.max_backoff);
                for w in waiters.drain(..) {
                    let _ = w.send(Err(err.clone()));
                }
            }
            None if unconnected => {
                retry_at = Some(after(backoff));
                backoff = backoff.saturating_mul(2).min(options.max_backoff);
            }
            None => {}
        }
        drop(mgr);
        tokio::select! {
            () = wake.notified() => {}
            request = control.recv() => match request {
                Some(Control::Sync(reply)) => waiters.push(reply),
                Some(Control::Stop) | None => break,
            },
            event = next_event(&mut events) => match event {
                Some(ServerEvent::Message { conversation, message }) => {
                    let Some(mgr) = manager.upgrade() else { break };
                    if let Err(err) = mgr.ingest_message(&conversation, message).await {
                        if matches!(err, Error::Closed) {
                            break;
                        }
                        tracing::warn!(error = %err, "sync: a pushed message was refused");
                    }
                }
                Some(ServerEvent::Changed) => pull_due = true,
                None => {
                    events = None;
                    pull_due = true;
                }
            },
            () = sleep_until(retry_at), if retry_at.is_some() => retry_at = None,
            () = sleep_until(poll_at), if poll_at.is_some() && retry_at.is_none() => {
                pull_due = true;
                poll_at = options.poll_interval.map(after);
            }
        }
    }
    for w in waiters {
        let _ = w.send(Err(Error::Closed));
    }
    tracing::debug!("sync task stopped");
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
            let (code, message) = (err.code(), err.to_string());
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
        let batch: Vec<PendingOperation> =
            mgr.shared().lock_outbox().first(options.push_batch_size);
        if batch.is_empty() {
            return Ok(());
        }
        match transport.push(batch.clone()).await {
            Ok(response) => {
                let answered = mgr
                    .write(move |tx| Ok(reconcile::apply_push(tx, response)))
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
                mgr.write(move |tx| {
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
    let bookmark = mgr.shared().lock_outbox().bookmark().cloned();
    let clock = mgr.shared().read_index().order_clock();
    let mut since: Option<Bookmark> = if *full_due { None } else { bookmark };
    let mut full = since.is_none();
    let mut everything: Vec<RemoteChange> = Vec::new();
    let mut answer = transport
        .pull(since.clone(), options.pull_page_size)
        .await?;
    loop {
        let page = match answer {
            PullResponse::TooFarBehind if !full => {
                tracing::info!("sync: too far behind the server; full resync");
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
        since = Some(page.bookmark.clone());
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
            mgr.write(move |tx| {
                reconcile::apply_full(tx, changes, clock);
                tx.set_bookmark(page.bookmark);
                Ok(())
            })
            .await?;
            *full_due = false;
            return Ok(());
        }
        // Each page is one transaction holding its changes and the bookmark after them. The
        // next page is fetched while this one is applied (the writes stay in page order).
        let write = mgr.write(move |tx| {
            for change in page.changes {
                reconcile::apply_remote(tx, change);
            }
            tx.set_bookmark(page.bookmark);
            Ok(())
        });
        if !more {
            return write.await;
        }
        let (written, next) =
            tokio::join!(write, transport.pull(since.clone(), options.pull_page_size));
        written?;
        answer = next?;
    }
}
