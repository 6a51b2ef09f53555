//! A live list as its caller holds it: the first window, a stream of diffs and a controller.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use eyeball_im::{Vector, VectorDiff};
use futures::stream::FusedStream;
use futures::{Stream, StreamExt};

use super::diff::transition;
use super::registry::Subscription;
use super::window::ListKey;
use crate::error::Result;
use crate::filter::ConversationFilter;
use crate::model::{Conversation, ConversationId};

/// One change to a live list's window: insert, remove or replace a row at an index, append
/// rows, truncate, or reset the whole window. Rows are shared records.
pub type LiveListDiff = VectorDiff<Arc<Conversation>>;

/// Where a live list subscribes to windows: the manager.
pub(crate) trait Source: Send + Sync {
    /// The rows of `key`'s window now and its diffs from now on, atomically; `None` once the
    /// manager has shut down.
    fn subscribe(&self, key: &ListKey) -> Option<(Vector<Arc<Conversation>>, Subscription)>;
    /// Ends one subscription to `key`'s window.
    fn unsubscribe(&self, key: &ListKey);
}

/// A live list from [`ConversationManager::watch_list`](crate::ConversationManager::watch_list):
/// its first window, the diffs that keep a copy of it exact, and the controller that changes
/// its filter, its size and the conversations it keeps visible.
///
/// Destructure it to hand each part to who needs it:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), timconv::Error> {
/// use futures::StreamExt;
/// use timconv::live::LiveList;
/// use timconv::{ConversationFilter, ConversationId, ConversationManager, Message};
///
/// let manager = ConversationManager::builder().in_memory().self_user_id("me").open().await?;
/// let LiveList { window, mut diffs, .. } = manager.watch_list(&ConversationFilter::new(), 10)?;
/// let mut rows = window;
/// assert!(rows.is_empty());
///
/// let alice = ConversationId::c2c("alice")?;
/// let mut hello = Message::text("m1", "hello");
/// hello.server_time = Some(1_700_000_000);
/// manager.ingest_message(&alice, hello).await?;
///
/// for diff in diffs.next().await.unwrap_or_default() {
///     diff.apply(&mut rows);
/// }
/// assert_eq!(rows[0].id, alice);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct LiveList {
    /// The first rows of the list when it was created, in list order.
    pub window: Vector<Arc<Conversation>>,
    /// The diffs that follow, one batch per item.
    pub diffs: LiveListStream,
    /// Changes the filter, the size and the kept-visible conversations.
    pub controller: LiveListController,
}

/// What the controller asks for; the stream follows it.
#[derive(Debug)]
struct Control {
    wanted: ListKey,
    /// Rows per page: the size the list was created with.
    page: usize,
    /// Bumped by every change of `wanted`.
    generation: u64,
    /// Bumped by every change of the filter.
    filter_generation: u64,
    /// The stream's waker, to tell it the controller changed something.
    waker: Option<Waker>,
}

fn lock(control: &Mutex<Control>) -> MutexGuard<'_, Control> {
    control.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LiveList {
    pub(crate) fn new(
        source: Weak<dyn Source>,
        key: ListKey,
        window: Vector<Arc<Conversation>>,
        subscription: Subscription,
    ) -> Self {
        let control = Arc::new(Mutex::new(Control {
            wanted: key.clone(),
            page: key.size,
            generation: 0,
            filter_generation: 0,
            waker: None,
        }));
        LiveList {
            diffs: LiveListStream {
                control: Arc::clone(&control),
                source,
                key,
                inner: Some(subscription),
                copy: window.clone(),
                seen: 0,
                seen_filter: 0,
            },
            controller: LiveListController { control },
            window,
        }
    }
}

/// The diffs of a live list: a [`Stream`] of batches of [`LiveListDiff`].
///
/// Applied in order to a copy of [`LiveList::window`], each batch leaves the copy equal to the
/// first rows of the list after some committed change, as
/// [`list`](crate::ConversationManager::list) of the same filter and size would return them
/// (plus the conversations kept visible). A batch may cover several changes committed while the
/// stream was not polled. A consumer that falls more than 128 changes behind receives one
/// [`VectorDiff::Reset`] with the current window instead of the diffs it missed, never a wrong
/// list. Changes asked of the [`LiveListController`] arrive here too: a filter change as a
/// reset, a page more as an append, a conversation kept or released as the inserts and removes
/// it causes.
///
/// The stream ends when the manager shuts down (after the diffs already sent). Dropping it ends
/// the live list; the controller then has no effect.
#[must_use = "streams do nothing unless polled"]
pub struct LiveListStream {
    control: Arc<Mutex<Control>>,
    source: Weak<dyn Source>,
    /// The window subscribed to.
    key: ListKey,
    /// `None` once ended.
    inner: Option<Subscription>,
    /// The window as the consumer has it: the first window plus every batch yielded.
    copy: Vector<Arc<Conversation>>,
    /// The controller generation followed.
    seen: u64,
    seen_filter: u64,
}

impl std::fmt::Debug for LiveListStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveListStream")
            .field("filter", &self.key.filter)
            .field("size", &self.key.size)
            .field("rows", &self.copy.len())
            .finish_non_exhaustive()
    }
}

impl LiveListStream {
    /// Follows the controller if it changed something: moves to the window it asks for and
    /// returns the diffs from the consumer's copy to it. `Err` when the manager is gone.
    fn follow(&mut self, cx: &Context<'_>) -> std::result::Result<Vec<LiveListDiff>, ()> {
        let (wanted, generation, filter_generation) = {
            let mut control = lock(&self.control);
            if !control
                .waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                control.waker = Some(cx.waker().clone());
            }
            if control.generation == self.seen {
                return Ok(Vec::new());
            }
            (
                control.wanted.clone(),
                control.generation,
                control.filter_generation,
            )
        };
        self.seen = generation;
        if wanted == self.key {
            // Changed and changed back: nothing to send.
            self.seen_filter = filter_generation;
            return Ok(Vec::new());
        }
        let source = self.source.upgrade().ok_or(())?;
        let (values, subscription) = source.subscribe(&wanted).ok_or(())?;
        source.unsubscribe(&std::mem::replace(&mut self.key, wanted));
        self.inner = Some(subscription);
        let diffs = if filter_generation == self.seen_filter {
            transition(&self.copy, &values)
        } else {
            self.seen_filter = filter_generation;
            vec![VectorDiff::Reset {
                values: values.clone(),
            }]
        };
        self.copy = values;
        Ok(diffs)
    }

    fn end(&mut self) {
        if self.inner.take().is_some()
            && let Some(source) = self.source.upgrade()
        {
            source.unsubscribe(&self.key);
        }
    }
}

impl Stream for LiveListStream {
    type Item = Vec<LiveListDiff>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.inner.is_none() {
            return Poll::Ready(None);
        }
        match this.follow(cx) {
            Err(()) => {
                this.end();
                return Poll::Ready(None);
            }
            Ok(diffs) if !diffs.is_empty() => return Poll::Ready(Some(diffs)),
            Ok(_) => {}
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match inner.poll_next_unpin(cx) {
            Poll::Ready(Some(batch)) => {
                for diff in &batch {
                    diff.clone().apply(&mut this.copy);
                }
                Poll::Ready(Some(batch))
            }
            Poll::Ready(None) => {
                this.end();
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl FusedStream for LiveListStream {
    fn is_terminated(&self) -> bool {
        self.inner.is_none()
    }
}

impl Drop for LiveListStream {
    fn drop(&mut self) {
        self.end();
    }
}

/// Changes a live list: its filter, its size (a page at a time) and the conversations it keeps
/// visible. Cheap to clone; clones control the same list.
///
/// A change takes effect in the [`LiveListStream`] the next time it is polled, as diffs from
/// what the consumer has to the new window.
///
/// **Keeping a conversation visible.** A kept conversation stays in the list whether or not it
/// matches the filter, at its place in the list order, until it is released: the open chat of an
/// "unread" list does not vanish when it is read. The window holds the first rows of the
/// conversations that match the filter or are kept, so a kept row counts toward the window's
/// size. Releasing it removes it (with a diff) if it no longer matches.
#[derive(Debug, Clone)]
pub struct LiveListController {
    control: Arc<Mutex<Control>>,
}

impl LiveListController {
    /// Applies `change` to what the list asks for; if it changed, wakes the stream.
    fn change(&self, change: impl FnOnce(&mut Control) -> bool) {
        let mut control = lock(&self.control);
        if change(&mut control) {
            control.generation += 1;
            if let Some(waker) = control.waker.take() {
                waker.wake();
            }
        }
    }

    /// Shows the list of `filter` instead, from its first page (the stream sends a
    /// [`VectorDiff::Reset`]). Kept-visible conversations stay kept.
    ///
    /// # Errors
    /// [`Error::ReservedMarkBits`](crate::Error::ReservedMarkBits) (6017) for a mark criterion
    /// with reserved bits; the list is unchanged.
    pub fn set_filter(&self, filter: ConversationFilter) -> Result<()> {
        filter.validate()?;
        self.change(|c| {
            let filter_changed = c.wanted.filter != filter;
            let changed = filter_changed || c.wanted.size != c.page;
            if filter_changed {
                c.wanted.filter = filter;
                c.filter_generation += 1;
            }
            c.wanted.size = c.page;
            changed
        });
        Ok(())
    }

    /// Grows the window by one page (the size the list was created with): "load more". The
    /// stream appends the rows that come in, if there are more.
    pub fn add_one_page(&self) {
        self.change(|c| {
            c.wanted.size = c.wanted.size.saturating_add(c.page);
            true
        });
    }

    /// Shrinks the window back to its first page.
    pub fn reset_to_one_page(&self) {
        self.change(|c| {
            let changed = c.wanted.size != c.page;
            c.wanted.size = c.page;
            changed
        });
    }

    /// Keeps conversation `id` in the list, at its place in the list order, even when it does
    /// not match the filter, until [`release`](Self::release)d. Keeping one that does not
    /// exist yet keeps it once it does.
    pub fn keep_visible(&self, id: &ConversationId) {
        self.change(|c| c.wanted.kept.insert(id.clone()));
    }

    /// Stops keeping `id` visible: it leaves the list (with a diff) if it does not match the
    /// filter.
    pub fn release(&self, id: &ConversationId) {
        self.change(|c| c.wanted.kept.remove(id));
    }

    /// Stops keeping any conversation visible.
    pub fn release_all(&self) {
        self.change(|c| {
            let changed = !c.wanted.kept.is_empty();
            c.wanted.kept = BTreeSet::new();
            changed
        });
    }

    /// The filter the list shows (the last one asked for).
    #[must_use]
    pub fn filter(&self) -> ConversationFilter {
        lock(&self.control).wanted.filter.clone()
    }

    /// How many rows the window holds at most (the last size asked for).
    #[must_use]
    pub fn window_size(&self) -> usize {
        lock(&self.control).wanted.size
    }

    /// The conversations kept visible, in ID order.
    #[must_use]
    pub fn kept_visible(&self) -> Vec<ConversationId> {
        lock(&self.control).wanted.kept.iter().cloned().collect()
    }
}
