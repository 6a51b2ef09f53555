//! Every live window and conversation watch of a manager, updated by its writer.
//!
//! Equal live lists (same filter, window size and kept-visible set) share one [`Window`]: the
//! writer updates it once per change, and each subscriber receives the same diffs.
//! Subscribing happens under the index lock (read), updating under its write lock, so that a
//! subscription's first rows and its first diff have no change between them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use eyeball_im::{Vector, VectorSubscriberBatchedStream};
use tokio::sync::watch;

use super::window::{ListKey, Window};
use crate::index::{Index, Touched};
use crate::model::{Conversation, ConversationId};

/// The diffs of one live window from the moment it was subscribed.
pub(crate) type Subscription = VectorSubscriberBatchedStream<Arc<Conversation>>;

#[derive(Default)]
pub(crate) struct Registry {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Set when the manager shuts down: no new subscription, and every stream has ended.
    closed: bool,
    windows: HashMap<ListKey, Shared>,
    watches: HashMap<ConversationId, watch::Sender<Option<Arc<Conversation>>>>,
}

/// A window and how many live lists show it.
struct Shared {
    window: Window,
    users: usize,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Registry")
            .field("windows", &state.windows.len())
            .field("watches", &state.watches.len())
            .finish()
    }
}

impl Registry {
    /// The registry. A panic elsewhere cannot leave a window half-updated in a way later
    /// changes would not repair (each update is one transaction), so a poisoned lock is used.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Subscribes to the window of `key` (shared with equal ones), creating it from `index`;
    /// call it under the index lock. `None` once closed.
    pub(crate) fn subscribe(
        &self,
        index: &Index,
        key: &ListKey,
    ) -> Option<(Vector<Arc<Conversation>>, Subscription)> {
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        let shared = state.windows.entry(key.clone()).or_insert_with(|| Shared {
            window: Window::new(key.clone(), index),
            users: 0,
        });
        shared.users += 1;
        Some(shared.window.subscribe().into_values_and_batched_stream())
    }

    /// Ends one subscription to the window of `key`; the last one drops the window.
    pub(crate) fn unsubscribe(&self, key: &ListKey) {
        let mut state = self.lock();
        if let Some(shared) = state.windows.get_mut(key) {
            shared.users = shared.users.saturating_sub(1);
            if shared.users == 0 {
                state.windows.remove(key);
            }
        }
    }

    /// Watches conversation `id` from its state in `index`; call it under the index lock.
    /// `None` once closed.
    pub(crate) fn watch(
        &self,
        index: &Index,
        id: &ConversationId,
    ) -> Option<watch::Receiver<Option<Arc<Conversation>>>> {
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        // Forget the watches nobody holds any more.
        state
            .watches
            .retain(|_, sender| sender.receiver_count() > 0);
        let sender = state
            .watches
            .entry(id.clone())
            .or_insert_with(|| watch::Sender::new(index.get(id).cloned()));
        Some(sender.subscribe())
    }

    /// Updates every window and watch after a committed change; `index` is the state after it.
    /// Called by the writer under the index's write lock.
    pub(crate) fn apply(&self, index: &Index, touched: &[Touched]) {
        if touched.is_empty() {
            return;
        }
        let mut guard = self.lock();
        let state = &mut *guard;
        for shared in state.windows.values_mut() {
            shared.window.apply(index, touched);
        }
        if state.watches.is_empty() {
            return;
        }
        for t in touched {
            let Some(id) = t.after.as_ref().or(t.before.as_ref()).map(|c| &c.id) else {
                continue;
            };
            if let Some(sender) = state.watches.get(id) {
                if sender.receiver_count() == 0 {
                    state.watches.remove(id);
                } else {
                    sender.send_replace(t.after.clone());
                }
            }
        }
    }

    /// Ends every live list and watch (their streams end once they have yielded what was
    /// already sent) and refuses new ones.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.windows.clear();
        state.watches.clear();
    }

    /// How many distinct windows are kept up to date.
    pub(crate) fn window_count(&self) -> usize {
        self.lock().windows.len()
    }
}
