//! Streams over `tokio::sync::watch` values (the unread and sync-status watches).

use futures::stream::BoxStream;
use tokio::sync::watch;

/// A watch on a value: yields the current one first, then each new one ("latest wins": a
/// consumer that polls slowly sees the newest value, possibly skipping some in between). Ends
/// when the manager is gone.
pub(crate) fn watch_values<T>(rx: watch::Receiver<T>) -> BoxStream<'static, T>
where
    T: Clone + Send + Sync + 'static,
{
    Box::pin(futures::stream::unfold(
        (rx, true),
        |(mut rx, first)| async move {
            if !first {
                rx.changed().await.ok()?;
            }
            let value = rx.borrow_and_update().clone();
            Some((value, (rx, false)))
        },
    ))
}
