//! The forwarder: hands a session's events, in their C form, to the callback thread.
//!
//! A task of the library reads the manager's events (published after each change is stored,
//! in commit order) as they come. A call's job also hands on, itself, whatever is published
//! and not yet handed on before it posts the call's callback ([`Forwarder::catch_up`]), so a
//! callback always comes after the listener calls for the events of its change, without waiting
//! for the task to be scheduled. Both take the events under one lock and post them while
//! holding it, so they reach the callback thread in commit order, each once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures::StreamExt;
use timconv::{ConversationFilter, ConversationId, ConversationManager, Event, EventStream};
use tokio::sync::oneshot;

use crate::delivery::CallbackThread;
use crate::listeners::{c_event, deliver};

/// The task that forwards a session's events to the callback thread.
pub(crate) struct Forwarder {
    feed: Arc<Feed>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// What the task and the calls' jobs share.
struct Feed {
    state: Mutex<FeedState>,
    manager: ConversationManager,
    callbacks: Arc<CallbackThread>,
    filter_texts: Arc<Mutex<HashMap<ConversationFilter, String>>>,
}

struct FeedState {
    events: EventStream,
    /// The task's waker, for polling the stream on its behalf: whoever polls it, the task is
    /// woken when the next event is published.
    waker: Option<Waker>,
}

impl Feed {
    fn lock(&self) -> MutexGuard<'_, FeedState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Posts every event published so far, polling with `cx`; `Ready` when the stream ended.
    fn pump(&self, state: &mut FeedState, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match state.events.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(event))) => self.forward(event),
                Poll::Ready(Some(Err(lagged))) => {
                    tracing::warn!(missed = lagged.missed, "listeners missed events");
                }
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Posts what is published so far, on the task's behalf (it stays registered for more).
    fn drain(&self) {
        let mut state = self.lock();
        let waker = state.waker.clone().unwrap_or_else(|| Waker::noop().clone());
        let _ = self.pump(&mut state, &mut Context::from_waker(&waker));
    }

    /// Posts the C form of `event` to the callback thread, if it has one.
    fn forward(&self, event: Event) {
        let lookup = |id: &ConversationId| self.manager.get(id);
        let filter_text = |filter: &ConversationFilter| {
            let texts = self
                .filter_texts
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            texts.get(filter).cloned().unwrap_or_else(|| {
                serde_json::to_string(filter).unwrap_or_else(|_| "{}".to_owned())
            })
        };
        if let Some(c) = c_event(event, &lookup, &filter_text) {
            self.callbacks.post(Box::new(move || deliver(c)));
        }
    }
}

impl Forwarder {
    /// Starts forwarding `manager`'s events from now on; a filter's text comes from
    /// `filter_texts`.
    pub(crate) fn start(
        manager: &ConversationManager,
        callbacks: &Arc<CallbackThread>,
        filter_texts: &Arc<Mutex<HashMap<ConversationFilter, String>>>,
    ) -> Self {
        let feed = Arc::new(Feed {
            state: Mutex::new(FeedState {
                events: manager.events(),
                waker: None,
            }),
            manager: manager.clone(),
            callbacks: Arc::clone(callbacks),
            filter_texts: Arc::clone(filter_texts),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn({
            let feed = Arc::clone(&feed);
            async move {
                let pumped = std::future::poll_fn(|cx| {
                    let mut state = feed.lock();
                    state.waker = Some(cx.waker().clone());
                    feed.pump(&mut state, cx)
                });
                tokio::select! {
                    biased;
                    () = pumped => {}
                    // Everything committed before the stop has been published: hand on what
                    // is still buffered, then end.
                    _ = stopped => feed.drain(),
                }
            }
        });
        Self { feed, stop, task }
    }

    /// Posts to the callback thread every event published so far that is not posted yet, so
    /// that what is posted next (a call's callback) comes after the listeners' calls.
    pub(crate) fn catch_up(&self) {
        self.feed.drain();
    }

    /// Forwards the events already published, then stops.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(err) = self.task.await {
            tracing::error!(error = %err, "the event forwarder failed");
        }
    }
}
