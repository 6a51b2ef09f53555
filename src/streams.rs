//! The plumbing the crate's streams share: every stream the manager hands out is `Send + Sync`,
//! a [`FusedStream`], and ends when the manager shuts down.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::{BoxStream, FusedStream};
use sync_wrapper::SyncStream;
use tokio::sync::{broadcast, watch};

/// A boxed stream made `Sync` (it is only ever polled through `&mut`) and fused: once it has
/// ended it stays ended.
pub(crate) struct Ending<T> {
    inner: SyncStream<BoxStream<'static, T>>,
    done: bool,
}

impl<T: Send + 'static> Ending<T> {
    pub(crate) fn new(inner: BoxStream<'static, T>) -> Self {
        Self {
            inner: SyncStream::new(inner),
            done: false,
        }
    }
}

impl<T> Stream for Ending<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.done {
            return Poll::Ready(None);
        }
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(None) = next {
            self.done = true;
        }
        next
    }
}

impl<T> FusedStream for Ending<T> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

/// Resolves once the manager has shut down (or its last handle is gone): the writer sets the
/// flag after its last commit, so everything published before is already in the channels.
async fn closed(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|closed| *closed).await;
}

/// A watch on a value: yields the current one first, then each new one ("latest wins": a
/// consumer that polls slowly sees the newest value, possibly skipping some in between). Ends
/// when the manager shuts down, after the last value set before it.
pub(crate) fn watch_values<T>(rx: watch::Receiver<T>, flag: watch::Receiver<bool>) -> Ending<T>
where
    T: Clone + Send + Sync + 'static,
{
    Ending::new(Box::pin(futures::stream::unfold(
        (rx, flag, true),
        |(mut rx, flag, first)| async move {
            if !first {
                tokio::select! {
                    biased;
                    changed = rx.changed() => changed.ok()?,
                    () = closed(flag.clone()) => {
                        if !rx.has_changed().unwrap_or(false) {
                            return None;
                        }
                    }
                }
            }
            let value = rx.borrow_and_update().clone();
            Some((value, (rx, flag, false)))
        },
    )))
}

/// Receives from a broadcast channel: `Err(missed)` when the consumer fell behind. Ends when
/// the manager shuts down, after the items published before it.
pub(crate) fn broadcast_items<T>(
    rx: broadcast::Receiver<T>,
    flag: watch::Receiver<bool>,
) -> Ending<Result<T, u64>>
where
    T: Clone + Send + 'static,
{
    Ending::new(Box::pin(futures::stream::unfold(
        (rx, flag),
        |(mut rx, flag)| async move {
            let item = tokio::select! {
                biased;
                item = rx.recv() => match item {
                    Ok(item) => Ok(item),
                    Err(broadcast::error::RecvError::Lagged(missed)) => Err(missed),
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                () = closed(flag.clone()) => match rx.try_recv() {
                    Ok(item) => Ok(item),
                    Err(broadcast::error::TryRecvError::Lagged(missed)) => Err(missed),
                    Err(_) => return None,
                },
            };
            Some((item, (rx, flag)))
        },
    )))
}
